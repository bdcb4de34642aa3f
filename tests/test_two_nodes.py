"""Two `apoena serve` nodes sharing a real PostgreSQL (records) and a real Redis (live state and
memory): node A's page shows a call live on node B; node A killed with -9 mid-call loses nothing of
B's call and shows its own as interrupted; one `apoena calls` lists both, each with its node."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid

import pytest

from concierge.audiosocket.client import AudioSocketClient
from concierge.audiosocket.protocol import Hangup
from concierge.call.records import CallRecords
from tests.servers import debian_redis, free_port, postgres_cluster, postgres_url  # noqa: F401 (fixtures)
from tests.test_cli import ROOT, run

ENTREGA = ROOT / "fixtures" / "calls" / "entrega.slin"


class Node:
    """One `apoena serve` process on its own AudioSocket and page ports."""

    def __init__(self, config, env: dict[str, str]) -> None:
        self.port, self.web_port = free_port(), free_port()
        self.name = f"{socket.gethostname()}:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "concierge", "serve", "--config", str(config), "--port", str(self.port), "--web-port", str(self.web_port)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        )  # fmt: skip

    def wait_ready(self) -> None:
        line = self.process.stdout.readline().decode()
        assert f"ready on 127.0.0.1:{self.port}" in line, self.process.stderr.read().decode()[-3000:]

    def live(self) -> list[dict]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.web_port}/api/live", timeout=5) as response:
            return json.load(response)["calls"]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)


async def call_until_a_turn_is_recorded(node: Node, records: CallRecords) -> tuple[AudioSocketClient, str, asyncio.Task]:
    """Call `node` with the recorded delivery in real time until its first turn is in the records;
    the line stays open, sending silence, until the returned task is cancelled."""
    client = await AudioSocketClient.connect("127.0.0.1", node.port, uuid.uuid4())
    call_id = str(client.call_id)
    loop = asyncio.get_running_loop()
    pcm = ENTREGA.read_bytes()
    turned = asyncio.Event()

    async def talk() -> None:
        start, frame = loop.time(), 0
        while True:
            chunk = pcm[frame * 320 : (frame + 1) * 320]
            await client.send_audio(chunk.ljust(320, b"\x00"))
            if frame % 10 == 0 and not turned.is_set():
                recorded = await asyncio.to_thread(records.get, call_id)
                if recorded is not None and recorded.turns:
                    turned.set()
            frame += 1
            await asyncio.sleep(max(0.0, start + frame * 0.02 - loop.time()))

    async def listen() -> None:
        while not isinstance(await client.receive(), Hangup):
            pass

    line = asyncio.gather(talk(), listen(), return_exceptions=True)
    await asyncio.wait_for(turned.wait(), 60)
    return client, call_id, line


async def hang_up(line: asyncio.Future, client: AudioSocketClient) -> None:
    line.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await line
    await client.close()


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_two_nodes_share_live_calls_and_records_and_a_killed_node_loses_nothing(postgres_url, debian_redis, tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"directory": {"path": str(ROOT / "data" / "apartamentos.json")}, "records": {"path": "calls.db"}}))
    env = {"DATABASE_URL": postgres_url, "REDIS_URL": debian_redis.url}
    node_a, node_b = Node(config, env), Node(config, env)
    try:
        node_a.wait_ready()
        node_b.wait_ready()

        async def scenario() -> tuple[str, str]:
            with CallRecords(postgres_url, spool=tmp_path / "reader-spool.db") as records:
                client_b, on_b, line_b = await call_until_a_turn_is_recorded(node_b, records)
                seen = await asyncio.to_thread(node_a.live)
                assert [(call["call_id"], call["node"]) for call in seen] == [(on_b, node_b.name)], "A's page shows B's live call"
                assert seen[0]["turn_count"] >= 1 and any(line["role"] == "visitor" for line in seen[0]["lines"])

                client_a, on_a, line_a = await call_until_a_turn_is_recorded(node_a, records)
                node_a.process.send_signal(signal.SIGKILL)  # mid-call: no shutdown, no CallEnded
                await asyncio.to_thread(node_a.process.wait, 10)
                await hang_up(line_a, client_a)

                await hang_up(line_b, client_b)  # B's caller hangs up: B ends and records its call as usual
                deadline = time.monotonic() + 15
                while (await asyncio.to_thread(records.get, on_b)).outcome == "live":
                    assert time.monotonic() < deadline, "B did not record its call's end"
                    await asyncio.sleep(0.1)
                return on_a, on_b

        on_a, on_b = asyncio.run(scenario())
        listing = run(["calls", "--json", "--config", str(config)], env={"DATABASE_URL": postgres_url})
        assert listing.returncode == 0, listing.stderr.decode()
        calls = {call["call_id"]: call for call in json.loads(listing.stdout)["calls"]}
        assert set(calls) == {on_a, on_b}
        assert (calls[on_b]["node"], calls[on_b]["outcome"]) == (node_b.name, "caller_hung_up") and calls[on_b]["turn_count"] >= 1
        assert (calls[on_a]["node"], calls[on_a]["outcome"]) == (node_a.name, "interrupted") and calls[on_a]["turn_count"] >= 1
        deadline = time.monotonic() + 3 * 5.0 + 5  # the live state's TTL: three heartbeats of 5 s
        while any(call["node"] == node_a.name for call in node_b.live()):
            assert time.monotonic() < deadline, "B's page still shows the killed node's call"
            time.sleep(0.5)
    finally:
        node_a.stop()
        node_b.stop()
    assert not (tmp_path / "calls.db").exists(), "nothing went to SQLite"
