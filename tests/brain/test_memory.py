"""Conversation memory against real Redis servers: shared, embedded, unreachable, and dying mid-call."""

from __future__ import annotations

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


def test_redis_dying_mid_conversation_does_not_lose_the_conversation(directory):
    server = RedisServer()
    concierge = Concierge(RulesBrain(directory), open_store(RedisConfig(url=server.url)))
    concierge.respond("c1", "Entrega para a Joana Prado")
    server.stop()
    reply = concierge.respond("c1", "Meu nome é Carlos")
    assert reply.valid_for_action
    assert reply.dados.resident_name == "Joana Prado"
