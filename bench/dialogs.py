"""How well the brain understands typed dialogs, per split: tuned, dev, blind.

Each dialog is played through the brain with an in-process memory (no Redis: this measures
understanding, not storage), the visitor answering read-backs truthfully. Prints, per split:
dialogs right, accuracy per slot, dialogs that ended valid for the wrong apartment or resident
(must be 0), read-backs and keypad requests asked, and the median time a turn takes.

    .venv/bin/python bench/dialogs.py                 # every split
    .venv/bin/python bench/dialogs.py --split blind --failures   # and list what went wrong
    .venv/bin/python bench/dialogs.py --brain crewai  # the LLM brain (needs LLM_* settings)
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from concierge.apps.visitor import SLOTS, asks_for_keypad, asks_to_confirm  # noqa: E402
from concierge.brain.rules import RulesBrain  # noqa: E402
from tests.brain.dialogs import SPLITS, check_final, dialog_directory, load_dialogs, play, wrongly_valid  # noqa: E402


def make_brain(kind: str, directory):
    if kind == "rules":
        return RulesBrain(directory)
    from concierge.brain.factory import make_brain as factory
    from concierge.config import load_config

    return factory(kind, directory, load_config(None))  # the crewai brain times its model at start: bench/llm.py shares one


def evaluate(split: str, brain_kind: str) -> dict:
    dialogs = load_dialogs(split)
    results = []
    turn_ms: list[float] = []
    for dialog in dialogs:
        brain = make_brain(brain_kind, dialog_directory(dialog["directory_path"]))
        said, replies = play(brain, dialog, lambda seconds: turn_ms.append(seconds * 1000))
        results.append((dialog, said, replies, check_final(dialog, replies[-1])))
    return {"split": split, "results": results, "turn_ms": turn_ms}


def report(outcome: dict, show_failures: bool) -> None:
    results = outcome["results"]
    right = sum(1 for *_, mismatches in results if not mismatches)
    wrong_valid = [r for r in results if wrongly_valid(r[0], r[2][-1])]
    slot_total = {slot: 0 for slot in (*SLOTS, "valid_for_action")}
    slot_right = dict.fromkeys(slot_total, 0)
    for dialog, _, _, mismatches in results:
        for slot in slot_total:
            if slot in dialog["expect"]:
                slot_total[slot] += 1
                slot_right[slot] += not any(m.startswith(f"{slot}:") for m in mismatches)
    read_backs = sum(1 for _, _, replies, _ in results for r in replies if asks_to_confirm(r.mensagem))
    keypads = sum(1 for _, _, replies, _ in results for r in replies if asks_for_keypad(r.mensagem))
    count = len(results)
    print(f"\n== {outcome['split']}: {right}/{count} dialogs right ({100 * right / max(count, 1):.1f} %)")
    print("   per slot: " + ", ".join(f"{s} {100 * slot_right[s] / slot_total[s]:.0f} %" for s in slot_total if slot_total[s]))
    print(f"   valid for the wrong apartment/resident: {len(wrong_valid)}")
    print(f"   read-backs asked: {read_backs}, keypad requests: {keypads}")
    if outcome["turn_ms"]:
        print(f"   brain turn p50 {statistics.median(outcome['turn_ms']):.2f} ms")
    for dialog, said, replies, _ in wrong_valid:
        print(f"   !! WRONGLY VALID {dialog['name']}: {replies[-1].dados.model_dump(mode='json')}")
    if show_failures:
        for dialog, said, replies, mismatches in results:
            if mismatches:
                print(f"\n-- {dialog['file']} :: {dialog['name']} ({Path(dialog['directory_path']).name}): {'; '.join(mismatches)}")
                for utterance, reply in zip(said, replies):
                    print(f"   V: {utterance}\n   C: {reply.mensagem}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=list(SPLITS), action="append")
    parser.add_argument("--brain", default="rules")
    parser.add_argument("--failures", action="store_true", help="print every dialog that ended wrong")
    args = parser.parse_args()
    for split in args.split or list(SPLITS):
        report(evaluate(split, args.brain), args.failures)


if __name__ == "__main__":
    main()
