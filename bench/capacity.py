"""Capacity per node: how many simultaneous calls one `apoena serve` holds within reply p95 ≤ 1.5 s,
on 1 core and on 2 (taskset), ramping the number of calls.

    .venv/bin/python bench/capacity.py                                                  # the full run (1-2 h; a quiet machine)
    .venv/bin/python bench/capacity.py --levels 1,2,4,6 --seconds 60 --min-calls 0     # a short look (~15 min)

For each CPU set in `--cores` (`0` = one core, `0-1` = two; `taskset -c`), a fresh `apoena serve`
(bench/fuzz.py's set-up: a subprocess, a temporary config and state folder, `--no-web`, the
embedded Redis, real Whisper base and the best installed voice, the shipped speech settings) is
pinned to those cores, and the number of simultaneous calls is ramped through `--levels`. At each
level, that many callers (bench/fuzz.py's reactive `Caller`, each over its own real AudioSocket
connection in real time) play the recorded fixture calls of `fixtures/calls` in turn, every line
said after the concierge stops talking, each caller placing its next call as soon as one ends.
Callers start spread over one call's length (30 s), so their turns do not fall in step; the calls
that start once all callers are going and end by 30 s + `--seconds` after the first started are the
level's sample (so `--seconds` must exceed one call, ~30 s, for anything to be counted). A level
with few callers runs longer, until `--min-calls` calls' length (12 by default: 360 s for one
caller, 180 s for two), so that its p95 rests on more than a handful of replies.

Reply latency is what the caller hears: from the end of its speech to the first loud frame back
(the reply, or the waiting chime when the reply is later than `system.waiting_delay_seconds`),
so it includes the end-of-turn silence (0.7 s). The server's own figure (end of speech → first
reply byte, from its call records) is printed beside it. A level with p95 above `--stop-above`
ends the ramp. When the server has fewer cores than the machine, the callers run on the others
(`--client-core`), so they do not take the server's CPU. Each level also prints how many
cores were kept busy by the server, by the callers and by everything else (from /proc: the
machine's busy time less the two processes'), and the load average: on a shared machine other work
takes the server's cores too, and a figure taken with other work above a few tenths of a core is
not the node's capacity.
Figures only: no timed assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fuzz import Caller, free_port  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BUDGET_MS = 1500.0
# the recorded calls a caller can finish by voice alone (dtmf needs keys; the others do not complete a visit)
FIXTURES = ("entrega", "visita", "correcao", "nomes_compartilhados", "numeros_por_extenso", "pausa_longa", "primeiro_nome", "ruido")
CALL_SECONDS = 30.0  # about one fixture call, greeting to hang-up


class FixtureCaller(Caller):
    """bench/fuzz.py's reactive caller, playing any recorded fixture call."""

    def __init__(self, port: int, fixture: str) -> None:
        super().__init__(port)
        path = ROOT / "fixtures" / "calls" / fixture
        self.fixture = fixture
        self.pcm = path.with_suffix(".slin").read_bytes()
        self.turns = [(t["start_seconds"], t["end_seconds"]) for t in json.loads(path.with_suffix(".json").read_text())["turns"]]


@dataclass
class Call:
    call_id: uuid.UUID
    fixture: str
    started: float
    ended: float
    heard_ms: list[float]
    turns: int


@dataclass
class Level:
    cores: str
    calls: int
    sample: list[Call] = field(default_factory=list)
    server_ms: list[float] = field(default_factory=list)
    outcomes: dict[str, int] = field(default_factory=dict)
    load: tuple[float, float] = (0.0, 0.0)  # 1-min load average at the start and the end
    cpu: CpuShare | None = None  # cores kept busy by the server, the callers and other work, over the level

    @property
    def heard(self) -> list[float]:
        return [ms for call in self.sample for ms in call.heard_ms]

    @property
    def unanswered(self) -> int:
        return sum(call.turns - len(call.heard_ms) for call in self.sample)


def machine_busy() -> tuple[float, float]:
    """Seconds of CPU time spent busy and in all, over every core since boot (/proc/stat)."""
    fields = [float(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields) - idle) / os.sysconf("SC_CLK_TCK"), sum(fields) / os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system, all threads) of a process and the processes it started (the embedded
    redis-server), so far."""
    stats: dict[int, list[str]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stats[int(entry.name)] = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:  # gone meanwhile
                pass
    family, grew = {pid}, True
    while grew:
        children = {p for p, fields in stats.items() if int(fields[1]) in family} - family
        family |= children
        grew = bool(children)
    return sum(float(stats[p][11]) + float(stats[p][12]) for p in family if p in stats) / os.sysconf("SC_CLK_TCK")


class CpuShare:
    """How many cores the server, this bench and everything else kept busy between start() and stop()."""

    def __init__(self, server_pid: int) -> None:
        self.pid = server_pid
        self.server = self.bench = self.other = 0.0

    def start(self) -> None:
        self._wall = time.monotonic()
        self._machine = machine_busy()[0]
        self._server = process_cpu(self.pid)
        self._bench = sum(os.times()[:2])

    def stop(self) -> None:
        wall = time.monotonic() - self._wall
        machine = machine_busy()[0] - self._machine
        self.server = (process_cpu(self.pid) - self._server) / wall
        self.bench = (sum(os.times()[:2]) - self._bench) / wall
        self.other = max(0.0, machine / wall - self.server - self.bench)


def percentile(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def start_server(folder: Path, cores: str) -> tuple[subprocess.Popen, int, Path]:
    """`apoena serve` pinned to `cores`, its state in `folder`; waits until it is ready."""
    port = free_port()
    config = folder / "config.json"
    config.write_text(json.dumps({"directory": {"path": str(ROOT / "data" / "apartamentos.json")}}))
    log = folder / "serve.log"
    command = ["taskset", "-c", cores, sys.executable, "-m", "concierge", "serve", "--config", str(config), "--port", str(port), "--no-web"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log.open("wb"), cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    ready = process.stdout.readline().decode()
    if f"ready on 127.0.0.1:{port}" not in ready:
        raise SystemExit(f"apoena serve did not start:\n{log.read_text()[-3000:]}")
    return process, port, log


async def run_level(port: int, calls: int, seconds: float) -> tuple[list[Call], float, float]:
    """`calls` callers, started over one call's length, for that plus `seconds`; every call placed, and the sample's window."""
    loop = asyncio.get_running_loop()
    begin = loop.time()
    window_start = begin + CALL_SECONDS * (calls - 1) / calls  # the last caller starts: all are going
    window_end = begin + CALL_SECONDS + seconds
    done: list[Call] = []
    counter = iter(range(10**9))

    async def slot(index: int) -> None:
        await asyncio.sleep(index * CALL_SECONDS / calls)  # spread over one call's length
        while loop.time() < window_end:
            caller = FixtureCaller(port, FIXTURES[next(counter) % len(FIXTURES)])
            started = loop.time()
            try:
                heard = await caller.call()
            except Exception as error:  # a call that breaks is a finding, not a crash of the bench
                print(f"  call {caller.call_id} ({caller.fixture}) broke: {error!r}", file=sys.stderr)
                heard = []
            done.append(Call(caller.call_id, caller.fixture, started, loop.time(), heard, len(caller.turns)))

    slots = [asyncio.create_task(slot(i)) for i in range(calls)]
    await asyncio.sleep(max(0.0, window_end - loop.time()))
    for task in slots:  # calls still going at the window's end are hung up and not counted
        task.cancel()
    await asyncio.gather(*slots, return_exceptions=True)
    return done, window_start, window_end


def server_figures(folder: Path, log: Path, call_ids: list[uuid.UUID]) -> tuple[list[float], dict[str, int]]:
    """The server's response latency of each turn of these calls (its records) and how they ended (its log)."""
    text = log.read_text(errors="replace")
    outcomes: dict[str, int] = {}
    for call_id in call_ids:
        match = re.search(rf"call {call_id} ended: (\S+)", text)
        outcome = match.group(1) if match else "not logged"
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    with sqlite3.connect(folder / ".apoena" / "calls.db") as db:
        marks = ",".join("?" * len(call_ids))
        rows = db.execute(f"SELECT response_ms FROM turns WHERE call_id IN ({marks})", [str(c) for c in call_ids]).fetchall()
    return [row[0] for row in rows if row[0] is not None], outcomes


def ramp(cores: str, levels: list[int], seconds: float, min_calls: int, stop_above: float, client_core: str | None, keep: bool) -> list[Level]:
    folder = Path(tempfile.mkdtemp(prefix="apoena-capacity-"))
    process, port, log = start_server(folder, cores)
    if client_core:
        os.sched_setaffinity(0, {int(c) for c in client_core.split(",")})
    results = []
    try:
        for calls in levels:
            level = Level(cores, calls, load=(os.getloadavg()[0], 0.0), cpu=CpuShare(process.pid))
            level.cpu.start()
            measured = max(seconds, min_calls * CALL_SECONDS / calls)  # few callers: longer, for enough calls in the sample
            done, window_start, window_end = asyncio.run(run_level(port, calls, measured))
            level.cpu.stop()
            time.sleep(1.0)  # the last records and log lines
            level.sample = [c for c in done if c.started >= window_start and c.ended <= window_end]
            if level.sample:
                level.server_ms, level.outcomes = server_figures(folder, log, [c.call_id for c in level.sample])
            level.load = (level.load[0], os.getloadavg()[0])
            results.append(level)
            print(line(level), flush=True)
            if process.poll() is not None:
                print(f"  the server exited ({process.returncode}):\n{log.read_text()[-2000:]}", file=sys.stderr)
                break
            if not level.sample or percentile(level.heard, 95) > stop_above * 1000:
                break
            time.sleep(3)  # the hung-up calls leave the server
    finally:
        os.sched_setaffinity(0, set(range(os.cpu_count() or 1)))
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
        if keep:
            print(f"  kept: {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    return results


def line(level: Level) -> str:
    heard, server = level.heard, level.server_ms
    ended = ", ".join(f"{n} {outcome}" for outcome, n in sorted(level.outcomes.items()))
    return (f"cores {level.cores}: {level.calls:>2} calls | {len(level.sample)} calls, {len(heard)} replies heard"
            f" ({level.unanswered} turns unanswered) | heard p50 {percentile(heard, 50):.0f} ms p95 {percentile(heard, 95):.0f} ms"
            f" | server p50 {percentile(server, 50):.0f} ms p95 {percentile(server, 95):.0f} ms | {ended or '-'}"
            f" | load {level.load[0]:.2f} → {level.load[1]:.2f} | {cpu_text(level)}")  # fmt: skip


def cpu_text(level: Level) -> str:
    cpu = level.cpu
    return f"cores busy: server {cpu.server:.2f}, callers {cpu.bench:.2f}, other work {cpu.other:.2f}" if cpu else ""


def capacity(levels: list[Level]) -> tuple[int, int | None]:
    """The largest number of calls whose p95 stayed within the budget, counting up until the first level
    over it; and that first level over it (None: none was)."""
    held = 0
    for level in levels:
        if not level.sample or percentile(level.heard, 95) > BUDGET_MS:
            return held, level.calls
        held = level.calls
    return held, None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--levels", default="1,2,4,6,8,10,12,14,16,20", help="simultaneous calls to try, in order (default 1,2,4,6,8,10,12,14,16,20)")
    parser.add_argument("--seconds", type=float, default=180.0, help="measured seconds per level, after one call's warm-up (default 180)")
    parser.add_argument("--cores", default="0,0-1", help="taskset CPU lists to compare, comma-separated groups like 0 and 0-1 (default 0,0-1)")
    parser.add_argument("--min-calls", type=int, default=12, help="measure a level at least this many calls' length in all (default 12: 1 caller 360 s)")
    parser.add_argument("--stop-above", type=float, default=3.0, help="end a ramp after a level whose p95 passes this many seconds (default 3)")
    parser.add_argument("--client-core", default="auto", help="cores for the callers ('auto': those the server does not have, if any; 'none')")
    parser.add_argument("--keep", action="store_true", help="keep each temporary folder (server log, records)")
    args = parser.parse_args()
    if not shutil.which("taskset"):
        raise SystemExit("capacity: taskset not found (Debian: util-linux)")
    levels = [int(n) for n in args.levels.split(",")]
    cpu_sets = re.findall(r"\d+(?:-\d+)?", args.cores)
    available = sorted(os.sched_getaffinity(0))
    started = time.time()
    print(f"capacity: levels {levels}, {args.seconds:g} s measured per level, cores {cpu_sets} of {len(available)}; "
          f"uptime: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}", flush=True)  # fmt: skip
    results: dict[str, list[Level]] = {}
    for cpus in cpu_sets:
        server = set(expand(cpus))
        client = args.client_core
        if client == "auto":
            rest = [c for c in available if c not in server]
            client = ",".join(map(str, rest)) or None
        elif client == "none":
            client = None
        print(f"-- server on cores {cpus}, callers on {client or 'any core'}", flush=True)
        results[cpus] = ramp(cpus, levels, args.seconds, args.min_calls, args.stop_above, client, args.keep)

    print(f"\nfinished in {(time.time() - started) / 60:.1f} min; uptime: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    print("\n| server cores | simultaneous calls | calls in sample | replies heard | heard p50 | heard p95 | server p50 | server p95 | ended | cores busy: server / callers / other work | load (1 min) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for cpus, ramped in results.items():
        for level in ramped:
            heard, server = level.heard, level.server_ms
            ended = ", ".join(f"{n} {outcome}" for outcome, n in sorted(level.outcomes.items()))
            print(f"| {len(expand(cpus))} ({cpus}) | {level.calls} | {len(level.sample)} | {len(heard)} | {percentile(heard, 50):.0f} ms"
                  f" | **{percentile(heard, 95):.0f} ms** | {percentile(server, 50):.0f} ms | {percentile(server, 95):.0f} ms"
                  f" | {ended or '-'} | {level.cpu.server:.2f} / {level.cpu.bench:.2f} / {level.cpu.other:.2f}"
                  f" | {level.load[0]:.1f} → {level.load[1]:.1f} |")  # fmt: skip
    print()
    for cpus, ramped in results.items():
        held, over = capacity(ramped)
        per_call = [level.cpu.server / level.calls for level in ramped if level.cpu and level.calls >= 4]
        cost = f"; the server kept {statistics.median(per_call):.3f} cores busy per call (median over levels of 4+ calls)" if per_call else ""
        print(f"capacity on {len(expand(cpus))} core(s) ({cpus}): {held} simultaneous calls within heard p95 ≤ {BUDGET_MS / 1000:g} s"
              f" ({f'first level over it: {over}' if over else 'no level tried went over it'}; levels tried: {[lv.calls for lv in ramped]}){cost}")  # fmt: skip


def expand(cpus: str) -> list[int]:
    """'0-1' → [0, 1]; '0' → [0]."""
    first, _, last = cpus.partition("-")
    return list(range(int(first), int(last or first) + 1))


if __name__ == "__main__":
    main()
