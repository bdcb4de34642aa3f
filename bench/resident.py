#!/usr/bin/env python3
"""The resident decides, measured: the delivery call (fixtures/calls/entrega.slin) played through the
real pipeline once per resident answer in fixtures/resident/, each answered through the simulated
Asterisk (a real Manager socket, the resident's leg over AudioSocket), with real Whisper and TTS.

Prints, per answer, what Whisper heard, the decision against the one its sidecar expects, and the
times from the visit being complete: the resident picking up, hearing the question, deciding; and
the visitor's longest quiet stretch while waiting.

    .venv/bin/python bench/resident.py [--config config.json]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def longest_quiet(pcm: bytes) -> float:
    longest = run = 0.0
    for i in range(0, len(pcm) - 319, 320):
        frame = memoryview(pcm[i : i + 320]).cast("h")
        run = 0.0 if any(abs(s) > 200 for s in frame) else run + 0.02
        longest = max(longest, run)
    return longest


async def one(services, directory, recording, answer) -> dict:
    from concierge.apps.simulate import Simulator

    async with Simulator(services, resident=answer, directory=directory) as simulator:
        started = time.monotonic()
        report = await simulator.call(recording)
    visit = report.visit or {}
    turns = visit.get("resident_turns") or []
    # the visitor's side after the confirmation: the waiting sound, the updates, the decision
    confirmation = report.received  # the whole call; the visit is its tail
    tail_seconds = (visit.get("decision_ms") or 0) / 1000 + 3
    tail = bytes(confirmation[-int(tail_seconds * 16000) :]) if tail_seconds > 3 else b""
    return {
        "answer": answer.path.stem, "expected": answer.expected, "decision": visit.get("decision"),
        "heard": " / ".join(t["transcript"] for t in turns), "ringing_ms": visit.get("ringing_ms"),
        "asked_ms": visit.get("asked_ms"), "decision_ms": visit.get("decision_ms"),
        "quiet_s": round(longest_quiet(tail), 2), "wall_s": round(time.monotonic() - started, 1),
    }  # fmt: skip


def main() -> int:
    from concierge.apps.simulate import load_recording, load_resident, simulation_services

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=None)
    args = parser.parse_args()
    recording = load_recording(ROOT / "fixtures" / "calls" / "entrega.slin")
    answers = [load_resident(path) for path in sorted((ROOT / "fixtures" / "resident").glob("*.slin"))]
    rows = []
    with simulation_services(args.config, None) as (setup, services):
        for answer in answers:
            rows.append(asyncio.run(one(services, setup.directory, recording, answer)))
            row = rows[-1]
            mark = "ok " if row["decision"] == row["expected"] else "BAD"
            print(f"{mark} {row['answer']:18} heard {row['heard']!r:40} -> {row['decision']:15} "
                  f"picked up {row['ringing_ms']} ms, asked {row['asked_ms']} ms, decided {row['decision_ms']} ms, "
                  f"visitor's longest quiet {row['quiet_s']} s", flush=True)  # fmt: skip
    right = sum(row["decision"] == row["expected"] for row in rows)
    overhead = [row["asked_ms"] - row["ringing_ms"] for row in rows if row["asked_ms"] is not None]
    print(f"\n{right}/{len(rows)} decisions as expected; question asked {statistics.median(overhead):.0f} ms (median) after the pick-up"
          f" (max {max(overhead):.0f}); decision p50 {statistics.median(r['decision_ms'] for r in rows) / 1000:.1f} s after the visit was"
          f" complete; visitor's longest quiet stretch {max(r['quiet_s'] for r in rows)} s")  # fmt: skip
    return 0 if right == len(rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
