"""Benchmark the rules brain: one turn (alone, and with Redis memory), and `apoena chat` cold start.

    .venv/bin/python bench/brain.py [--rounds 20] [--starts 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from concierge.brain.concierge import Concierge  # noqa: E402
from concierge.brain.directory import Directory  # noqa: E402
from concierge.brain.memory import Conversation, open_store  # noqa: E402
from concierge.brain.rules import RulesBrain  # noqa: E402
from concierge.config import RedisConfig  # noqa: E402


def dialogs() -> list[list[str]]:
    return [d["turns"] for f in sorted((ROOT / "tests" / "dialogs").glob("*.json")) for d in json.loads(f.read_text())]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def turn_times(rounds: int) -> list[float]:
    brain = RulesBrain(Directory.load(ROOT / "data" / "apartamentos.json"))
    times = []
    for _ in range(rounds):
        for turns in dialogs():
            conversation = Conversation(id="bench")
            for text in turns:
                start = time.perf_counter()
                brain.respond(conversation, text)
                times.append((time.perf_counter() - start) * 1000)
    return times


def turn_times_with_memory(rounds: int) -> list[float]:
    directory = Directory.load(ROOT / "data" / "apartamentos.json")
    with tempfile.TemporaryDirectory() as folder:
        store = open_store(RedisConfig(embedded_path=Path(folder) / "bench.db"))
        concierge = Concierge(RulesBrain(directory), store)
        times = []
        for _ in range(rounds):
            for turns in dialogs():
                conversation_id = concierge.new_conversation_id()
                for text in turns:
                    start = time.perf_counter()
                    concierge.respond(conversation_id, text)
                    times.append((time.perf_counter() - start) * 1000)
        store.close()
    return times


def cold_starts(count: int) -> list[float]:
    """Process start → first reply line on stdout, for `apoena chat --json` with its embedded Redis."""
    apoena = ROOT / ".venv" / "bin" / "apoena"
    command = [str(apoena)] if apoena.exists() else [sys.executable, "-m", "concierge"]
    times = []
    with tempfile.TemporaryDirectory() as folder:
        config = Path(folder) / "config.json"
        config.write_text(json.dumps({"directory": {"path": str(ROOT / "data" / "apartamentos.json")}}))
        for _ in range(count):
            start = time.perf_counter()
            process = subprocess.Popen(
                [*command, "chat", "--json", "--config", str(config)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=ROOT,
            )  # fmt: skip
            process.stdin.write("Entrega para a Joana\n".encode())
            process.stdin.flush()
            process.stdout.readline()
            times.append((time.perf_counter() - start) * 1000)
            process.stdin.close()
            process.wait(timeout=30)
    return times


def report(label: str, times: list[float]) -> None:
    print(f"{label:<38} n={len(times):<5} median={statistics.median(times):8.3f} ms  p95={percentile(times, 95):8.3f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--starts", type=int, default=5)
    args = parser.parse_args()
    report("rules brain turn", turn_times(args.rounds))
    report("rules brain turn + Redis memory", turn_times_with_memory(max(1, args.rounds // 4)))
    report("apoena chat cold start to 1st reply", cold_starts(args.starts))


if __name__ == "__main__":
    main()
