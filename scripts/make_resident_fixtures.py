#!/usr/bin/env python3
"""Regenerate the resident answers in ``fixtures/resident/`` for `apoena simulate --resident`.

Each answer is what a resident says (or keys) to "Posso liberar?": RHVoice Letícia-F123
through the phone band, exactly as ``scripts/make_fixtures.py`` renders the visitor calls
(its `synthesize`), at -20 dBFS RMS, with 0.3 s of quiet before and 1.0 s after. A keypad
answer is 0.5 s of quiet and its digit, pressed by the simulated resident as AudioSocket DTMF.
Each ``<name>.json`` holds the text (or digits) and the decision it must lead to.

Usage::

    .venv/bin/python scripts/make_resident_fixtures.py
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_fixtures import RATE, _dbfs_to_amp, _need, _rms, synthesize, to_s16  # noqa: E402

OUT_DIR = Path(__file__).resolve().parent.parent / "fixtures" / "resident"
LEVEL_DBFS = -20.0

ANSWERS = [  # (name, what is said, keys pressed, the decision, speaking rate %)
    ("sim", "Sim, pode.", "", "authorized", 100),
    ("pode_subir", "Pode subir, pode subir.", "", "authorized", 95),
    ("libera", "Ah, libera sim, tô esperando.", "", "authorized", 105),
    ("nao_conheco", "Não conheço, não.", "", "denied", 100),
    ("manda_embora", "Não, pode mandar embora.", "", "denied", 95),
    ("deixa_na_portaria", "Deixa na portaria, por favor.", "", "leave_at_gate", 100),
    ("ja_desco", "Pede pra esperar, que eu já desço.", "", "resident_coming", 100),
    ("keypad_1", "", "1", "authorized", 100),
    ("keypad_2", "", "2", "denied", 100),
]


def main() -> int:
    _need("RHVoice-test")
    _need("sox")
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        for name, text, digits, decision, rate in ANSWERS:
            if text:
                speech = synthesize(text, rate, Path(scratch))
                speech *= _dbfs_to_amp(LEVEL_DBFS) / _rms(speech)
                audio = np.concatenate([np.zeros(int(0.3 * RATE)), speech, np.zeros(int(1.0 * RATE))])
            else:
                audio = np.zeros(int(0.5 * RATE))
            (OUT_DIR / f"{name}.slin").write_bytes(to_s16(audio).tobytes())
            sidecar = {"text": text, "dtmf": digits, "expected_decision": decision}
            (OUT_DIR / f"{name}.json").write_text(json.dumps(sidecar, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
            print(f"fixtures/resident/{name}.slin  {len(audio) / RATE:4.2f} s  {text or 'keys ' + digits}  -> {decision}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
