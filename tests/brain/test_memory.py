"""Conversation memory against real Redis servers: shared, embedded, unreachable, and dying mid-call."""

from __future__ import annotations

import time

import pytest

from concierge.brain.concierge import Concierge
from concierge.brain.memory import Conversation, MemoryUnavailable, open_store
from concierge.brain.reply import Intent
from concierge.brain.rules import RulesBrain
from concierge.config import RedisConfig

from ..conftest import RedisServer, free_port


def test_conversation_round_trips_with_expiry(store):
    conversation = Conversation(id="round-trip")
    conversation.dados.intent_type = Intent.ENTREGA
    conversation.add("visitor", "Entrega para a Joana")
    store.save(conversation)
    loaded = store.load("round-trip")
    assert loaded == conversation
    assert 0 < store.client.ttl("apoena:conversation:round-trip") <= 600


def test_shared_redis_by_url(redis_server):
    store = open_store(RedisConfig(url=redis_server.url, ttl_seconds=60))
    store.save(Conversation(id="by-url"))
    assert store.load("by-url").id == "by-url"


def test_unreachable_redis_is_one_clear_error_at_start():
    with pytest.raises(MemoryUnavailable) as error:
        open_store(RedisConfig(url=f"redis://:secret@127.0.0.1:{free_port()}/0"))
    message = str(error.value)
    assert "cannot reach Redis" in message and "REDIS_URL" in message
    assert "secret" not in message


def test_embedded_redis_needs_no_setup_and_persists(tmp_path):
    first = open_store(RedisConfig(embedded_path=tmp_path / "memory.db"))
    first.save(Conversation(id="kept"))
    assert first.load("kept") is not None
    first.client.shutdown(save=True)
    second = open_store(RedisConfig(embedded_path=tmp_path / "memory.db"))
    assert second.load("kept") is not None


def test_closing_stops_the_embedded_redis_used_from_many_threads_but_not_one_another_process_uses(tmp_path):
    """A server's pool holds a connection per thread that used it: all are this process's own, so a
    clean stop (SIGTERM of `apoena serve`) stops the embedded Redis; another process's keeps it up."""
    import os
    import subprocess
    import sys
    import threading

    store = open_store(RedisConfig(embedded_path=tmp_path / "memory.db"))
    workers = [threading.Thread(target=lambda n=n: [store.save(Conversation(id=f"c{n}-{i}")) for i in range(20)]) for n in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert len(store.client.client_list()) > 1, "the pool really holds several connections"
    pid = store.client.pid
    other = subprocess.Popen(  # another Apoena process on the same file
        [sys.executable, "-c", "import redis,sys,time; r=redis.Redis(unix_socket_path=sys.argv[1]); r.ping(); print('on', flush=True); time.sleep(30)",
         store.client.socket_file], stdout=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert other.stdout.readline() == b"on\n"
        store.close()
        assert store.client.ping(), "another process still uses it: kept running"
    finally:
        other.kill()
        other.wait()
    store.close()
    deadline = time.monotonic() + 5
    while os.path.exists(f"/proc/{pid}") and "Z" not in open(f"/proc/{pid}/status").read().split("State:")[1][:4]:
        assert time.monotonic() < deadline, "the embedded Redis is still running after close"
        time.sleep(0.05)


def _sockets_open() -> int:
    import os

    return sum(os.readlink(f"/proc/self/fd/{fd}").startswith("socket:") for fd in os.listdir("/proc/self/fd") if os.path.exists(f"/proc/self/fd/{fd}"))


@pytest.mark.parametrize("kind", ["embedded", "url"])
def test_idle_connections_are_closed_on_request_and_the_store_still_works(kind, tmp_path, redis_server):
    """`apoena serve` calls release_idle_connections once it has had no call for a while: the pool's
    connection per thread that used it at once (the turn pool grows on demand) is closed, so the
    descriptors come back to where they were, and the next save simply reconnects."""
    import threading
    from types import SimpleNamespace

    from concierge.apps.serve import release_when_idle

    config = RedisConfig(embedded_path=tmp_path / "memory.db") if kind == "embedded" else RedisConfig(url=redis_server.url)
    store = open_store(config)
    store.ping()
    before = _sockets_open()
    gate = threading.Barrier(4)

    def busy(n: int) -> None:
        gate.wait()
        for i in range(30):
            store.save(Conversation(id=f"idle-{n}-{i}"))

    workers = [threading.Thread(target=busy, args=(n,)) for n in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert _sockets_open() > before, "four threads at once really opened more connections"
    release_when_idle(SimpleNamespace(concierge=SimpleNamespace(store=store)))  # what `apoena serve` runs when idle
    assert _sockets_open() < before, "every idle connection closed, the one open before too"
    store.save(Conversation(id="after"))
    assert store.load("after") is not None
    assert _sockets_open() <= before, "one connection again, not the busy spell's four"
    if kind == "embedded":
        store.close()


def test_redis_dying_mid_conversation_does_not_lose_the_conversation(directory):
    server = RedisServer()
    concierge = Concierge(RulesBrain(directory), open_store(RedisConfig(url=server.url)))
    concierge.respond("c1", "Entrega para a Joana Prado")
    server.stop()
    reply = concierge.respond("c1", "Meu nome é Carlos")
    assert reply.valid_for_action
    assert reply.dados.resident_name == "Joana Prado"
