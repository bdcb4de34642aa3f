"""A local SQLite file that keeps, in order, the writes a server database could not take.

When PostgreSQL cannot be reached, the records' writer appends each write (its SQL and its
parameters) here and commits at once, so a call goes on being recorded on the node's own disk and
a `kill -9` loses nothing. When the server answers again, `drain()` replays the writes in the
order they were made and deletes them in the same step; the writes are idempotent (upserts and
absolute values), so one replayed twice after a crash between the two commits does no harm.
"""

from __future__ import annotations

import base64
import json
import os
import sqlite3
from collections.abc import Callable, Sequence
from contextlib import closing, suppress
from pathlib import Path
from typing import Any

Write = tuple[str, tuple[Any, ...]]  # one SQL statement with `?` placeholders, and its parameters

BATCH = 500
_SCHEMA = """CREATE TABLE IF NOT EXISTS writes (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,  -- the order they were made in
    sql    TEXT NOT NULL,
    params TEXT NOT NULL                       -- JSON; bytes as {"b64": ...}
)"""


class Spool:
    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, writes: Sequence[Write]) -> None:
        """Keep `writes` on disk (committed before this returns)."""
        if not writes:
            return
        with closing(self._connect(create=True)) as connection:
            connection.execute("BEGIN IMMEDIATE")
            connection.executemany("INSERT INTO writes (sql, params) VALUES (?, ?)", [(sql, _encode(params)) for sql, params in writes])
            connection.execute("COMMIT")

    def pending(self) -> int:
        """How many writes wait in the spool."""
        if not self.path.exists():
            return 0
        with closing(self._connect(create=False)) as connection:
            return connection.execute("SELECT COUNT(*) FROM writes").fetchone()[0]

    def drain(self, deliver: Callable[[list[Write]], None]) -> int:
        """Hand the spooled writes to `deliver` oldest first, a batch at a time, deleting each batch
        once it returns; an exception from `deliver` leaves that batch (and the rest) spooled and is
        raised. Returns how many were delivered. The spool's write lock is held meanwhile, so two
        processes sharing the file never replay the same batch at once."""
        if not self.path.exists():
            return 0
        delivered = 0
        with closing(self._connect(create=False)) as connection:
            while True:
                connection.execute("BEGIN IMMEDIATE")
                try:
                    rows = connection.execute("SELECT id, sql, params FROM writes ORDER BY id LIMIT ?", (BATCH,)).fetchall()
                    if rows:
                        deliver([(sql, _decode(params)) for _, sql, params in rows])
                        connection.execute("DELETE FROM writes WHERE id <= ?", (rows[-1][0],))
                    connection.execute("COMMIT")
                except BaseException:
                    with suppress(sqlite3.Error):
                        connection.execute("ROLLBACK")
                    raise
                delivered += len(rows)
                if len(rows) < BATCH:
                    return delivered

    def _connect(self, create: bool) -> sqlite3.Connection:
        if create:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with suppress(FileExistsError):  # personal data, like the records: owner-only
                os.close(os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        connection = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        connection.execute("PRAGMA synchronous = FULL")
        connection.execute("PRAGMA secure_delete = ON")  # delivered transcripts are overwritten, not just unlinked
        connection.execute(_SCHEMA)
        return connection


def _encode(params: tuple[Any, ...]) -> str:
    return json.dumps([{"b64": base64.b64encode(value).decode()} if isinstance(value, bytes) else value for value in params])


def _decode(text: str) -> tuple[Any, ...]:
    return tuple(base64.b64decode(value["b64"]) if isinstance(value, dict) else value for value in json.loads(text))
