"""Soak: many simultaneous calls, each replaced by a new one as it ends, against a running `apoena serve`.

    .venv/bin/python bench/soak.py                                   # the issue's figure: 20 calls for 30 minutes
    .venv/bin/python bench/soak.py --calls 4 --minutes 3 --window 60 # a short look

Starts a real `apoena serve` (bench/fuzz.py's: a subprocess, a temporary config and state folder,
`--no-web`, the embedded Redis, real Whisper and RHVoice) and keeps `--calls` reactive callers on it
(bench/fuzz.py's `Caller`: the fixture delivery `fixtures/calls/entrega.slin`, each line said after
the concierge stops talking). Every `--window` seconds it prints the reply latency the callers
heard (end of their speech → first loud reply frame) p50/p95 over the calls that ended in that
window, the calls ended and ended right, and the server's RSS and open file descriptors; at the
end, every call placed is looked up in the server's call records: none may be missing.
Figures only: no timed assertions. Latency here is what one node gives under that load on this
machine's cores, not the one-call latency (bench/calls.py --jobs 1 for that).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fuzz import Caller, ended_right, start_server, usage  # noqa: E402


def _p(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) >= 2 else (values[0] if values else float("nan"))


async def _slot(port: int, deadline: float, done: list[dict]) -> None:
    """One line of callers: place a call, and when it ends, the next, until the deadline."""
    while time.monotonic() < deadline:
        caller = Caller(port)
        try:
            heard = await caller.call()
        except Exception as error:  # a call that breaks is a finding, not a crash of the bench
            heard = []
            print(f"call {caller.call_id} broke: {error!r}", file=sys.stderr)
        done.append({"call_id": caller.call_id, "ended": time.monotonic(), "heard": heard, "hung_up": caller.hung_up.is_set()})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=20, help="simultaneous calls (default 20)")
    parser.add_argument("--minutes", type=float, default=30.0, help="how long new calls are placed (default 30)")
    parser.add_argument("--window", type=float, default=300.0, help="seconds per reported window (default 300)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (server log, records)")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="apoena-soak-"))
    process, port, log = start_server(folder)
    samples: list[tuple[float, float, int]] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set() and process.poll() is None:
            rss, fds = usage(process.pid)
            samples.append((time.monotonic(), rss, fds))
            stop.wait(2)

    sampler = threading.Thread(target=sample, daemon=True)
    started = time.monotonic()
    baseline = usage(process.pid)
    sampler.start()
    done: list[dict] = []

    async def run() -> None:
        deadline = started + args.minutes * 60
        await asyncio.gather(*(_slot(port, deadline, done) for _ in range(args.calls)))

    try:
        asyncio.run(run())
        stop.set()
        sampler.join()
        time.sleep(2)
        after = usage(process.pid)
        outcomes = {call["call_id"]: ended_right(log, call["call_id"]) for call in done}
    finally:
        stop.set()
        process.terminate()
        try:
            process.wait(30)
        except Exception:
            process.kill()
    with sqlite3.connect(folder / ".apoena" / "calls.db") as db:
        recorded = {row[0] for row in db.execute("SELECT call_id FROM calls")}
    missing = [str(c["call_id"]) for c in done if str(c["call_id"]) not in recorded]
    if args.keep:
        print(f"kept: {folder}")
    else:
        shutil.rmtree(folder, ignore_errors=True)

    print(f"soak: {args.calls} simultaneous calls for {args.minutes:g} min, {len(done)} calls placed "
          f"(server at start: {baseline[0]:.0f} MiB RSS, {baseline[1]} fds)")  # fmt: skip
    print("| window | calls ended | ended right | reply p50 | reply p95 | RSS MiB | fds |")
    print("|---|---|---|---|---|---|---|")
    end = max((c["ended"] for c in done), default=started)
    edge = started
    while edge < end:
        inside = [c for c in done if edge <= c["ended"] < edge + args.window]
        heard = [ms for c in inside for ms in c["heard"]]
        right = sum(1 for c in inside if outcomes.get(c["call_id"]) == "completed")
        last = [s for s in samples if s[0] < edge + args.window] or [(0, baseline[0], baseline[1])]
        label = f"{(edge - started) / 60:.0f}–{(edge + args.window - started) / 60:.0f} min"
        print(f"| {label} | {len(inside)} | {right} | {_p(heard, 50):.0f} ms | {_p(heard, 95):.0f} ms | {last[-1][1]:.0f} | {last[-1][2]} |")
        edge += args.window
    peak = max(samples, key=lambda s: s[1]) if samples else (0, *baseline)
    print(f"RSS start {baseline[0]:.0f} MiB, peak {peak[1]:.0f}, end {after[0]:.0f}; fds start {baseline[1]}, end {after[1]}")
    print(f"call records missing: {len(missing)} of {len(done)}" + (f" ({', '.join(missing[:5])}…)" if missing else ""))


if __name__ == "__main__":
    main()
