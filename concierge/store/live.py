"""A board of live entries shared by every node of a central through one Redis, each entry tagged
with the node that posted it; a node's entries vanish when it dies.

Layout in Redis:
- `apoena:live:node:<node id>`: a hash of this node's entries (id → JSON). It expires
  `ttl_seconds` after the node's last write or heartbeat, so a dead node's entries go by themselves.
- `apoena:live:nodes`: a sorted set of node ids by their last heartbeat (pruned past the TTL).
- `apoena:live:changes`: a channel on which each node announces every change it makes.

A node posts (`put`, `remove`) without waiting: a writer thread sends the changes, coalesced, and
beats every `heartbeat_seconds` (the TTL is three beats). A reader thread loads the whole board
once, then follows the channel, so `entries()` answers from memory and never blocks an event loop
on the network. A node not heard from within the TTL is left out of `entries()` at once, before
Redis even expires its hash. This node's own entries are always its own, first-hand.

If Redis goes away, posting carries on in memory and the whole of this node's entries are
written again once it answers; the other nodes' entries age out of view after the TTL.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import socket
import threading
import time
import uuid
from typing import Any

from concierge.errors import UserError
from concierge.store.sql import redact

log = logging.getLogger("apoena.live")

PREFIX = "apoena:live"
NODES = f"{PREFIX}:nodes"
CHANNEL = f"{PREFIX}:changes"
HEARTBEAT_SECONDS = 5.0
TTL_BEATS = 3
RETRY_SECONDS = 2.0


class LiveStateUnavailable(UserError):
    """The Redis for live call state cannot be reached at start. One line; exit code 2."""

    exit_code = 2


def default_node() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def node_key(node_id: str) -> str:
    return f"{PREFIX}:node:{node_id}"


class LiveBoard:
    """`put`/`remove` this node's entries; `entries()` is every live node's, each with a "node"."""

    def __init__(self, url: str, node: str | None = None, heartbeat_seconds: float = HEARTBEAT_SECONDS) -> None:
        self.url = url
        self.node = node or default_node()
        self.node_id = f"{self.node}#{uuid.uuid4().hex[:8]}"  # two processes given one name still never share a hash
        self.heartbeat_seconds = heartbeat_seconds
        self.ttl_seconds = TTL_BEATS * heartbeat_seconds
        self._mine: dict[str, dict[str, Any]] = {}  # this node's entries, as last posted
        self._others: dict[str, dict[str, dict[str, Any]]] = {}  # node id → entry id → entry
        self._seen: dict[str, float] = {}  # node id → when it was last heard from (its clock)
        self._lock = threading.Lock()
        self._changes: queue.SimpleQueue = queue.SimpleQueue()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._client: Any = None

    def start(self) -> LiveBoard:
        """Check Redis answers (one clear line if not), then start posting and following."""
        import redis

        try:
            self._client = redis.Redis.from_url(self.url, socket_connect_timeout=2, socket_timeout=5, health_check_interval=30)
            self._client.ping()
        except (redis.RedisError, ValueError) as error:
            raise LiveStateUnavailable(
                f"cannot reach Redis at {redact(self.url)} for live call state ({error}) — start that server, "
                "fix REDIS_URL / redis.url, or unset it to keep live calls in this process"
            ) from None
        self._changes.put(("all", None, None))  # register, and say this node has nothing yet
        for target, name in ((self._post_forever, "live-post"), (self._follow_forever, "live-follow")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    # -- this node's entries ---------------------------------------------------------------

    def put(self, entry_id: str, entry: dict[str, Any]) -> None:
        """Post (or replace) one of this node's entries. Never blocks."""
        tagged = {**entry, "node": self.node}
        with self._lock:
            self._mine[entry_id] = tagged
        self._changes.put(("put", entry_id, json.dumps(tagged, ensure_ascii=False)))

    def remove(self, entry_id: str) -> None:
        with self._lock:
            self._mine.pop(entry_id, None)
        self._changes.put(("remove", entry_id, None))

    # -- the whole central -----------------------------------------------------------------

    def entries(self) -> list[dict[str, Any]]:
        """Every entry of every node heard from within the TTL (this node's always)."""
        now = time.time()
        with self._lock:
            found = list(self._mine.values())
            for node_id, entries in self._others.items():
                if now - self._seen.get(node_id, 0.0) <= self.ttl_seconds:
                    found.extend(entries.values())
        return found

    def get(self, entry_id: str) -> dict[str, Any] | None:
        """One entry of a live node (this one first), or None."""
        now = time.time()
        with self._lock:
            if entry_id in self._mine:
                return self._mine[entry_id]
            for node_id, entries in self._others.items():
                if entry_id in entries and now - self._seen.get(node_id, 0.0) <= self.ttl_seconds:
                    return entries[entry_id]
        return None

    def close(self) -> None:
        """Take this node's entries off the board (the others see them go at once), stop the threads."""
        if self._stopping.is_set():
            return
        self._changes.put(("gone", None, None))
        self._stopping.set()
        for thread in self._threads:
            thread.join(timeout=10)
        if self._client is not None:
            self._client.close()

    # -- the writer ------------------------------------------------------------------------

    def _post_forever(self) -> None:
        resync = False
        next_beat = time.monotonic() + self.heartbeat_seconds
        while True:
            try:
                changes = [self._changes.get(timeout=max(0.0, next_beat - time.monotonic()))]
            except queue.Empty:
                changes = []
            while True:
                try:
                    changes.append(self._changes.get_nowait())
                except queue.Empty:
                    break
            gone = any(kind == "gone" for kind, _, _ in changes)
            try:
                if gone:
                    self._post_gone()
                    return
                if resync or any(kind == "all" for kind, _, _ in changes):
                    self._post_all()
                else:
                    self._post(changes)  # no changes: a heartbeat
                resync = False
                next_beat = time.monotonic() + self.heartbeat_seconds  # every post renews the TTL
            except Exception as error:  # Redis away (or refusing): keep going from memory, write it all again later
                if not resync:
                    log.error("live call state: Redis at %s does not answer (%s); other nodes stop seeing this node's calls until it does", redact(self.url), error)
                resync = True
                if gone:
                    return
                next_beat = time.monotonic() + RETRY_SECONDS

    def _post(self, changes: list[tuple[str, str | None, str | None]]) -> None:
        latest: dict[str, str | None] = {}
        for kind, entry_id, entry in changes:
            if entry_id is not None:
                latest[entry_id] = entry if kind == "put" else None
        key, now = node_key(self.node_id), time.time()
        pipe = self._client.pipeline(transaction=False)
        for entry_id, entry in latest.items():
            if entry is None:
                pipe.hdel(key, entry_id)
            else:
                pipe.hset(key, entry_id, entry)
            pipe.publish(CHANNEL, json.dumps({"node_id": self.node_id, "id": entry_id, "entry": None if entry is None else json.loads(entry), "at": now}))
        if not latest:
            pipe.publish(CHANNEL, json.dumps({"node_id": self.node_id, "beat": now}))
        self._renew(pipe, key, now)
        pipe.execute()

    def _post_all(self) -> None:
        """Write this node's whole hash again (at start, and after Redis was away)."""
        key, now = node_key(self.node_id), time.time()
        with self._lock:
            mine = {entry_id: json.dumps(entry, ensure_ascii=False) for entry_id, entry in self._mine.items()}
        pipe = self._client.pipeline(transaction=True)
        pipe.delete(key)
        if mine:
            pipe.hset(key, mapping=mine)
        pipe.publish(CHANNEL, json.dumps({"node_id": self.node_id, "all": {i: json.loads(e) for i, e in mine.items()}, "at": now}))
        self._renew(pipe, key, now)
        pipe.execute()

    def _renew(self, pipe: Any, key: str, now: float) -> None:
        pipe.expire(key, max(1, round(self.ttl_seconds)))
        pipe.zadd(NODES, {self.node_id: now})
        pipe.zremrangebyscore(NODES, "-inf", now - self.ttl_seconds)

    def _post_gone(self) -> None:
        pipe = self._client.pipeline(transaction=False)
        pipe.delete(node_key(self.node_id))
        pipe.zrem(NODES, self.node_id)
        pipe.publish(CHANNEL, json.dumps({"node_id": self.node_id, "gone": True}))
        pipe.execute()

    # -- the reader ------------------------------------------------------------------------

    def _follow_forever(self) -> None:
        while not self._stopping.is_set():
            pubsub = None
            try:
                pubsub = self._client.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(CHANNEL)  # first, so nothing said while loading is missed
                self._load()
                while not self._stopping.is_set():
                    message = pubsub.get_message(timeout=1.0)
                    if message is not None and message.get("type") == "message":
                        self._apply(json.loads(message["data"]))
            except Exception as error:
                if not self._stopping.is_set():
                    log.warning("live call state: lost Redis at %s (%s); following again in %.0f s", redact(self.url), error, RETRY_SECONDS)
                    self._stopping.wait(RETRY_SECONDS)
            finally:
                if pubsub is not None:
                    try:
                        pubsub.close()
                    except Exception:  # closing a dead connection
                        pass

    def _load(self) -> None:
        now = time.time()
        nodes = self._client.zrangebyscore(NODES, now - self.ttl_seconds, "+inf", withscores=True)
        pipe = self._client.pipeline(transaction=False)
        ids = [node_id.decode() for node_id, _ in nodes]
        for node_id in ids:
            pipe.hgetall(node_key(node_id))
        hashes = pipe.execute() if ids else []
        with self._lock:
            self._others = {
                node_id: {entry_id.decode(): json.loads(entry) for entry_id, entry in found.items()}
                for node_id, found in zip(ids, hashes)
                if node_id != self.node_id
            }
            self._seen = {node_id.decode(): score for node_id, score in nodes}

    def _apply(self, message: dict[str, Any]) -> None:
        node_id = message.get("node_id")
        if not isinstance(node_id, str) or node_id == self.node_id:
            return
        with self._lock:
            if message.get("gone"):
                self._others.pop(node_id, None)
                self._seen.pop(node_id, None)
                return
            self._seen[node_id] = time.time()  # heard now (by this clock: another host's may differ)
            if "all" in message:
                self._others[node_id] = dict(message["all"])
            elif "id" in message:
                entries = self._others.setdefault(node_id, {})
                if message["entry"] is None:
                    entries.pop(message["id"], None)
                else:
                    entries[message["id"]] = message["entry"]
