"""The CrewAI brain against a real model, beside the rules brain, on the same typed dialogs.

Each dialog is played through both brains with an in-process memory, the visitor answering
read-backs and keypad requests truthfully (`tests/brain/dialogs.py`). The model is the one
configured as for `apoena` (LLM_MODEL, LLM_BASE_URL, LLM_API_KEY, or brain.llm in a config
file); it is timed once at start, as `apoena serve` does, and that fits its timeouts. Prints,
per brain: dialogs right, dialogs valid for the wrong apartment or resident (must be 0), seconds
per turn; for the CrewAI brain, how many turns asked the model, how many of those failed, which
slots the model offered and which came out different from the rules reading alone; then every
dialog whose outcome differs between the two brains. A model at ~20 s a call makes a whole split
take hours: `--sample N` plays a seeded sample. `--json FILE` keeps the results, written after
every dialog so an interrupted run keeps what it measured.

    LLM_MODEL=qwen2.5-coder-1.5b LLM_BASE_URL=http://127.0.0.1:8000/v1 \\
        .venv/bin/python bench/llm.py --split blind1 --sample 32 --seed 9 --json llm-blind1.json
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from concierge.brain.directory import Directory  # noqa: E402
from concierge.brain.memory import Conversation  # noqa: E402
from concierge.brain.rules import RulesBrain  # noqa: E402
from concierge.config import load_config  # noqa: E402
from tests.brain.dialogs import SPLITS, check_final, dialog_directory, load_dialogs, run_dialog, wrongly_valid  # noqa: E402


class CrewBrains:
    """One CrewAI brain per directory, all sharing the one model measured at start."""

    def __init__(self, config_path: Path | None) -> None:
        self.config = load_config(config_path)
        self.brains: dict[str, object] = {}
        self.first = None

    def for_directory(self, directory: Directory):
        from concierge.brain.crew import CrewBrain, make_crew_brain

        key = id(directory)
        if key not in self.brains:
            if self.first is None:
                self.first = make_crew_brain(directory, self.config)
                self.brains[key] = self.first
            else:
                self.brains[key] = CrewBrain(directory, self.first.llm, self.first.deadline_seconds, self.first.stack)
        return self.brains[key]

    def tally(self) -> Counter:
        total: Counter = Counter()
        for brain in self.brains.values():
            total.update(brain.tally)
        return total


def play(brain, dialog: dict) -> dict:
    """One dialog through one brain: what was said and answered, what went wrong, seconds per turn."""
    conversation = Conversation(id=dialog["name"])
    seconds: list[float] = []

    def respond(utterance: str):
        started = time.perf_counter()
        conversation.add("visitor", utterance)
        reply = brain.respond(conversation, utterance)
        conversation.add("concierge", reply.mensagem)
        seconds.append(time.perf_counter() - started)
        return reply

    said, replies = run_dialog(respond, dialog)
    return {
        "mismatches": check_final(dialog, replies[-1]),
        "wrongly_valid": wrongly_valid(dialog, replies[-1]),
        "seconds": seconds,
        "turns": [[utterance, reply.mensagem] for utterance, reply in zip(said, replies)],
        "dados": replies[-1].dados.model_dump(mode="json"),
    }


def summary(label: str, runs: list[dict]) -> dict:
    seconds = [s for run in runs for s in run["seconds"]]
    return {
        "brain": label,
        "dialogs": len(runs),
        "right": sum(1 for run in runs if not run["mismatches"]),
        "wrongly_valid": sum(1 for run in runs if run["wrongly_valid"]),
        "turns": len(seconds),
        "seconds_per_turn_p50": round(statistics.median(seconds), 3) if seconds else None,
        "seconds_per_turn_mean": round(statistics.fmean(seconds), 3) if seconds else None,
        "seconds_per_turn_max": round(max(seconds), 3) if seconds else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=list(SPLITS), default="blind1")
    parser.add_argument("--sample", type=int, default=0, help="play a seeded sample of N dialogs (0: all)")
    parser.add_argument("--seed", type=int, default=9)
    parser.add_argument("--config", type=Path, default=None, help="config.json with brain.llm (default: the usual)")
    parser.add_argument("--json", type=Path, default=None, help="write the results here, after every dialog")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    dialogs = load_dialogs(args.split)
    if args.sample and args.sample < len(dialogs):
        dialogs = random.Random(args.seed).sample(dialogs, args.sample)
    started = time.perf_counter()
    crew = CrewBrains(args.config)
    crew.for_directory(dialog_directory(dialogs[0]["directory_path"]))
    print(f"model {crew.config.brain.llm.model!r} ready in {time.perf_counter() - started:.1f} s; "
          f"turn deadline {crew.first.deadline_seconds:g} s", file=sys.stderr)  # fmt: skip

    results = []
    for index, dialog in enumerate(dialogs, 1):
        directory = dialog_directory(dialog["directory_path"])
        rules = play(RulesBrain(directory), dialog)
        model = play(crew.for_directory(directory), dialog)
        results.append({"name": dialog["name"], "file": dialog["file"], "rules": rules, "crewai": model})
        mark = lambda run: "right" if not run["mismatches"] else "WRONG"  # noqa: E731
        print(f"[{index}/{len(dialogs)}] {dialog['name']}: rules {mark(rules)}, crewai {mark(model)} "
              f"({sum(model['seconds']):.0f} s, {len(model['seconds'])} turns)", file=sys.stderr, flush=True)  # fmt: skip
        if args.json:
            write(args.json, args, results, crew)
    report(results, crew.tally(), args)
    if args.json:
        write(args.json, args, results, crew)


def write(path: Path, args: argparse.Namespace, results: list[dict], crew: CrewBrains) -> None:
    payload = {
        "split": args.split, "sample": args.sample, "seed": args.seed, "model": crew.config.brain.llm.model,
        "turn_deadline_seconds": crew.first.deadline_seconds,
        "rules": summary("rules", [r["rules"] for r in results]),
        "crewai": summary("crewai", [r["crewai"] for r in results]),
        "tally": dict(crew.tally()), "dialogs": results,
    }  # fmt: skip
    path.write_text(json.dumps(payload, ensure_ascii=False, indent=1))


def report(results: list[dict], tally: Counter, args: argparse.Namespace) -> None:
    print(f"\n== {args.split}: {len(results)} dialogs" + (f" (seeded sample, seed {args.seed})" if args.sample else ""))
    for label in ("rules", "crewai"):
        s = summary(label, [r[label] for r in results])
        print(f"   {label:<7} {s['right']}/{s['dialogs']} right, wrongly valid {s['wrongly_valid']}, "
              f"{s['turns']} turns, s/turn p50 {s['seconds_per_turn_p50']} mean {s['seconds_per_turn_mean']} "
              f"max {s['seconds_per_turn_max']}")  # fmt: skip
    offered = {k.removeprefix("offered_"): v for k, v in tally.items() if k.startswith("offered_")}
    changed = {k.removeprefix("changed_"): v for k, v in tally.items() if k.startswith("changed_")}
    print(f"   model asked in {tally['model_calls']} of {tally['turns']} turns, failed {tally['model_failures']}; "
          f"slots offered {offered or '{}'}, slots changed from the rules reading {changed or '{}'}")  # fmt: skip
    for result in results:
        rules_right, model_right = not result["rules"]["mismatches"], not result["crewai"]["mismatches"]
        if rules_right != model_right:
            print(f"\n-- {result['file']} :: {result['name']}: rules {'right' if rules_right else 'wrong'}, "
                  f"crewai {'right' if model_right else 'wrong'}: {'; '.join(result['crewai']['mismatches'])}")  # fmt: skip
            for utterance, message in result["crewai"]["turns"]:
                print(f"   V: {utterance}\n   C: {message}")


if __name__ == "__main__":
    main()
