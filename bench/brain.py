"""Benchmark the brains: a rules-brain turn (alone, and with Redis memory), `apoena chat` cold start,
and — when the crewai extra is installed — what CrewAI adds around the model call in a turn, and
its one-time load.

    .venv/bin/python bench/brain.py [--rounds 20] [--starts 5] [--crew-rounds 1] [--crew-loads 3]
"""

from __future__ import annotations

import argparse
import importlib.util
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

CREW_LOAD_PROBE = """
import time
started = time.perf_counter()
from concierge.brain.crew import CrewBrain
from concierge.brain.directory import Directory
CrewBrain(Directory.load("data/apartamentos.json"), llm=None)  # imports and builds the CrewAI stack
print(time.perf_counter() - started)
"""


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


def crewai_installed() -> bool:
    return all(importlib.util.find_spec(name) is not None for name in ("crewai", "guardrails"))


def crew_overheads(rounds: int) -> tuple[list[float], float]:
    """Per turn of the dialog suite: the CrewBrain turn time minus the time spent inside the model,
    with an instant model answering what the rules brain would; and the model calls a turn makes."""
    from crewai.llms.base_llm import BaseLLM

    from concierge.brain.crew import CrewBrain, load_stack

    class InstantLLM(BaseLLM):
        def call(self, messages, tools=None, callbacks=None, available_functions=None, from_task=None,
                 from_agent=None, response_model=None):  # fmt: skip
            started = time.perf_counter()
            self.calls += 1
            answer = self.answer
            self.inside += time.perf_counter() - started
            return answer

        def supports_function_calling(self) -> bool:
            return True

    directory = Directory.load(ROOT / "data" / "apartamentos.json")
    llm = InstantLLM(model="instant")
    llm.calls, llm.inside, llm.answer = 0, 0.0, ""
    brain, rules = CrewBrain(directory, llm, 30, load_stack()), RulesBrain(directory)
    overheads, turns = [], 0
    for _ in range(rounds):
        for texts in dialogs():
            conversation, shadow = Conversation(id="bench"), Conversation(id="shadow")
            for text in texts:
                expected = rules.respond(shadow, text)
                llm.answer = json.dumps({"mensagem": expected.mensagem, "dados": expected.dados.model_dump(mode="json")})
                llm.inside = 0.0
                conversation.add("visitor", text)
                start = time.perf_counter()
                reply = brain.respond(conversation, text)
                total = time.perf_counter() - start
                conversation.add("concierge", reply.mensagem)
                overheads.append((total - llm.inside) * 1000)
                turns += 1
    return overheads, llm.calls / max(turns, 1)


def crew_loads(count: int) -> list[float]:
    """Fresh interpreter -> CrewAI brain ready (CrewAI + guardrails imported, guard and LLM built)."""
    times = []
    for _ in range(count):
        result = subprocess.run([sys.executable, "-c", CREW_LOAD_PROBE], capture_output=True, text=True, cwd=ROOT, check=True)
        times.append(float(result.stdout.strip().splitlines()[-1]) * 1000)
    return times


def report(label: str, times: list[float]) -> None:
    print(f"{label:<38} n={len(times):<5} median={statistics.median(times):8.3f} ms  p95={percentile(times, 95):8.3f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--starts", type=int, default=5)
    parser.add_argument("--crew-rounds", type=int, default=1)
    parser.add_argument("--crew-loads", type=int, default=3)
    args = parser.parse_args()
    report("rules brain turn", turn_times(args.rounds))
    report("rules brain turn + Redis memory", turn_times_with_memory(max(1, args.rounds // 4)))
    report("apoena chat cold start to 1st reply", cold_starts(args.starts))
    if not crewai_installed():
        print("crewai brain: skipped (the crewai extra is not installed: pip install -e '.[crewai]')")
        return
    overheads, calls = crew_overheads(args.crew_rounds)
    report(f"crewai turn overhead ({calls:.1f} model calls)", overheads)
    report("crewai stack load (fresh process)", crew_loads(args.crew_loads))  # without the timed test turn at start


if __name__ == "__main__":
    main()
