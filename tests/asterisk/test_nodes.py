"""Several nodes behind one real Asterisk 22.10.1: the dialplan of docs/asterisk.md §7 ("Several nodes")
spreads calls over two `apoena serve` and fails over when one is killed mid-shift; kept out of CI, run with

    APOENA_ASTERISK=/work/asterisk .venv/bin/python -m pytest -n 0 tests/asterisk/test_nodes.py -v -s

Asterisk runs the documented [globals], [condominio-jardins] and [portaria-nodes] as written, with the
node list pointed at two real `apoena serve` (real Whisper, espeak-ng for speed) sharing a real
PostgreSQL (records) and a real redis-server (memory and live calls), as tests/test_two_nodes.py does,
and the doorman's `PJSIP/porteiro` replaced by a test phone. Every visitor is an AMI Originate of
Local/s@condominio-jardins whose other half is this test's AudioSocket phone: it listens through the
greeting, says the recorded delivery for Joana Prado, then waits. Apoena rings her (Local/104@phones,
busy at once), tells the visitor nobody answered and hangs up with APOENA_DECISION=no_answer, so a
call that ends right raises `ApoenaGate` with a decision and the node that held it.

1. Two calls: one on each node.
2. A third call starts on node A; once A has recorded a turn of it, A is killed (SIGKILL). That visitor
   goes to the doorman (A's socket closed: SUCCESS without a decision) or, if the kernel reset the
   connection, to node B.
3. Three more calls: each ends right on node B; those whose turn started on A show `ApoenaNodeDown`.
4. `apoena calls` (PostgreSQL) holds every call the events name, none else, each under its node and
   condominium; the killed call is `interrupted`.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from concierge.audio.pcm import FRAME_BYTES, read_audio_file
from concierge.audiosocket.protocol import Audio, Hangup
from concierge.audiosocket.server import AudioSocketServer, Connection
from concierge.call.condominiums import condominium_code
from tests.conftest import free_port
from tests.servers import debian_redis, postgres_cluster, postgres_url  # noqa: F401 (fixtures)

from .real import CORE_MODULES, FALLBACK_MODULES, NODES_MODULES, PLAYBACK_MODULES, ROOT, RealAsterisk, needs_asterisk, originate, stop_process

pytestmark = needs_asterisk

GREETING_SECONDS = 4.5  # the visitor listens this long before speaking
TERMINAL = ("ApoenaGate", "ApoenaDown")  # the last user event of every visitor's leg

TEST_CONTEXTS = """
; test only: the doorman's phone, and Joana's phone, busy at once
[phones]
exten => porteiro,1,UserEvent(PorteiroRang)
 same => n,Answer()
 same => n,Wait(0.5)
 same => n,Hangup()
exten => 104,1,Hangup(17)
"""


def documented_nodes_dialplan() -> str:
    """The dialplan block of docs/asterisk.md's "Several nodes" section, as written."""
    text = (ROOT / "docs" / "asterisk.md").read_text()
    section = text[text.index("## 7. Several nodes") :]
    return re.search(r"```\n(\[globals\].*?)```", section, re.S).group(1)


def nodes_dialplan(ports: list[int]) -> str:
    dialplan = documented_nodes_dialplan()
    listed = re.search(r"^APOENA_NODES=(\S+)", dialplan, re.M)
    assert listed, "the documented [globals] names APOENA_NODES"
    dialplan = dialplan.replace(listed.group(0), "APOENA_NODES=" + "&".join(f"127.0.0.1:{port}" for port in ports))
    return dialplan.replace("PJSIP/porteiro", "Local/porteiro@phones") + TEST_CONTEXTS


class Node:
    """One `apoena serve` process with its AudioSocket and page ports; its log in a file."""

    def __init__(self, name: str, port: int) -> None:
        self.name, self.port, self.web_port = name, port, free_port()
        self.address = f"127.0.0.1:{port}"
        self.process: subprocess.Popen | None = None
        self.log = Path()

    def start(self, config: Path, env: dict[str, str], folder: Path) -> None:
        self.log = folder / f"node-{self.name}.log"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "concierge", "serve", "--config", str(config), "--port", str(self.port), "--web-port", str(self.web_port)],
            stdout=subprocess.PIPE, stderr=self.log.open("wb"), cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        )  # fmt: skip

    def wait_ready(self) -> None:
        line = self.process.stdout.readline().decode()
        assert f"ready on {self.address}" in line, self.log.read_text()[-3000:]

    def live(self) -> list[dict]:
        """The central's live calls (every node's, from Redis), each with its node."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.web_port}/api/live", timeout=5) as response:
            return json.load(response)["calls"]

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)


class VisitorPhones:
    """Each visitor's phone: hears the greeting, says the recorded delivery, then waits (60 s at most)."""

    def __init__(self) -> None:
        self.speech = read_audio_file(ROOT / "fixtures" / "calls" / "entrega.slin")

    async def handle(self, connection: Connection) -> None:
        async def listen() -> None:
            async for message in connection:
                if isinstance(message, Hangup):
                    return
                assert isinstance(message, Audio)

        listening = asyncio.create_task(listen())
        audio = bytes(int(GREETING_SECONDS * 16000)) + self.speech
        loop = asyncio.get_running_loop()
        start = loop.time()
        try:
            for tick in range(1, 60 * 50):
                if listening.done():
                    break
                frame = audio[(tick - 1) * FRAME_BYTES : tick * FRAME_BYTES]
                await connection.send_audio(frame.ljust(FRAME_BYTES, b"\0"))
                await asyncio.sleep(max(0.0, start + tick * 0.02 - loop.time()))
        except ConnectionError:
            pass
        finally:
            listening.cancel()
            connection.close()


class Events:
    """Every UserEvent Asterisk raises, in order, with the time it came."""

    def __init__(self) -> None:
        self.seen: list[dict[str, str]] = []
        self.changed = asyncio.Event()

    async def collect(self, ami) -> None:
        async for event in ami.events():
            if event.event == "UserEvent":
                self.seen.append(dict(event.headers))
                self.changed.set()

    def named(self, *names: str) -> list[dict[str, str]]:
        return [e for e in self.seen if e.get("UserEvent") in names]

    async def wait_for(self, count: int, names: tuple[str, ...] = TERMINAL, timeout: float = 120) -> list[dict[str, str]]:
        """Wait until `count` events of these names have come; all of them."""
        async with asyncio.timeout(timeout):
            while len(self.named(*names)) < count:
                self.changed.clear()
                await self.changed.wait()
        return self.named(*names)


async def place(ami, count: int, phones_port: int, gap: float = 1.0) -> None:
    for index in range(count):
        if index:
            await asyncio.sleep(gap)
        await originate(ami, "Local/s@condominio-jardins", "AudioSocket", f"{uuid.uuid4()},127.0.0.1:{phones_port}")


def central(tmp_path: Path, postgres_url: str, redis_url: str) -> tuple[list[Node], RealAsterisk, Path, dict[str, str]]:
    """Two nodes (not started), the real Asterisk running docs/asterisk.md §7 over them (not
    started), their config.json (condominium jardins, Joana's phone busy at once) and environment."""
    directory = json.loads((ROOT / "data" / "apartamentos.json").read_text())
    for unit in directory:
        if unit["apartment_number"] == "104":
            unit["dial"] = ["Local/104@phones"]
    (tmp_path / "jardins.json").write_text(json.dumps(directory, ensure_ascii=False))
    nodes = [Node("a", free_port()), Node("b", free_port())]
    dialplan = nodes_dialplan([node.port for node in nodes])
    asterisk = RealAsterisk(tmp_path / "asterisk", dialplan, CORE_MODULES + FALLBACK_MODULES + NODES_MODULES + PLAYBACK_MODULES)
    config = tmp_path / "config.json"
    config.write_text(json.dumps({
        "directory": {"path": str(ROOT / "data" / "apartamentos.json")},
        "records": {"path": "calls.db"},
        "speech": {"tts_engine": "espeak", "cache_dir": str(tmp_path / "cache")},
        "asterisk": {"ami": {"port": asterisk.ami_port}, "ring_seconds": 5},
        "condominiums": [{"id": "jardins", "code": 1, "name": "Condomínio Jardins", "directory": str(tmp_path / "jardins.json")}],
    }))  # fmt: skip
    env = {"DATABASE_URL": postgres_url, "REDIS_URL": redis_url, "APOENA_ASTERISK__AMI__SECRET": asterisk.secret}
    return nodes, asterisk, config, env


def run_central(nodes: list[Node], asterisk: RealAsterisk, config: Path, envs: list[dict[str, str]], folder: Path, events: Events, calls) -> None:
    """Start the nodes (each with its environment) and Asterisk, answer the visitors' legs with
    VisitorPhones on a free port, collect the user events, run `calls(ami, phones_port)`; stop
    everything, whatever happens."""
    phones, phones_port = VisitorPhones(), free_port()

    async def scenario() -> None:
        server = AudioSocketServer(phones.handle, "127.0.0.1", phones_port)
        await server.start()
        ami = await asterisk.manager()
        collecting = asyncio.create_task(events.collect(ami))
        await asyncio.sleep(0.2)
        try:
            await calls(ami, phones_port)
        finally:
            collecting.cancel()
            await ami.close()
            await server.close(2)

    try:
        for node, env in zip(nodes, envs):
            node.start(config, env, folder)
        for node in nodes:
            node.wait_ready()
        asterisk.start()
        asyncio.run(scenario())
    finally:
        for node in nodes:
            node.stop()
        asterisk.stop()


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_calls_spread_over_two_nodes_and_all_go_to_the_other_once_one_is_killed_mid_shift(postgres_url, debian_redis, tmp_path):  # noqa: F811
    nodes, asterisk, config, env = central(tmp_path, postgres_url, debian_redis.url)
    node_a, node_b = nodes
    events = Events()
    found: dict[str, object] = {}

    async def calls(ami, phones_port: int) -> None:
        await place(ami, 2, phones_port)  # 1. spread
        found["spread"] = await events.wait_for(2)

        await place(ami, 1, phones_port)  # 2. a call on A, A killed once it has a turn
        deadline = time.monotonic() + 60
        while not (on_a := [c for c in await asyncio.to_thread(node_a.live) if c["node"].endswith(f":{node_a.port}") and c["turn_count"] >= 1]):
            assert time.monotonic() < deadline, "the third call never reached node A"
            await asyncio.sleep(0.3)
        found["killed"] = on_a[0]["call_id"]
        node_a.process.send_signal(signal.SIGKILL)
        await asyncio.to_thread(node_a.process.wait, 10)
        async with asyncio.timeout(90):  # the killed call's leg leaves node A: to the doorman, or to node B
            while not (went := [e for e in events.named("ApoenaDown", "ApoenaNodeDown") if e.get("Call") == found["killed"]]):
                events.changed.clear()
                await events.changed.wait()
        found["killed_went"] = went[0]
        found["moved_at"] = len(events.seen)
        killed_leg = went[0]["Channel"]  # the visitor's channel: its last event is the retry's, if it moved to B

        def others() -> list[dict[str, str]]:
            return [e for e in events.seen[found["moved_at"] :] if e.get("UserEvent") in TERMINAL and e["Channel"] != killed_leg]

        await place(ami, 3, phones_port)  # 3. the next calls
        async with asyncio.timeout(180):  # the three, and the killed call's visitor wherever it went
            while len(others()) < 3 or not any(e["Channel"] == killed_leg for e in events.named(*TERMINAL)):
                events.changed.clear()
                await events.changed.wait()
        found["after"] = others()
        await asyncio.sleep(1)

    run_central(nodes, asterisk, config, [env, env], tmp_path, events, calls)

    seen = events.seen
    names = {node_a.address: "A", node_b.address: "B"}
    summary = [(e.get("UserEvent"), names.get(e.get("Node", ""), e.get("Node")), e.get("Status") or e.get("Decision"), e.get("Call")) for e in seen]
    print("\nuser events (event, node, status or decision, call id):\n" + "\n".join(" ".join(map(str, line)) for line in summary))
    spread = found["spread"]
    assert [e.get("UserEvent") for e in spread] == ["ApoenaGate", "ApoenaGate"], summary
    assert {e["Node"] for e in spread} == {node_a.address, node_b.address}, f"one call on each node: {summary}"
    after = found["after"]
    assert all(e.get("UserEvent") == "ApoenaGate" and e["Node"] == node_b.address and e["Decision"] for e in after), summary
    moved = [e for e in seen[found["moved_at"] :] if e.get("UserEvent") == "ApoenaNodeDown"]
    assert moved and all(e["Node"] == node_a.address for e in moved), f"a call started on the killed node and moved on: {summary}"
    killed, killed_went = found["killed"], found["killed_went"]
    if killed_went["UserEvent"] == "ApoenaDown":
        assert killed_went["Status"] == "SUCCESS" and any(e.get("UserEvent") == "PorteiroRang" for e in seen), summary

    named_ids = {e["Call"] for e in seen if e.get("Call")}
    listing: dict[str, dict] = {}
    deadline = time.monotonic() + 25  # node B marks A's open calls interrupted within 17 s of A's last beat
    while listing.get(killed, {}).get("outcome") != "interrupted":
        assert time.monotonic() < deadline, f"the killed call is not interrupted: {listing.get(killed)}"
        time.sleep(1)
        shown = subprocess.run([sys.executable, "-m", "concierge", "calls", "--json", "--config", str(config)], capture_output=True,
                               cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT), "DATABASE_URL": postgres_url}, check=True)  # fmt: skip
        listing = {call["call_id"]: call for call in json.loads(shown.stdout)["calls"]}
    ended_right = {e["Call"]: e["Node"] for e in seen if e.get("UserEvent") == "ApoenaGate"}
    assert set(ended_right) <= set(listing), "every call that ended right is recorded"
    assert set(listing) <= named_ids, "no record the events do not explain"
    for call_id, node in ended_right.items():
        call = listing[call_id]
        assert call["node"].endswith(f":{node.rsplit(':', 1)[1]}") and call["outcome"] == "completed", call
    for call in listing.values():
        assert call["condominium"] == "jardins" and condominium_code(call["call_id"]) == 1, call
        assert call["call_id"] == killed or call["outcome"] not in ("live", "interrupted"), f"every other call ended: {call}"
    assert listing[killed]["node"].endswith(f":{node_a.port}") and listing[killed]["turn_count"] >= 1
    figures = {"calls": len(listing), "on_a": sum(c["node"].endswith(f":{node_a.port}") for c in listing.values()),
               "on_b": sum(c["node"].endswith(f":{node_b.port}") for c in listing.values()), "killed_call_went": killed_went["UserEvent"]}  # fmt: skip
    print("records:", json.dumps(figures))


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_node_at_max_calls_passes_the_next_call_to_the_other_node(postgres_url, debian_redis, tmp_path):  # noqa: F811
    """Node A holds one call at most (server.max_calls = 1). Three calls, one a second: the first
    starts on A, the second on B, the third on A again while A is still busy with the first: A
    resets it, the dialplan raises ApoenaNodeDown for A and B takes the visitor. All three end right."""
    nodes, asterisk, config, env = central(tmp_path, postgres_url, debian_redis.url)
    node_a, node_b = nodes
    events = Events()
    metrics: dict[str, str] = {}

    async def calls(ami, phones_port: int) -> None:
        await place(ami, 3, phones_port)
        await events.wait_for(3, timeout=180)
        with urllib.request.urlopen(f"http://127.0.0.1:{node_a.web_port}/metrics", timeout=5) as response:
            metrics["a"] = response.read().decode()

    run_central(nodes, asterisk, config, [{**env, "APOENA_SERVER__MAX_CALLS": "1"}, env], tmp_path, events, calls)

    names = {node_a.address: "A", node_b.address: "B"}
    summary = [(e.get("UserEvent"), names.get(e.get("Node", ""), e.get("Node")), e.get("Status") or e.get("Decision")) for e in events.seen]
    print("\nuser events (event, node, status or decision):\n" + "\n".join(" ".join(map(str, line)) for line in summary))
    ended = events.named(*TERMINAL)
    assert [e.get("UserEvent") for e in ended] == ["ApoenaGate"] * 3 and all(e["Decision"] for e in ended), summary
    down = events.named("ApoenaNodeDown")
    assert [e["Node"] for e in down] == [node_a.address], f"the third call was passed on by busy A: {summary}"
    assert sorted(names[e["Node"]] for e in ended) == ["A", "B", "B"], summary
    assert 'apoena_refused_connections_total{reason="busy"} 1.0' in metrics["a"]
