"""Malformed AudioSocket streams against a running `apoena serve`, while a real call goes on.

    .venv/bin/python bench/fuzz.py --pin                # ~6 min: 5,000 streams, 1,000 idle connections, 60 s settling
    .venv/bin/python bench/fuzz.py --pin --streams 42000 --calls 4    # the issue's 100,000 streams in all, ~40 min

Starts a real `apoena serve` (a subprocess, a temporary config and state folder, `--no-web`,
the embedded Redis), places the fixture call `fixtures/calls/entrega.slin` through it first on an
idle server, then again while another process throws malformed streams at it from many
concurrent connections: random bytes, truncated and oversized headers, zero-length and
65,535-byte payloads, wrong kinds, audio before the UUID, UUIDs of the wrong length, a UUID never
sent, odd-length audio, bad DTMF, resets mid-frame, slowloris partial headers one byte at a time,
and waves of idle connections that never send a UUID (1,000 at once by default).

The caller of the real call is reactive, as a visitor is: it waits for the concierge to stop
talking, says its next line from the fixture, and measures its reply latency from the end of its
speech to the first loud frame of the reply. Prints: streams sent per kind, server crashes
(the process must still be alive, answering a new call), whether each real call ended right
(hung up by the concierge, logged `ended: completed`), reply latency p50 idle vs under fuzz,
and the server's RSS and open file descriptors (from /proc/PID): before (10 s after the idle
calls), during, 10 s after the attack and after `--settle` seconds of an idle server, and a
verdict line: are RSS (within 20 MiB) and the fds back to their baseline? Figures only: no
timed assertions. The attacking process runs on the same machine as the server and takes CPU
from it (on 2 cores, about one of them), so the latency under fuzz is a worst case; compare idle
and fuzzed runs made under the same outside load. With `--pin` the server has a core of its own
and the callers and the attacker share the other, the attacker at nice 19: it stands for another
machine on the network and must not delay the callers, who stand for Asterisk.

The server takes at most `server.max_new_connections_per_second` (50 by default) new connections a
second; the rest wait in the kernel's listen queue. So the attack runs at about that rate, its
idle waves and slowloris connections included: the default run (5,000 streams with bytes, about
12,700 connections in all) takes about 4 minutes, and `--streams 42000` about 100,000 connections
in 35.

Memory: glibc's malloc keeps what the process frees resident for reuse, so RSS keeps the
high-water mark of the busiest moment (a call's speech work in the STT and turn threads alone
leaves ~50 MiB of free chunks in their arenas) unless it is given back. `apoena serve` gives it
back (malloc_trim) once it has had no connection for 5 s (`concierge/audiosocket/allocator.py`).
"Before" and each "after" are taken 10 s after the last connection, so they compare like with like.
Before the baseline, `--warm-up` calls (4) run at once: what the server starts only when calls
overlap and then keeps (Whisper's second CTranslate2 replica, ~30 MiB of working memory on its
first use; more pool threads, each with its own Redis connection) is then in the baseline too,
instead of showing as growth the first time the attack's calls overlap.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import re
import shutil
import socket
import sqlite3
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "fixtures" / "calls" / "entrega"
FRAME = 320
FRAME_SECONDS = 0.02
LOUD_RMS = 200.0  # a reply frame louder than this is speech (the line is digital silence otherwise)
QUIET_SECONDS = 0.8  # the concierge has stopped talking after this long without a loud frame
PRE_ROLL = 0.3
MEASURE_AFTER_SECONDS = 10.0
"""Before the attack and after each round, wait this long before measuring (the server returns
freed memory after 5 s without a connection)."""
RSS_TOLERANCE_MIB = 20
"""RSS this much over its baseline still counts as back. Measured after one default round, with
malloc's freed memory given back and no Whisper replica used for the first time during the
attack (see --warm-up): +15 MiB, of which 11 MiB are Python's own allocator's arenas (34 → 45 of
1 MiB: kept after the peak of ~140,000 objects of 1,000 idle connections, because each still
holds a live object; 9 MiB of them free), 2 MiB more malloc'ed (the concierge keeps the last
1,000 conversations in memory, and the attack's calls with a UUID fill it) and 2 MiB in the
arenas of pool threads started under load. Bounded: the rounds after the first add 1–2 MiB each."""
ROUND_GROWTH_MIB = 8
"""With --rounds, RSS after the last round more than this over the first round's: growing."""

# -- the server under test -----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(folder: Path, cpus: set[int] | None = None, allow: list[str] | None = None) -> tuple[subprocess.Popen, int, Path]:
    port = free_port()
    config = folder / "config.json"
    settings: dict = {"directory": {"path": str(ROOT / "data" / "apartamentos.json")}}
    if allow:
        settings["server"] = {"allowed_sources": allow}
    config.write_text(json.dumps(settings))
    log = folder / "serve.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "concierge", "serve", "--config", str(config), "--port", str(port), "--no-web"],
        stdout=subprocess.PIPE, stderr=log.open("wb"), cwd=ROOT,
        preexec_fn=None if cpus is None else lambda: os.sched_setaffinity(0, cpus),  # its threads inherit it
        env={**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))},
    )  # fmt: skip
    ready = process.stdout.readline().decode()
    if f"ready on 127.0.0.1:{port}" not in ready:
        raise SystemExit(f"apoena serve did not start:\n{log.read_text()[-3000:]}")
    return process, port, log


def usage(pid: int) -> tuple[float, int]:
    """RSS in MiB and open file descriptors of a process."""
    rss = 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) / 1024
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


def peak_rss(pid: int) -> float:
    """The most RSS the process ever had (VmHWM), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def threads(pid: int) -> int:
    """The process's threads (each that has used malloc has an arena of its own)."""
    return len(os.listdir(f"/proc/{pid}/task"))


# -- the real call ------------------------------------------------------------------------------


def frame(kind: int, payload: bytes = b"") -> bytes:
    return struct.pack(">BH", kind, len(payload)) + payload


def rms(pcm: bytes) -> float:
    samples = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2").astype(np.float64)
    return float(np.sqrt(np.mean(samples**2))) if len(samples) else 0.0


class Caller:
    """A visitor playing the fixture one line at a time, waiting for each reply like a person."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.pcm = FIXTURE.with_suffix(".slin").read_bytes()
        self.turns = [(t["start_seconds"], t["end_seconds"]) for t in json.loads(FIXTURE.with_suffix(".json").read_text())["turns"]]
        self.call_id = uuid.uuid4()
        self.last_loud = 0.0
        self.loud_since: float | None = None  # first loud frame after the caller's last speech
        self.hung_up = asyncio.Event()
        self.received = 0

    async def _listen(self, reader: asyncio.StreamReader) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                kind, length = struct.unpack(">BH", await reader.readexactly(3))
                payload = await reader.readexactly(length)
                if kind == 0x10:
                    self.received += len(payload)
                    if rms(payload) > LOUD_RMS:
                        self.last_loud = loop.time()
                        if self.loud_since is None:
                            self.loud_since = self.last_loud
                elif kind == 0x00:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        self.hung_up.set()

    async def call(self) -> list[float]:
        """Place the call; the reply latency (ms) of each line said. Raises if it does not end."""
        loop = asyncio.get_running_loop()
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        writer.write(frame(0x01, self.call_id.bytes))
        listener = asyncio.create_task(self._listen(reader))
        start, tick = loop.time(), 0

        async def send(pcm: bytes) -> None:
            nonlocal tick
            writer.write(frame(0x10, pcm.ljust(FRAME, b"\x00")))
            await writer.drain()
            tick += 1
            await asyncio.sleep(max(0.0, start + tick * FRAME_SECONDS - loop.time()))

        async def wait_for_quiet(deadline: float) -> None:
            while not self.hung_up.is_set() and loop.time() < deadline:
                if self.last_loud and loop.time() - self.last_loud > QUIET_SECONDS:
                    return
                await send(b"")

        latencies = []
        try:
            await wait_for_quiet(loop.time() + 20)  # the greeting
            for begin, end in self.turns:
                segment = self.pcm[int((begin - PRE_ROLL) * 8000) * 2 : int(end * 8000) * 2]
                for at in range(0, len(segment), FRAME):
                    await send(segment[at : at + FRAME])
                spoke = loop.time()
                self.loud_since = None
                while self.loud_since is None and not self.hung_up.is_set() and loop.time() - spoke < 15:
                    await send(b"")
                if self.loud_since is not None:
                    latencies.append((self.loud_since - spoke) * 1000)
                await wait_for_quiet(loop.time() + 30)
            while not self.hung_up.is_set() and loop.time() - start < 90:
                await send(b"")
        except ConnectionError:
            pass
        finally:
            writer.close()
            await asyncio.wait_for(listener, 5)
        return latencies


def server_latencies(folder: Path, call_id: uuid.UUID) -> list[float]:
    """The reply latency of each turn as the server recorded it (end of speech → first reply byte)."""
    with sqlite3.connect(folder / ".apoena" / "calls.db") as db:
        rows = db.execute("SELECT response_ms FROM turns WHERE call_id = ? ORDER BY idx", (str(call_id),)).fetchall()
    return [row[0] for row in rows if row[0] is not None]


def _sockets(pid: int) -> dict[str, str]:
    """Socket inode → what it is (tcp local→remote and state, or unix path), from /proc/PID/net."""
    found = {}
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            local, remote = (int(a.split(":")[1], 16) for a in fields[1:3])
            found[fields[9]] = f"tcp :{local}→:{remote} state {fields[3]}"
    paths = {}
    for line in Path(f"/proc/{pid}/net/unix").read_text().splitlines()[1:]:
        fields = line.split()
        paths[fields[6]] = fields[7] if len(fields) > 7 else None
        found[fields[6]] = f"unix {paths[fields[6]] or '(unnamed)'}"
    for local, peer in _unix_peers().items():  # a client's end is unnamed: say what it is connected to
        if local in found and paths.get(local) is None and paths.get(peer):
            found[local] = f"unix → {Path(paths[peer]).name}"
    return found


def _unix_peers() -> dict[str, str]:
    """Unix socket inode → its peer's inode (from `ss`; empty when `ss` is not there)."""
    try:
        out = subprocess.run(["ss", "-xaH"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    peers = {}
    for line in out.splitlines():
        fields = line.split()
        if len(fields) >= 8:
            peers[fields[5]] = fields[7]
    return peers


def fd_targets(pid: int) -> list[str]:
    """What each open descriptor is: files by path, sockets by kind and ports (ports vary: only kinds kept)."""
    sockets = _sockets(pid)
    targets = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        inode = re.fullmatch(r"socket:\[(\d+)\]", target)
        targets.append(sockets.get(inode.group(1), target) if inode else re.sub(r"\[\d+\]", "[…]", target))
    return sorted(targets)


def ended_right(log: Path, call_id: uuid.UUID) -> str | None:
    """How the server says the call ended (e.g. 'completed'), from its log."""
    for _ in range(20):
        match = re.search(rf"call {call_id} ended: (\S+)", log.read_text(errors="replace"))
        if match:
            return match.group(1)
        time.sleep(0.1)
    return None


# -- the attack ---------------------------------------------------------------------------------

KNOWN_KINDS = {0x00, 0x01, 0x03, 0xFF, *range(0x10, 0x19)}
WRONG_KINDS = [k for k in range(256) if k not in KNOWN_KINDS]


def _uuid() -> bytes:
    return frame(0x01, uuid.uuid4().bytes)


def _fast_streams(rng: random.Random) -> dict[str, callable]:
    """Streams sent at once: name → bytes to send (a fresh random variant each time)."""
    return {
        "random bytes": lambda: os.urandom(rng.randint(1, 2048)),
        "random bytes after the UUID": lambda: _uuid() + os.urandom(rng.randint(1, 2048)),
        "truncated header": lambda: bytes([rng.choice([0x01, 0x10, 0x03])]) + os.urandom(rng.randint(0, 1)),
        "truncated header after the UUID": lambda: _uuid() + b"\x10" + os.urandom(rng.randint(0, 1)),
        "truncated payload after the UUID": lambda: _uuid() + struct.pack(">BH", 0x10, 320) + os.urandom(rng.randint(0, 319)),
        "oversized header": lambda: struct.pack(">BH", rng.choice([0x01, 0x10]), rng.randint(8193, 0xFFFF)) + os.urandom(rng.randint(0, 64)),
        "oversized header after the UUID": lambda: _uuid() + struct.pack(">BH", 0x10, rng.randint(8193, 0xFFFF)) + os.urandom(64),
        "65535-byte payload": lambda: _uuid() + frame(rng.choice([0x10, 0x12, 0xFF]), os.urandom(0xFFFF)),
        "zero-length UUID": lambda: frame(0x01),
        "zero-length frames after the UUID": lambda: _uuid() + frame(rng.choice([0x10, 0x03, 0x01, 0x12])),
        "wrong kind": lambda: frame(rng.choice(WRONG_KINDS), os.urandom(rng.randint(0, 320))),
        "wrong kind after the UUID": lambda: _uuid() + frame(0x10, bytes(320)) + frame(rng.choice(WRONG_KINDS), os.urandom(rng.randint(0, 320))),
        "second UUID mid-call": lambda: _uuid() + frame(0x10, bytes(320)) + _uuid(),
        "audio before the UUID": lambda: frame(0x10, os.urandom(320)) + _uuid(),
        "UUID of the wrong length": lambda: frame(0x01, os.urandom(rng.choice([1, 15, 17, 36]))),
        "odd-length audio": lambda: _uuid() + frame(0x10, os.urandom(rng.choice([1, 161, 319, 321]))),
        "bad DTMF": lambda: _uuid() + frame(0x03, rng.choice([b"", b"x", b"12", b"\xff", b"\x00"])),
        "error frame": lambda: _uuid() + frame(0xFF, os.urandom(rng.randint(0, 8))),
        "DTMF, never a UUID": lambda: frame(0x03, b"5") + frame(0x00),
        "hangup, never a UUID": lambda: frame(0x00),
    }


async def _drain(reader: asyncio.StreamReader, seconds: float) -> bool:
    """Read until the server closes (True) or `seconds` pass (False)."""
    try:
        async with asyncio.timeout(seconds):
            while await reader.read(65536):
                pass
        return True
    except (TimeoutError, ConnectionError):
        return False


ATTACK_FROM: str | None = None
"""The attacker's source address (--attacker-from), set in the attacking process; None: the kernel's choice."""


async def _connect(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A connection to the server from the attacker's address."""
    return await asyncio.open_connection("127.0.0.1", port, local_addr=(ATTACK_FROM, 0) if ATTACK_FROM else None)


async def _one(port: int, name: str, data: bytes, rst: bool, counts: dict) -> None:
    try:
        reader, writer = await _connect(port)
    except OSError:
        counts["connect failed"] = counts.get("connect failed", 0) + 1
        return
    closed = False
    try:
        writer.write(data)
        if rst:  # the peer vanishing mid-frame: RST instead of FIN
            writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
            return
        await writer.drain()
        closed = await _drain(reader, 1.0)
    except ConnectionError:
        closed = True
    finally:
        writer.close()
    if closed:
        counts["closed by the server"] = counts.get("closed by the server", 0) + 1
        counts[f"closed: {name}"] = counts.get(f"closed: {name}", 0) + 1


async def _slowloris(port: int, counts: dict) -> None:
    """A partial header, one byte every half second, never a whole frame."""
    try:
        reader, writer = await _connect(port)
    except OSError:
        counts["connect failed"] = counts.get("connect failed", 0) + 1
        return
    drip = frame(0x01, uuid.uuid4().bytes)
    try:
        for byte in drip[:-1]:
            writer.write(bytes([byte]))
            await writer.drain()
            if await _drain(reader, 0.5):
                counts["slowloris cut off"] = counts.get("slowloris cut off", 0) + 1
                return
    except ConnectionError:
        counts["slowloris cut off"] = counts.get("slowloris cut off", 0) + 1
    finally:
        writer.close()


async def _idle_wave(port: int, size: int, counts: dict) -> None:
    """`size` connections that never send a byte, held until the server closes them."""
    opened = []
    for _ in range(size):
        try:
            opened.append(await _connect(port))
        except OSError:
            counts["connect failed"] = counts.get("connect failed", 0) + 1
    counts["idle connections"] = counts.get("idle connections", 0) + len(opened)
    closed = await asyncio.gather(*(_drain(reader, 15) for reader, _ in opened))
    counts["idle cut off by the server"] = counts.get("idle cut off by the server", 0) + sum(closed)
    for _, writer in opened:
        writer.close()


async def attack(port: int, streams: int, concurrency: int, idle: int, seed: int) -> dict:
    rng = random.Random(seed)
    fast = _fast_streams(rng)
    names = list(fast)
    sent: dict[str, int] = {}
    counts: dict[str, int] = {}
    done = asyncio.Event()
    next_index = 0

    async def worker() -> None:
        nonlocal next_index
        while next_index < streams:
            next_index += 1
            roll = rng.random()
            if roll < 0.05:
                name, data, rst = "reset mid-frame after the UUID", _uuid() + frame(0x10, bytes(320)) + b"\x10\x01", True
            else:
                name = names[int(roll * 1000) % len(names)]
                data, rst = fast[name](), False
            sent[name] = sent.get(name, 0) + 1
            await _one(port, name, data, rst, counts)

    async def slow_lane() -> None:
        while not done.is_set():
            await asyncio.gather(*(_slowloris(port, counts) for _ in range(20)))
            sent["slowloris partial header"] = sent.get("slowloris partial header", 0) + 20

    async def idle_lane() -> None:
        while not done.is_set():
            await _idle_wave(port, idle, counts)
            sent["idle, no UUID ever"] = sent.get("idle, no UUID ever", 0) + idle

    started = time.monotonic()
    lanes = [asyncio.create_task(slow_lane())] + ([asyncio.create_task(idle_lane())] if idle else [])
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    done.set()
    await asyncio.gather(*lanes)
    return {"sent": sent, "counts": counts, "seconds": time.monotonic() - started}


def attack_process(port: int, streams: int, concurrency: int, idle: int, seed: int, results, attack_from: str | None = None) -> None:
    global ATTACK_FROM
    ATTACK_FROM = attack_from
    os.nice(19)  # it stands for another machine: sharing a core with the callers (Asterisk), it must not delay them
    results.put(asyncio.run(attack(port, streams, concurrency, idle, seed)))


# -- the run ------------------------------------------------------------------------------------


def alive_and_answering(process: subprocess.Popen, port: int) -> bool:
    """The server is running and greets a new call."""
    if process.poll() is not None:
        return False
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(frame(0x01, uuid.uuid4().bytes))
        sock.settimeout(10)
        header = sock.recv(3)
        return len(header) == 3 and header[0] == 0x10


def progress(text: str) -> None:
    print(f"fuzz: {text}", file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--streams", type=int, default=5000, help="malformed streams to send (default 5000)")
    parser.add_argument("--concurrency", type=int, default=16, help="connections sending malformed streams at once")
    parser.add_argument("--idle", type=int, default=1000, help="idle connections held open at once, in waves")
    parser.add_argument("--calls", type=int, default=2, help="real calls idle, and at least as many under fuzz")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--rounds", type=int, default=1, help="attack this many times over (is memory back to a plateau?)")
    parser.add_argument("--warm-up", type=int, default=4, help="calls placed at once before the baseline (default 4; 0: none)")
    parser.add_argument("--settle", type=float, default=60, help="seconds to watch the idle server after the attack (default 60)")
    parser.add_argument("--pin", action="store_true",
                        help="the server on CPU 0, this script, its callers and the attacker on the others: the "
                             "attacker's CPU is not the server's, as with an attacker on another machine")
    parser.add_argument("--attacker-from", metavar="ADDR",
                        help="the attacker's source address, e.g. 127.0.0.2: another host, as far as the server can tell")
    parser.add_argument("--allow", nargs="+", metavar="ADDR", default=[],
                        help="server.allowed_sources for the server (e.g. 127.0.0.1: only the real calls' Asterisk)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (server log, records)")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="apoena-fuzz-"))
    server_cpus = None
    if args.pin:
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) < 2:
            raise SystemExit("--pin needs two CPUs at least")
        server_cpus = {cpus[0]}
        os.sched_setaffinity(0, cpus[1:])  # this process, its callers and the attacker it starts
        progress(f"pinned: the server on CPU {cpus[0]}, the callers and the attacker on {cpus[1:]}")
    process, port, log = start_server(folder, server_cpus, args.allow)
    pid = process.pid
    calls: list[dict] = []

    def place(when: str, at_once: int = 1) -> None:
        callers = [Caller(port) for _ in range(at_once)]

        async def all_calls() -> list[list[float]]:
            return await asyncio.gather(*(caller.call() for caller in callers))

        for caller, heard in zip(callers, asyncio.run(all_calls())):
            outcome = ended_right(log, caller.call_id)
            calls.append({"when": when, "outcome": outcome, "hung_up": caller.hung_up.is_set(), "heard": heard,
                          "served": server_latencies(folder, caller.call_id)})  # fmt: skip

    try:
        for _ in range(args.calls):
            place("idle")
        if args.warm_up:
            place("warm-up, at once", args.warm_up)
        time.sleep(MEASURE_AFTER_SECONDS)  # as long as after each round: like for like
        before, fds_before, threads_before = usage(pid), fd_targets(pid), threads(pid)
        progress(f"baseline: RSS {before[0]:.0f} MiB, {before[1]} fds (server pid {pid}); the attack starts")

        samples: list[tuple[str, float, int]] = []  # (phase, RSS, fds)
        phase = "during"
        stop = False

        def sample() -> None:
            while not stop:
                if process.poll() is None:
                    samples.append((phase, *usage(pid)))
                time.sleep(0.5)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        attack = {"sent": {}, "counts": {}, "seconds": 0.0}
        after_rounds: list[tuple[float, int]] = []
        for round_ in range(args.rounds):
            results: multiprocessing.Queue = multiprocessing.Queue()
            attacker = multiprocessing.Process(
                target=attack_process, args=(port, args.streams, args.concurrency, args.idle, args.seed + round_, results, args.attacker_from)
            )
            attacker.start()
            time.sleep(2)  # the attack is under way before the call starts
            placed = 0
            while attacker.is_alive() or placed < args.calls:
                place("under fuzz" if attacker.is_alive() else "after fuzz")
                placed += 1
            done = results.get(timeout=3600)
            attacker.join()
            for key in ("sent", "counts"):
                for name, count in done[key].items():
                    attack[key][name] = attack[key].get(name, 0) + count
            attack["seconds"] += done["seconds"]
            phase = "between rounds"
            time.sleep(MEASURE_AFTER_SECONDS)  # the last connections close
            after_rounds.append(usage(pid))
            progress(f"round {round_ + 1}: {MEASURE_AFTER_SECONDS:g} s after: RSS {after_rounds[-1][0]:.0f} MiB, {after_rounds[-1][1]} fds")
            phase = "during"
        phase = "settling"
        progress(f"watching the idle server for {args.settle:g} s")
        time.sleep(args.settle)
        stop = True
        sampler.join()

        settled = time.monotonic()
        after = usage(pid)
        while time.monotonic() - settled < 30 and after[1] > before[1]:
            time.sleep(1)
            after = usage(pid)
        fds_after = fd_targets(pid)
        peak, threads_after = peak_rss(pid), threads(pid)
        answering = alive_and_answering(process, port)
    finally:
        process.terminate()
        try:
            code = process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            code = process.wait()
    text = log.read_text(errors="replace")
    errors = [line for line in text.splitlines() if line.split(" ", 3)[2:3] == ["ERROR"]]
    if args.keep:
        print(f"kept: {folder}")
    else:
        shutil.rmtree(folder, ignore_errors=True)

    sent = attack["sent"]
    total = sum(sent.values())
    idle = sent.get("idle, no UUID ever", 0)
    print(f"apoena serve under fuzz: {total:,} malformed streams in {attack['seconds']:.0f} s: {total - idle:,} with bytes "
          f"({args.concurrency} connections at once, slowloris 20 at once) and {idle:,} idle (waves of {args.idle} at once)")  # fmt: skip
    counts = attack["counts"]
    print("  sent      closed by the server within 1 s (the rest: still a call, ended by our close)")
    for name, count in sorted(sent.items(), key=lambda item: -item[1]):
        closed = counts.get(f"closed: {name}")
        print(f"  {count:>8,}  {'' if closed is None else f'{closed:>8,}'}  {name}")
    for name, count in sorted(counts.items()):
        if not name.startswith("closed: "):
            print(f"  result: {name}: {count:,}")
    crashed = 0 if answering else 1
    print(f"server crashes: {crashed} (alive and greeting a new call afterwards: {answering}; exit code at SIGTERM {code})")
    print(f"tracebacks in the server log: {text.count('Traceback')}; ERROR lines: {len(errors)}")
    for line in sorted(set(re.sub(r"[0-9a-f]{8}-[0-9a-f-]{27}", "<id>", line[line.find("ERROR"):])[:160] for line in errors))[:8]:
        print(f"  {line}")
    for call in calls:
        print(f"real call ({call['when']}): ended {call['outcome']!r}, hung up by the concierge: {call['hung_up']}, "
              f"reply latency as served {[round(x) for x in call['served']]} ms, as heard {[round(x) for x in call['heard']]} ms")  # fmt: skip
    for what in ("served", "heard"):
        idle = [x for c in calls if c["when"] == "idle" for x in c[what]]
        fuzz = [x for c in calls if c["when"] == "under fuzz" for x in c[what]]
        if idle and fuzz:
            a, b = statistics.median(idle), statistics.median(fuzz)
            print(f"reply latency p50 ({what}): idle {a:.0f} ms ({len(idle)} turns), under fuzz {b:.0f} ms ({len(fuzz)} turns): {100 * (b - a) / a:+.0f} %")
    rss_during = [rss for when, rss, _ in samples if when == "during"] or [float("nan")]
    fds_during = [fds for when, _, fds in samples if when == "during"] or [0]
    rss_settling = [rss for when, rss, _ in samples if when == "settling"] or [after[0]]
    print(f"server RSS: before {before[0]:.0f} MiB, during median {statistics.median(rss_during):.0f} / max {max(rss_during):.0f} MiB, "
          f"{MEASURE_AFTER_SECONDS:g} s after the attack {after_rounds[-1][0]:.0f} MiB, after {args.settle:g} s idle {after[0]:.0f} MiB "
          f"(lowest {min(rss_settling):.0f}); peak ever (VmHWM) {peak:.0f} MiB")  # fmt: skip
    if len(after_rounds) > 1:
        print(f"server RSS {MEASURE_AFTER_SECONDS:g} s after each round: " + ", ".join(f"{rss:.0f} MiB" for rss, _ in after_rounds)
              + "; open fds: " + ", ".join(str(fds) for _, fds in after_rounds))  # fmt: skip
    print(f"server threads: before {threads_before}, after {threads_after}")
    print(f"server open fds: before {before[1]}, during median {statistics.median(fds_during):.0f} / max {max(fds_during)}, after {after[1]}")
    extra = list(fds_after)
    for target in fds_before:
        if target in extra:
            extra.remove(target)
    for target in [t for t in fds_before if t.startswith("tcp")]:  # ports differ from run to run
        match = next((e for e in extra if e.startswith("tcp") and e.split()[-1] == target.split()[-1]), None)
        if match:
            extra.remove(match)
    if extra:
        print(f"  fds open after but not before: {extra}")
    print(verdict(before, after, args.settle, extra, after_rounds))


def verdict(before: tuple[float, int], after: tuple[float, int], settle: float, extra: list[str], rounds: list[tuple[float, int]]) -> str:
    """One line: are RSS and the open fds back to their baseline once the server has been idle?"""
    grown = after[0] - before[0]
    rss = (f"RSS back to baseline: {'yes' if grown <= RSS_TOLERANCE_MIB else 'NO'} "
           f"({before[0]:.0f} → {after[0]:.0f} MiB after {settle:g} s idle, {grown:+.0f} MiB; tolerance {RSS_TOLERANCE_MIB} MiB)")  # fmt: skip
    if len(rounds) > 1:
        growth = rounds[-1][0] - rounds[0][0]
        rss += (f"; after each round: {', '.join(f'{mib:.0f}' for mib, _ in rounds)} MiB "
                f"({'no growth' if growth <= ROUND_GROWTH_MIB else 'GROWING'}, {growth:+.0f} MiB after the first)")  # fmt: skip
    if not extra and after[1] <= before[1]:
        fds = f"fds back to baseline: yes ({before[1]} → {after[1]})"
    else:
        kinds = ", ".join(f"{extra.count(kind)} {kind}" for kind in sorted(set(extra))) or "none by kind"
        fds = f"fds back to baseline: NO ({before[1]} → {after[1]}: {kinds})"
        if extra and all(kind.endswith("redis.socket") for kind in extra):
            fds += " — the Redis client's pool keeps a connection per thread that used it at once"
        if len(rounds) > 1:
            counts = [count for _, count in rounds]
            fds += f"; after each round: {', '.join(map(str, counts))} ({'no growth' if len(set(counts)) == 1 else 'GROWING'})"
    return f"verdict: {rss}; {fds}"


if __name__ == "__main__":
    main()
