"""Live call state shared through a real redis-server (Debian's): a call on node A is seen on node
B (also through B's /api/live), a node joining late sees calls already live, a node leaving takes
its calls with it, a killed node's calls expire (TTL + heartbeat), Redis restarting mid-call."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid

import pytest
import redis
from starlette.testclient import TestClient

from concierge.brain.reply import Reply
from concierge.call.events import CallEnded, CallStarted, Outcome, StateChanged, Turn
from concierge.call.records import CallRecords
from concierge.config import CallState
from concierge.store.live import NODES, LiveBoard, LiveStateUnavailable, node_key
from concierge.web.app import create_app
from concierge.web.live import LiveCalls, open_live_calls
from concierge.web.metrics import CallMetrics
from tests.servers import REDIS_SERVER, RedisProcess, debian_redis, free_port  # noqa: F401 (fixtures)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GREETING = "Condomínio Apoena, em que posso ajudar?"


def turn(call_id: str, index: int, text: str, answer: str) -> Turn:
    reply = Reply.model_validate({"mensagem": answer, "dados": {"intent_type": "entrega"}, "valid_for_action": False, "set_call_status": "USER_TURN"})
    return Turn(call_id, index, "speech", text, reply, 310.0, 4.0, 55.0, 900.0)


def start_call(live: LiveCalls, call_id: str | None = None) -> str:
    call_id = call_id or str(uuid.uuid4())
    live.observer(CallStarted(call_id, f"conversa-{call_id[:4]}"))
    live.observer(StateChanged(call_id, CallState.USER_TURN))
    live.observer(turn(call_id, 1, "Tenho uma entrega para a Joana Prado.", "Qual é o seu nome?"))
    return call_id


def until(condition, seconds: float = 10.0, step: float = 0.02) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(step)


def ids(live: LiveCalls) -> set[str]:
    return {call["call_id"] for call in live.snapshot()}


@pytest.fixture
def nodes(debian_redis):
    """Two nodes' live calls sharing the test Redis (short heartbeats), closed after."""
    opened = []

    def node(name: str, heartbeat_seconds: float = 0.5) -> LiveCalls:
        live = LiveCalls(GREETING, board=LiveBoard(debian_redis.url, name, heartbeat_seconds).start())
        opened.append(live)
        return live

    yield node
    for live in opened:
        live.close()
    redis.Redis.from_url(debian_redis.url).flushall()


def test_a_live_call_on_node_a_is_seen_on_node_b_tagged_with_its_node(nodes, tmp_path):
    node_a, node_b = nodes("node-a"), nodes("node-b")
    call_id = start_call(node_a)
    until(lambda: call_id in ids(node_b))
    (seen,) = node_b.snapshot()
    assert (seen["node"], seen["state"], seen["turn_count"], seen["conversation_id"]) == ("node-a", "USER_TURN", 1, f"conversa-{call_id[:4]}")
    assert [line["text"] for line in seen["lines"]] == [GREETING, "Tenho uma entrega para a Joana Prado.", "Qual é o seu nome?"]
    assert node_b.get(call_id)["node"] == "node-a" and len(node_b) == 0 and len(node_a) == 1

    theirs = start_call(node_b)
    until(lambda: ids(node_a) == {call_id, theirs})
    assert {call["call_id"]: call["node"] for call in node_a.snapshot()} == {call_id: "node-a", theirs: "node-b"}

    with CallRecords(tmp_path / "calls.db") as records:  # node B's page
        client = TestClient(create_app(records, node_b, CallMetrics()), base_url="http://127.0.0.1:8080")
        live = client.get("/api/live").json()["calls"]
        assert {(call["call_id"], call["node"]) for call in live} == {(call_id, "node-a"), (theirs, "node-b")}
        assert client.get("/api/stats").json()["active_here"] == 1
        client.close()

    node_a.observer(turn(call_id, 2, "Meu nome é Carlos.", "Obrigado, Carlos."))
    until(lambda: (node_b.get(call_id) or {}).get("turn_count") == 2)
    node_a.observer(CallEnded(call_id, Outcome.COMPLETED, "visit complete"))
    until(lambda: ids(node_b) == {theirs})
    assert node_b.get(call_id) is None


def test_a_node_joining_late_sees_the_calls_already_live(nodes):
    node_a = nodes("node-a")
    call_id = start_call(node_a)
    time.sleep(0.2)
    node_b = nodes("node-b")
    until(lambda: call_id in ids(node_b))  # from loading the board: heartbeats carry no calls, and no call changed since
    assert node_b.get(call_id)["turn_count"] == 1


def test_a_node_closing_takes_its_calls_off_the_board_at_once(nodes, debian_redis):
    node_a, node_b = nodes("node-a", heartbeat_seconds=30), nodes("node-b", heartbeat_seconds=30)
    call_id = start_call(node_a)
    until(lambda: call_id in ids(node_b))
    key = node_key(node_a.board.node_id)
    node_a.close()
    until(lambda: call_id not in ids(node_b), seconds=2)  # not after the 90 s TTL: at once
    assert not redis.Redis.from_url(debian_redis.url).exists(key)


def test_a_killed_nodes_calls_expire_and_a_living_nodes_are_kept_by_its_heartbeat(nodes, debian_redis):
    node_b = nodes("node-b", heartbeat_seconds=0.3)
    node_a = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys, time
            from concierge.store.live import LiveBoard
            from concierge.web.live import LiveCalls
            from tests.web.test_live_redis import start_call
            live = LiveCalls(board=LiveBoard({debian_redis.url!r}, "node-a", heartbeat_seconds=0.3).start())
            print(start_call(live), live.board.node_id, flush=True)
            time.sleep(600)
        """)],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": ROOT}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        call_id, node_id = node_a.stdout.readline().split()
        until(lambda: call_id in ids(node_b))
        time.sleep(2.0)  # more than twice the TTL (0.9 s): only the heartbeat keeps the call on the board
        assert call_id in ids(node_b)
        assert redis.Redis.from_url(debian_redis.url).exists(node_key(node_id))
    finally:
        node_a.send_signal(signal.SIGKILL)
        node_a.wait(timeout=10)
    killed = time.monotonic()
    until(lambda: call_id not in ids(node_b), seconds=3)
    assert time.monotonic() - killed < 1.5, "gone from the page within the TTL (3 beats of 0.3 s)"
    server = redis.Redis.from_url(debian_redis.url)
    until(lambda: not server.exists(node_key(node_id)), seconds=3)  # Redis expired the dead node's calls itself
    until(lambda: server.zscore(NODES, node_id) is None, seconds=3)  # and the living node pruned it from the nodes


def test_redis_restarting_mid_call_puts_the_call_back_on_the_board(tmp_path):
    if not os.access(REDIS_SERVER, os.X_OK):
        pytest.skip(f"{REDIS_SERVER} not found — apt-get install redis-server")
    server = RedisProcess()
    node_a = LiveCalls(board=LiveBoard(server.url, "node-a", heartbeat_seconds=0.3).start())
    node_b = LiveCalls(board=LiveBoard(server.url, "node-b", heartbeat_seconds=0.3).start())
    try:
        call_id = start_call(node_a)
        until(lambda: call_id in ids(node_b))
        server.stop()
        node_a.observer(turn(call_id, 2, "Meu nome é Carlos.", "Obrigado, Carlos."))  # posted while Redis is away
        assert node_a.get(call_id)["turn_count"] == 2, "this node's own view goes on"
        server = RedisProcess(port=server.port)
        until(lambda: (node_b.get(call_id) or {}).get("turn_count") == 2, seconds=15, step=0.1)
    finally:
        node_a.close()
        node_b.close()
        server.stop()


def test_an_unreachable_redis_at_start_is_one_clear_line_exit_2():
    with pytest.raises(LiveStateUnavailable) as refused:
        open_live_calls(GREETING, f"redis://:hunter2@127.0.0.1:{free_port()}/0", "node-a")
    message = str(refused.value)
    assert refused.value.exit_code == 2 and len(message.splitlines()) == 1
    assert message.startswith("cannot reach Redis at redis://:***@127.0.0.1:") and "hunter2" not in message and "REDIS_URL" in message


def test_without_redis_live_calls_stay_in_this_process_tagged_with_this_node():
    live = open_live_calls(GREETING, None, "gate-1:9092")
    call_id = start_call(live)
    assert live.board is None and [(call["call_id"], call["node"]) for call in live.snapshot()] == [(call_id, "gate-1:9092")]
    live.observer(CallEnded(call_id, Outcome.CALLER_HUNG_UP))
    assert live.snapshot() == [] and live.get(call_id) is None
