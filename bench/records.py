"""Call records: what writing a turn costs, in SQLite (the default) and PostgreSQL (a central's).

Per turn, two figures:
- `observer`: the time the call itself spends handing the turn to the records (the event loop's
  share; the write happens on the writer thread);
- `stored`: from handing the turn over until it is durable (committed, fsync'd: SQLite with
  `synchronous=FULL`, PostgreSQL with fsync and `synchronous_commit` on), measured by a `flush()`
  right after the turn.

Two loads: one call at a time, and `--calls` calls at once (each in its own thread, a turn then
its flush, as busy nodes would). PostgreSQL is `DATABASE_URL` when set (a real server, maybe
across a network), else a throwaway cluster of Debian's binaries on this machine, fsync on.

    .venv/bin/python bench/records.py [--turns 200] [--calls 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from concierge.call.events import CallEnded, CallStarted, Outcome, Turn  # noqa: E402
from concierge.call.records import CallRecords  # noqa: E402
from tests.call.recorded import reply  # noqa: E402
from tests.servers import PostgresCluster, postgres_bin  # noqa: E402

ANSWER = reply("Certo. Entrega para Joana Prado, apartamento 104.", intent_type="entrega", apartment_number="104", resident_name="Joana Prado")


def one_call(records: CallRecords, turns: int, observer_s: list[float], stored_s: list[float]) -> None:
    call_id = str(uuid.uuid4())
    records.observer(CallStarted(call_id, call_id))
    for index in range(1, turns + 1):
        event = Turn(call_id, index, "speech", "Boa tarde, entrega dos Correios para a Joana do 104.", ANSWER, 300.0, 1.0, 50.0, 700.0)
        started = time.perf_counter()
        records.observer(event)
        handed = time.perf_counter()
        records.flush()
        stored = time.perf_counter()
        observer_s.append(handed - started)
        stored_s.append(stored - started)
    records.observer(CallEnded(call_id, Outcome.COMPLETED, "bench"))


def measure(location: str, turns: int, calls: int, spool: Path) -> dict[str, tuple[float, float, float, float]]:
    figures = {}
    with CallRecords(location, "rules", spool=spool) as records:
        one_call(records, 10, [], [])  # warm up: connections, prepared caches
        observer_s: list[float] = []
        stored_s: list[float] = []
        one_call(records, turns, observer_s, stored_s)
        figures["1 call"] = _summary(observer_s, stored_s)
        observer_s, stored_s = [], []
        threads = [threading.Thread(target=one_call, args=(records, max(1, turns // calls), observer_s, stored_s)) for _ in range(calls)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        figures[f"{calls} calls at once"] = _summary(observer_s, stored_s)
    return figures


def _summary(observer_s: list[float], stored_s: list[float]) -> tuple[float, float, float, float]:
    def p95(values: list[float]) -> float:
        return statistics.quantiles(values, n=20)[-1]

    return statistics.median(observer_s) * 1e6, p95(observer_s) * 1e6, statistics.median(stored_s) * 1e3, p95(stored_s) * 1e3


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=200, help="turns of the one-call run (the concurrent run shares them out)")
    parser.add_argument("--calls", type=int, default=20, help="calls at once in the concurrent run")
    args = parser.parse_args()
    cluster = None
    url = os.environ.get("DATABASE_URL")
    with tempfile.TemporaryDirectory(prefix="apoena-bench-") as scratch:
        if url is None:
            bin_dir = postgres_bin()
            if bin_dir is None:
                print("PostgreSQL: skipped — set DATABASE_URL, or apt-get install postgresql for a throwaway local server")
            else:
                cluster = PostgresCluster(bin_dir, durable=True)
                url = cluster.create_database()
        try:
            runs = {"SQLite": str(Path(scratch) / "calls.db")}
            if url:
                runs["PostgreSQL" + ("" if cluster is None else " (local, fsync on)")] = url
            print(f"{'database':<32} {'load':<16} {'observer p50':>13} {'p95':>9} {'stored p50':>11} {'p95':>9}")
            for name, location in runs.items():
                for load, (obs50, obs95, st50, st95) in measure(location, args.turns, args.calls, Path(scratch) / "spool.db").items():
                    print(f"{name:<32} {load:<16} {obs50:>10.1f} µs {obs95:>6.1f} µs {st50:>8.2f} ms {st95:>6.2f} ms")
        finally:
            if cluster is not None:
                cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
