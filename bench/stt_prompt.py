"""Which Whisper prompt helps on a phone line: every turn of the rendered evaluation calls
(scripts/render_dialogs.py), transcribed under each prompt variant, scored on what the brain needs.

    .venv/bin/python scripts/render_dialogs.py            # once
    .venv/bin/python bench/stt_prompt.py [--split dev blind] [--limit N] [--variants none names ...]

Per variant, over the turns that say each item (judged on the turn's written text):
- resident: a word of the expected resident's name is heard (the directory's own sound match);
- apartment: the expected apartment number is among the number readings of the best reading,
  and of any reading (N-best);
- visitor: the visitor's name, as `apoena simulate` compares names, in the best reading and in any;
- leak: turns whose best reading holds two or more prompt items (names or apartment numbers)
  that the speaker did not say — the prompt read back as speech;
- WER of the best reading after accent/case folding; median ms per turn.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rapidfuzz.distance import Levenshtein  # noqa: E402

from concierge.apps.visitor import same_slot  # noqa: E402
from concierge.brain.directory import Directory, tokens_match  # noqa: E402
from concierge.brain.numbers import readings, tokens  # noqa: E402
from concierge.brain.text import fold  # noqa: E402
from concierge.speech.whisper import WhisperOptions, WhisperTranscriber, directory_prompt  # noqa: E402

EVAL = ROOT / ".apoena" / "eval"
BYTES_PER_SECOND = 16000
EDGE_SECONDS = 0.3


def _names_only(directory: Directory) -> str:
    names, _ = directory.prompt_terms()
    return directory_prompt(names, [])


def _bare_names(directory: Directory) -> str:
    names, _ = directory.prompt_terms()
    return ", ".join(dict.fromkeys(names))[:400]


def _bare_all(directory: Directory) -> str:
    names, apartments = directory.prompt_terms()
    return (", ".join(dict.fromkeys(names))[:240] + ". " + ", ".join(apartments))[:400]


def _current(directory: Directory) -> str:
    return directory_prompt(*directory.prompt_terms())


def _natural(directory: Directory) -> str:
    return "Portaria do condomínio. Boa tarde, é uma entrega para o apartamento 104. Meu nome é Carlos."


VARIANTS: dict[str, Callable[[Directory], str | None]] = {
    "none": lambda _: None,
    "current": _current,
    "names": _names_only,
    "bare-names": _bare_names,
    "bare-all": _bare_all,
    "natural": _natural,
}


def turns_of(split: str, limit: int | None) -> list[tuple[dict, bytes, dict]]:
    """(call sidecar, turn audio, turn) for every scripted turn of the split's rendered calls."""
    found = []
    for sidecar in sorted((EVAL / split).glob("*.json"))[:limit]:
        meta = json.loads(sidecar.read_text())
        pcm = sidecar.with_suffix(".slin").read_bytes()
        for turn in meta["turns"]:
            start = max(0, int((turn["start_seconds"] - EDGE_SECONDS) * BYTES_PER_SECOND) & ~1)
            end = int((turn["end_seconds"] + EDGE_SECONDS) * BYTES_PER_SECOND) & ~1
            found.append((meta, pcm[start:end], turn))
    return found


def numbers_in(text: str) -> set[str]:
    return {reading.value for reading in readings(tokens(text))}


def wer(said: str, heard: str) -> tuple[int, int]:
    reference = fold(said).split()
    return Levenshtein.distance(reference, fold(heard).split()), len(reference)


def name_heard(name: str, text: str) -> bool:
    words = fold(text).split()
    return any(tokens_match(word, part) for part in fold(name).split() if len(part) > 2 for word in words)


def visitor_heard(name: str, text: str) -> bool:
    first = name.split()[0]  # compared word by word
    return any(same_slot("visitor_name", first, word) for word in re.findall(r"\w+", text))


def leaked(prompt: str | None, said: str, heard: str) -> bool:
    if not prompt:
        return False
    items = {fold(item) for item in re.split(r"[,.:]", prompt) if item.strip()} - {"moradores", "apartamentos"}
    said_folded, heard_folded = fold(said), fold(heard)
    extra = [item for item in items if len(item) > 1 and item in heard_folded and item not in said_folded]
    return len(extra) >= 2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", nargs="+", default=["dev", "blind"])
    parser.add_argument("--limit", type=int, default=None, help="calls per split")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--turns", default=None, help="only turns whose text matches this regex (e.g. '^(Meu nome|Sou)')")
    args = parser.parse_args()
    transcriber = WhisperTranscriber(WhisperOptions())
    directories: dict[str, Directory] = {}
    work = [item for split in args.split for item in turns_of(split, args.limit)]
    if args.turns:
        work = [item for item in work if re.search(args.turns, item[2]["text"])]
    if not work:
        sys.exit(f"no rendered calls under {EVAL}: run scripts/render_dialogs.py first")
    print(f"{len(work)} turns from {args.split}")
    transcriber.transcribe(work[0][1])
    scores = {variant: dict.fromkeys(("resident", "resident_n", "apt", "apt_any", "apt_n", "visitor", "visitor_any", "visitor_n", "leak", "err", "words"), 0) for variant in args.variants}
    times: dict[str, list[float]] = {variant: [] for variant in args.variants}
    for meta, pcm, turn in work:
        path = meta["directory"]
        directory = directories.setdefault(path, Directory.load(Path(path)))
        expected, said = meta["expected"], turn["text"]
        for variant in args.variants:
            prompt = VARIANTS[variant](directory)
            started = time.perf_counter()
            heard = transcriber.transcribe(pcm, prompt)
            times[variant].append((time.perf_counter() - started) * 1000)
            score = scores[variant]
            resident = expected.get("resident_name")
            if resident and name_heard(resident, said):
                score["resident_n"] += 1
                score["resident"] += name_heard(resident, heard.text)
            apartment = re.sub(r"^.*-", "", str(expected.get("apartment_number") or ""))
            if apartment and apartment in numbers_in(said):
                score["apt_n"] += 1
                score["apt"] += apartment in numbers_in(heard.text)
                score["apt_any"] += any(apartment in numbers_in(text) for text in (heard.text, *heard.alternatives))
            visitor = expected.get("visitor_name")
            if visitor and fold(visitor) in fold(said):
                score["visitor_n"] += 1
                score["visitor"] += visitor_heard(visitor, heard.text)
                score["visitor_any"] += any(visitor_heard(visitor, text) for text in (heard.text, *heard.alternatives))
            score["leak"] += leaked(prompt, said, heard.text)
            errors, words = wer(said, heard.text)
            score["err"] += errors
            score["words"] += words
    print("| prompt | resident | apartment (best / any) | visitor (best / any) | leaks | WER | ms p50 |")
    print("|---|---|---|---|---|---|---|")
    for variant in args.variants:
        s = scores[variant]
        print(
            f"| {variant} | {s['resident']}/{s['resident_n']} | {s['apt']} / {s['apt_any']} of {s['apt_n']} | "
            f"{s['visitor']} / {s['visitor_any']} of {s['visitor_n']} | {s['leak']} | {100 * s['err'] / max(1, s['words']):.1f} % | "
            f"{statistics.median(times[variant]):.0f} |"
        )


if __name__ == "__main__":
    main()
