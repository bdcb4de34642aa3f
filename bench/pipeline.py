"""Benchmark the whole voice pipeline on the recorded calls: response latency, greeting latency,
fixture pass rate, and the same with many simultaneous calls.

    .venv/bin/python bench/pipeline.py [--concurrency 1 10] [--speed 1] [--calls fixtures/calls]

Response latency = end of the caller's speech -> first byte of our reply audio (per turn).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from concierge.apps.common import load_setup, tune_for_real_time  # noqa: E402
from concierge.apps.simulate import Simulator, find_recordings, load_recording  # noqa: E402
from concierge.call.services import build_services  # noqa: E402


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def run_level(services, recordings, concurrency: int, speed: float):
    chosen = list(itertools.islice(itertools.cycle(recordings), max(concurrency, len(recordings) if concurrency == 1 else concurrency)))
    async with Simulator(services, speed=speed) as simulator:
        started = time.perf_counter()
        if concurrency == 1:
            reports = [await simulator.call(recording) for recording in chosen]
        else:
            reports = await asyncio.gather(*(simulator.call(recording) for recording in chosen))
        return reports, time.perf_counter() - started


def describe(label: str, values: list[float]) -> str:
    if not values:
        return f"{label}: no samples"
    return f"{label}: p50 {statistics.median(values):.0f} ms, p95 {percentile(values, 95):.0f} ms (n={len(values)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--speed", type=float, default=1.0)
    parser.add_argument("--calls", type=Path, default=ROOT / "fixtures" / "calls")
    args = parser.parse_args()
    tune_for_real_time()
    setup = load_setup(None, None, None)
    started = time.perf_counter()
    services = build_services(setup.config, setup.directory, setup.concierge)
    print(f"start-up (engines loaded, greeting rendered): {time.perf_counter() - started:.1f} s")
    recordings = [load_recording(path) for path in find_recordings([args.calls])]
    for concurrency in args.concurrency:
        reports, elapsed = asyncio.run(run_level(services, recordings, concurrency, args.speed))
        turns = [t for r in reports for t in r.turns]
        judged = [r for r in reports if r.passed is not None]
        print(f"\n== {len(reports)} calls, {concurrency} at a time, {elapsed:.0f} s ==")
        print(describe("response latency", [t.response_ms for t in turns if t.response_ms is not None]))
        print(describe("  speculative STT turns", [t.response_ms for t in turns if t.speculative and t.response_ms]))
        print(describe("stt", [t.stt_ms for t in turns if t.source == "speech"]))
        print(describe("tts (first sentence)", [t.tts_ms for t in turns]))
        print(describe("brain", [t.brain_ms for t in turns]))
        print(describe("greeting first audio", [r.first_audio_ms for r in reports if r.first_audio_ms is not None]))
        drifts = [abs(r.pacing_drift) * 100 for r in reports if r.pacing_drift is not None]
        if drifts:
            print(f"pacing drift over each whole call: median {statistics.median(drifts):.3f} %, worst {max(drifts):.3f} %")
        print(f"fixtures passed: {sum(1 for r in judged if r.passed)}/{len(judged)}; "
              f"calls completed: {sum(1 for r in reports if r.outcome)}/{len(reports)}")
        for report in reports:
            if report.passed is False:
                print(f"  FAIL {report.recording.path.name}: {'; '.join(report.mismatches)}")
    services.close()
    setup.concierge.store.close()


if __name__ == "__main__":
    main()
