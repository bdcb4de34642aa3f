#!/usr/bin/env python3
"""Render text dialogs into evaluation calls that `apoena simulate` and `bench/calls.py` play.

The dialogs are the JSON files in ``tests/dialogs/`` (split ``tuned``: the set the rules brain
was written against), ``tests/dialogs/dev/`` (``dev``) and ``tests/dialogs/blind/batch*/``
(``blind``): lists of ``{"name", "directory"?, "turns", "if_asked"?, "expect"}``. For each
chosen dialog this script

1. synthesizes every visitor turn with RHVoice Letícia-F123 at a speaking rate and pitch drawn
   for that dialog (``RHVoice-test -r/-t``); some turns are split at a comma with a real pause
   (0.5-1.0 s) inside, as people do when they think;
2. passes it through a phone band (sox ``rate 8000``, ``sinc 300-3400``, float, so no dither),
   trims the synthesizer's own silence and sets a speech level (-24 to -17 dBFS RMS);
3. renders the visitor's answers to a read-back, "yes" (``if_asked.confirm_yes`` or "Sim.") and
   "no" (``if_asked.confirm_no``, else what ``concierge.apps.visitor`` says), after the turns,
   and the plain answers a visitor still at the gate gives when asked again once the script has
   run out (``concierge.apps.visitor.question_answers``: "É uma entrega.", "Meu nome é Rosa.",
   "Bloco B.", "É para Neide Bastos, apartamento 201." — the last only for a visit that may
   happen), all kept in the sidecar's ``if_asked``;
4. lays it all out with quiet gaps, adds noise over the whole call (band-limited pink noise or
   white line hiss at 12-25 dB SNR against the speech RMS, seeded numpy) and ends with a few
   seconds of quiet line (``idle``: what the caller's line carries while it listens: a faint
   hiss at -60 dBFS; ``--line-noise call`` keeps the call's noise there too, which then also
   runs under the concierge's replies and tests its endpointer and barge-in on a noisy line);
5. writes ``<out>/<split>/<name>.slin`` (8 kHz s16le mono) and ``<name>.json``: ``turns`` with
   times, ``answers`` and ``idle`` spans, ``dtmf`` (a turn typed on the keypad, like "301#"),
   ``expected`` (the dialog's ``expect``), ``if_asked``, ``directory`` (absolute path),
   ``split``, ``source``, and the voice and noise used.

Which dialogs: every blind one if there are fewer than 60, plus dev ones (seeded sample) to
reach 80; otherwise a seeded sample of 50 blind and 30 dev (at least 40 blind). Plus a seeded
sample of ``--tuned`` (12) dialogs from the tuned set, for comparison. Everything is seeded:
the same dialogs and seed give byte-identical calls.

Usage::

    .venv/bin/python scripts/render_dialogs.py [--out .apoena/eval] [--seed 20251202] [--tuned 12]
    .venv/bin/python scripts/render_dialogs.py --manifest .apoena/eval/manifest.json   # the same calls again
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import shutil
import subprocess
import sys
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from make_fixtures import band_noise  # noqa: E402  the fixtures' phone-band noise, the same numbers

from concierge.apps.visitor import QUESTIONS, question_answers, spoken_answers  # noqa: E402

DIALOGS = ROOT / "tests" / "dialogs"
DEFAULT_DIRECTORY = ROOT / "data" / "apartamentos.json"
RATE = 8000
VOICE = "Leticia-F123"
LEAD_IN_SECONDS = 0.6
GAP_SECONDS = 1.8  # between turns (the reactive caller waits for the concierge instead)
KEYPAD_GAP_SECONDS = 3.0  # a typed turn: quiet while the digits are sent
IDLE_SECONDS = 3.0
LINE_HISS_DBFS = -60.0  # the idle line's hiss (RMS) unless --line-noise call
TAIL_SECONDS = 0.5
KEYPAD_TURN = re.compile(r"^\s*[0-9*#]+\s*$")


@dataclass(frozen=True)
class Dialog:
    split: str
    source: Path  # the dialog file
    index: int  # position in that file
    data: dict

    @property
    def name(self) -> str:
        stem = self.source.stem if self.split != "blind" else f"{self.source.parent.name}_{self.source.stem}"
        return re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{stem}__{self.data.get('name') or self.index}")

    @property
    def directory(self) -> Path:
        name = self.data.get("directory")
        return (self.source.parent / "directories" / name).resolve() if name else DEFAULT_DIRECTORY


@dataclass(frozen=True)
class Voice:
    rate: int  # RHVoice -r, percent
    pitch: int  # RHVoice -t, percent
    level_dbfs: float
    noise: str  # "pink" | "hiss"
    snr_db: float


# --------------------------------------------------------------------------------------------
# Choosing dialogs
# --------------------------------------------------------------------------------------------


def load_split(split: str, files: list[Path]) -> list[Dialog]:
    dialogs = []
    for path in files:
        try:
            items = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            print(f"skipping {path.relative_to(ROOT)}: {error}", file=sys.stderr)
            continue
        for index, item in enumerate(items if isinstance(items, list) else []):
            if isinstance(item, dict) and item.get("turns") and isinstance(item.get("expect"), dict):
                dialogs.append(Dialog(split, path, index, item))
    return dialogs


def all_dialogs() -> dict[str, list[Dialog]]:
    return {
        "tuned": load_split("tuned", sorted(DIALOGS.glob("*.json"))),
        "dev": load_split("dev", sorted((DIALOGS / "dev").glob("*.json"))),
        "blind": load_split("blind", sorted(DIALOGS.glob("blind/batch*/*.json"))),
    }


def choose(found: dict[str, list[Dialog]], seed: int, tuned: int) -> list[Dialog]:
    rng = random.Random(seed)
    blind, dev = found["blind"], found["dev"]
    if len(blind) < 60:
        chosen_blind = list(blind)
        chosen_dev = rng.sample(dev, min(len(dev), max(0, 80 - len(blind))))
    else:
        chosen_dev = rng.sample(dev, min(len(dev), 30))
        chosen_blind = rng.sample(blind, max(40, 80 - len(chosen_dev)))
    chosen_tuned = rng.sample(found["tuned"], min(tuned, len(found["tuned"])))
    order = {"tuned": 0, "dev": 1, "blind": 2}
    return sorted(chosen_tuned + chosen_dev + chosen_blind, key=lambda d: (order[d.split], str(d.source), d.index))


# --------------------------------------------------------------------------------------------
# Audio
# --------------------------------------------------------------------------------------------


def seed_of(*parts: object) -> int:
    return zlib.crc32("/".join(str(p) for p in parts).encode("utf-8"))


def voice_for(dialog: Dialog, seed: int) -> Voice:
    rng = random.Random(seed_of(seed, dialog.split, dialog.name, "voice"))
    return Voice(
        rate=rng.randint(88, 112),
        pitch=rng.randint(88, 114),
        level_dbfs=round(rng.uniform(-24.0, -17.0), 1),
        noise=rng.choice(("pink", "hiss")),
        snr_db=round(rng.uniform(12.0, 25.0), 1),
    )


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if len(x) else 0.0


def db_to_amp(db: float) -> float:
    return 10.0 ** (db / 20.0)


class Synth:
    """RHVoice -> phone band, cached on disk by (text, rate, pitch): re-rendering is fast."""

    def __init__(self, cache: Path) -> None:
        self.cache = cache
        cache.mkdir(parents=True, exist_ok=True)

    def __call__(self, text: str, voice: Voice) -> np.ndarray:
        key = hashlib.sha256(f"{VOICE}|{voice.rate}|{voice.pitch}|{text}".encode()).hexdigest()[:24]
        path = self.cache / f"{key}.f32"
        if not path.exists():
            with tempfile.TemporaryDirectory(prefix="apoena-render-") as tmp:
                wav = Path(tmp) / "tts.wav"
                subprocess.run(
                    ["RHVoice-test", "-p", VOICE, "-r", str(voice.rate), "-t", str(voice.pitch), "-o", str(wav)],
                    input=text.encode("utf-8"), check=True, stdout=subprocess.DEVNULL,
                )  # fmt: skip
                raw = subprocess.run(
                    ["sox", "-V1", str(wav), "-t", "raw", "-e", "floating-point", "-b", "32", "-L", "-c", "1", "-",
                     "rate", str(RATE), "sinc", "300-3400"],
                    check=True, stdout=subprocess.PIPE,
                ).stdout  # fmt: skip
            path.write_bytes(raw)
        x = np.frombuffer(path.read_bytes(), dtype="<f4").astype(np.float64)
        return trim(x)


def trim(x: np.ndarray, floor_db: float = -40.0, margin_s: float = 0.03) -> np.ndarray:
    hop = RATE // 100
    n = len(x) // hop
    if n == 0:
        return x
    frames = np.sqrt(np.mean(x[: n * hop].reshape(n, hop) ** 2, axis=1))
    loud = np.nonzero(frames > frames.max() * db_to_amp(floor_db))[0]
    if not len(loud):
        return x
    margin = int(margin_s * RATE)
    return x[max(0, loud[0] * hop - margin) : min(len(x), (loud[-1] + 1) * hop + margin)]


def split_at_comma(text: str, rng: random.Random) -> tuple[str, str] | None:
    """Where a person would stop to think: after a comma with words on both sides."""
    commas = [m.end() for m in re.finditer(r",\s+", text) if 6 <= m.start() and len(text) - m.end() >= 6]
    if not commas:
        return None
    at = rng.choice(commas)
    return text[:at].strip(), text[at:].strip()


def render(dialog: Dialog, seed: int, synth: Synth, pause_share: float, line_noise: str = "hiss") -> tuple[np.ndarray, dict]:
    voice = voice_for(dialog, seed)
    rng = random.Random(seed_of(seed, dialog.split, dialog.name, "pauses"))
    level = db_to_amp(voice.level_dbfs)

    def speech(text: str) -> np.ndarray:
        x = synth(text, voice)
        return x * (level / max(rms(x), 1e-9))

    pieces: list[np.ndarray] = [np.zeros(int(LEAD_IN_SECONDS * RATE))]
    pos = len(pieces[0])
    spoken: list[tuple[int, int]] = []
    turns, dtmf = [], []

    def put(x: np.ndarray) -> None:
        nonlocal pos
        pieces.append(x)
        pos += len(x)

    skipped = []
    for number, text in enumerate(dialog.data["turns"]):
        if not re.search(r"\w", text):  # "!!!???": nothing a voice can say
            skipped.append(text)
            continue
        if number:
            put(np.zeros(int(GAP_SECONDS * RATE)))
        if KEYPAD_TURN.match(text):
            dtmf.append({"at_seconds": round(pos / RATE + 0.5, 3), "digits": text.strip()})
            put(np.zeros(int(KEYPAD_GAP_SECONDS * RATE)))
            continue
        start = pos
        halves = split_at_comma(text, rng) if rng.random() < pause_share else None
        turn = {"text": text}
        if halves:
            first, second = speech(halves[0]), speech(halves[1])
            pause = round(rng.uniform(0.5, 1.0), 2)
            put(first)
            spoken.append((pos - len(first), pos))
            put(np.zeros(int(pause * RATE)))
            put(second)
            spoken.append((pos - len(second), pos))
            turn["pause_inside_seconds"] = pause
            turn["pause_after"] = halves[0]
        else:
            x = speech(text)
            put(x)
            spoken.append((start, pos))
        turns.append({**turn, "start_seconds": round(start / RATE, 3), "end_seconds": round(pos / RATE, 3)})

    answers = {}
    if_asked = {**question_answers(dialog.data["expect"]), **(dialog.data.get("if_asked") or {})}
    said = {**spoken_answers(dialog.data["expect"], if_asked), **{k: if_asked[k] for k in QUESTIONS if k in if_asked}}
    for kind, text in said.items():
        put(np.zeros(int(GAP_SECONDS * RATE)))
        x = speech(text)
        put(x)
        spoken.append((pos - len(x), pos))
        answers[kind] = {"text": text, "start_seconds": round((pos - len(x)) / RATE, 3), "end_seconds": round(pos / RATE, 3)}

    put(np.zeros(int(1.0 * RATE)))
    idle_start = pos
    put(np.zeros(int(IDLE_SECONDS * RATE)))
    idle = {"start_seconds": round(idle_start / RATE, 3), "end_seconds": round(pos / RATE, 3)}
    put(np.zeros(int(TAIL_SECONDS * RATE)))
    audio = np.concatenate(pieces)

    speech_rms = rms(np.concatenate([audio[a:b] for a, b in spoken]))
    noise = band_noise(len(audio), seed_of(seed, dialog.split, dialog.name, voice.noise), pink=voice.noise == "pink")
    noise *= speech_rms / db_to_amp(voice.snr_db)
    a, b = idle_start, idle_start + int(IDLE_SECONDS * RATE)
    if line_noise == "hiss":  # the quiet line: faint hiss, as between the fixtures' turns
        noise[a:b] = band_noise(b - a, seed_of(seed, dialog.name, "line"), pink=False) * db_to_amp(LINE_HISS_DBFS)
    audio = audio + noise
    peak = float(np.max(np.abs(audio)))
    if peak > 0.89:
        audio *= 0.89 / peak

    meta = {
        "name": dialog.data.get("name") or str(dialog.index),
        "split": dialog.split,
        "source": str(dialog.source.relative_to(ROOT)),
        "description": f"{dialog.split} dialog rendered with RHVoice {VOICE}, phone band, {voice.noise} noise",
        "voice": {"engine": f"RHVoice {VOICE}", "rate": voice.rate, "pitch": voice.pitch, "level_dbfs": voice.level_dbfs,
                  "noise": voice.noise, "snr_db": voice.snr_db},  # fmt: skip
        "turns": turns,
        **({"unspeakable_turns": skipped} if skipped else {}),
        **({"dtmf": dtmf} if dtmf else {}),
        "answers": answers,
        "idle": {**idle, "noise": "the call's" if line_noise == "call" else f"line hiss at {LINE_HISS_DBFS:g} dBFS"},
        "if_asked": if_asked,
        "expected": dialog.data["expect"],
        "directory": str(dialog.directory),
    }
    return audio, meta


def to_s16(x: np.ndarray) -> bytes:
    return np.clip(np.round(x * 32767.0), -32768, 32767).astype("<i2").tobytes()


# --------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=ROOT / ".apoena" / "eval", help="output folder (default .apoena/eval)")
    ap.add_argument("--seed", type=int, default=20251202)
    ap.add_argument("--tuned", type=int, default=12, help="how many tuned-set dialogs to add for comparison")
    ap.add_argument("--pauses", type=float, default=0.3, help="share of turns with a comma split by a real pause")
    ap.add_argument("--line-noise", choices=("hiss", "call"), default="hiss",
                    help="what the caller's line carries while it listens: faint hiss (default), or the call's own "
                         "noise, which also tests the endpointer on a noisy line")  # fmt: skip
    ap.add_argument("--manifest", type=Path, default=None,
                    help="render exactly the calls an earlier run's manifest.json lists (the dialog sets grow)")  # fmt: skip
    ap.add_argument("--list", action="store_true", help="only print which dialogs would be rendered")
    args = ap.parse_args(argv)

    found = all_dialogs()
    chosen = choose(found, args.seed, args.tuned)
    if args.manifest is not None:
        wanted = json.loads(args.manifest.read_text(encoding="utf-8"))["calls"]
        every = {f"{d.split}/{d.name}": d for dialogs in found.values() for d in dialogs}
        missing = [name for name in wanted if name not in every]
        if missing:
            sys.exit(f"error: {len(missing)} dialog(s) of the manifest are gone: {', '.join(missing[:5])}")
        chosen = [every[name] for name in wanted]
    counts = {split: sum(1 for d in chosen if d.split == split) for split in found}
    print(f"found: {', '.join(f'{k} {len(v)}' for k, v in found.items())}; "
          f"chosen: {', '.join(f'{k} {v}' for k, v in counts.items())} (seed {args.seed})")  # fmt: skip
    names = [f"{d.split}/{d.name}" for d in chosen]
    if len(set(names)) != len(names):
        sys.exit("error: two dialogs render to the same file name; rename one")
    missing = sorted({str(d.directory) for d in chosen if not d.directory.is_file()})
    if missing:
        sys.exit(f"error: directory file(s) not found: {', '.join(missing)}")
    if args.list:
        print("\n".join(names))
        return 0
    for tool in ("RHVoice-test", "sox"):
        if shutil.which(tool) is None:
            sys.exit(f"error: `{tool}` not found (Debian: rhvoice rhvoice-brazilian-portuguese sox)")

    synth = Synth(args.out / ".tts-cache")
    for split in found:
        folder = args.out / split
        if folder.exists():  # a fresh set: no stale calls from an earlier selection
            for old in folder.glob("*.slin"):
                old.unlink()
                old.with_suffix(".json").unlink(missing_ok=True)
    total = 0.0
    for number, dialog in enumerate(chosen, 1):
        audio, meta = render(dialog, args.seed, synth, args.pauses, args.line_noise)
        folder = args.out / dialog.split
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{dialog.name}.slin").write_bytes(to_s16(audio))
        (folder / f"{dialog.name}.json").write_text(json.dumps(meta, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        seconds = len(audio) / RATE
        total += seconds
        pauses = sum(1 for t in meta["turns"] if "pause_inside_seconds" in t)
        print(f"[{number}/{len(chosen)}] {dialog.split}/{dialog.name}.slin  {seconds:5.1f} s  {len(meta['turns'])} turn(s)"
              f"{f', {pauses} with a pause' if pauses else ''}  {meta['voice']['noise']} {meta['voice']['snr_db']} dB", flush=True)  # fmt: skip
    manifest = {
        "seed": args.seed,
        "tuned": args.tuned,
        "pauses": args.pauses,
        "line_noise": args.line_noise,
        "found": {k: len(v) for k, v in found.items()},
        "chosen": counts,
        "calls": names,
    }
    (args.out / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"{len(chosen)} calls, {total / 60:.1f} min of audio in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
