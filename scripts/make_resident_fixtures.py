#!/usr/bin/env python3
"""Regenerate the resident answers in ``fixtures/resident/`` for `apoena simulate --resident`.

Each answer is what a resident says (or keys) to "Posso liberar?": RHVoice Letícia-F123
through the phone band, exactly as ``scripts/make_fixtures.py`` renders the visitor calls
(its `synthesize`), at -20 dBFS RMS, with 0.3 s of quiet before and 1.0 s after. A keypad
answer is 0.5 s of quiet and its digit, pressed by the simulated resident as AudioSocket DTMF.
Each ``<name>.json`` holds the text (or digits) and the decision it must lead to.

A mailbox or the carrier's message (``MAILBOXES``) is said the moment the call is answered
(``"speaks_first": true``), without waiting to be asked; a mailbox ends with its beep and the quiet
of a recording. Its sidecar says the attempt must end as ``voicemail`` (the next dial string is
tried) and, alone, the visit as ``no_answer``.

Usage::

    .venv/bin/python scripts/make_resident_fixtures.py            # every answer
    .venv/bin/python scripts/make_resident_fixtures.py caixa_postal # only these
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
    ("pode_subir", "Pode subir, pode entrar.", "", "authorized", 95),  # "Pode subir, pode subir." was heard "Pode sumir" by Whisper base
    ("libera", "Ah, libera sim, tô esperando.", "", "authorized", 105),
    ("nao_conheco", "Não conheço, não.", "", "denied", 100),
    ("manda_embora", "Não, pode mandar embora.", "", "denied", 95),
    ("deixa_na_portaria", "Deixa na portaria, por favor.", "", "leave_at_gate", 100),
    ("ja_desco", "Pede pra esperar, que eu já desço.", "", "resident_coming", 100),
    ("keypad_1", "", "1", "authorized", 100),
    ("keypad_2", "", "2", "denied", 100),
]
MAILBOXES = [  # (name, what the recording says, beep at the end, speaking rate %)
    ("caixa_postal", "Olá, você ligou para a Joana. No momento não posso atender. Deixe sua mensagem após o sinal.", True, 100),
    ("fora_de_area", "O número que você ligou está desligado ou fora da área de cobertura. Por favor, tente ligar mais tarde.", False, 105),
    ("recado_longo", "Oi, aqui é a Joana e o Pedro, a gente está viajando essa semana e só volta na segunda-feira, "
                     "então fala o seu nome e o seu telefone que a gente liga assim que puder, um beijo e até mais", True, 110),
]
BEEP_HZ, BEEP_SECONDS = 1000.0, 0.4


def main() -> int:
    _need("RHVoice-test")
    _need("sox")
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    only = set(sys.argv[1:])
    with tempfile.TemporaryDirectory() as scratch:
        for name, text, beep, rate in MAILBOXES:
            if only and name not in only:
                continue
            speech = synthesize(text, rate, Path(scratch))
            speech *= _dbfs_to_amp(LEVEL_DBFS) / _rms(speech)
            tail = [np.zeros(int(0.3 * RATE))]
            if beep:
                t = np.arange(int(BEEP_SECONDS * RATE)) / RATE
                tail += [_dbfs_to_amp(LEVEL_DBFS) * np.sqrt(2) * np.sin(2 * np.pi * BEEP_HZ * t)]
            audio = np.concatenate([np.zeros(int(0.2 * RATE)), speech, *tail, np.zeros(int(2.0 * RATE))])
            (OUT_DIR / f"{name}.slin").write_bytes(to_s16(audio).tobytes())
            sidecar = {"text": text, "dtmf": "", "speaks_first": True, "expected_attempt": "voicemail", "expected_decision": "no_answer"}
            (OUT_DIR / f"{name}.json").write_text(json.dumps(sidecar, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
            print(f"fixtures/resident/{name}.slin  {len(audio) / RATE:4.2f} s  {text}  -> voicemail")
        for name, text, digits, decision, rate in ANSWERS:
            if only and name not in only:
                continue
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
