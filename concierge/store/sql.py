"""The two SQL databases call records can live in, behind one small interface.

- `SqliteDatabase`: a file, the zero-setup default (the standard library's sqlite3), in WAL mode,
  created readable by its owner only.
- `PostgresDatabase`: a server every node of a central shares, through psycopg 3 (imported only
  when one is configured).

Callers write each statement once, in SQL both understand, with `?` placeholders; a backend
connects, runs it (PostgreSQL is given `%s`), owns transactions and the schema's version, and
says which errors mean "the server is gone" (worth retrying later) rather than "this statement
is wrong".
"""

from __future__ import annotations

import errno
import os
import re
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager, nullcontext, suppress
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

from concierge.errors import UserError
from concierge.store.schema import POSTGRES_MIGRATIONS, SCHEMA_VERSION, SQLITE_MIGRATIONS

BUSY_TIMEOUT_SECONDS = 10.0
CONNECT_TIMEOUT_SECONDS = 5
# A server that stops answering mid-write (a cable pulled, not a refused connection) is given up
# on after this long, so the writes go to the spool instead of waiting for TCP's minutes.
TCP_USER_TIMEOUT_MS = 10_000
MIGRATION_LOCK = 0x41504F454E41  # "APOENA": pg_advisory_xact_lock key, so two nodes never migrate at once
POSTGRES_SCHEMES = ("postgresql://", "postgres://")


class DatabaseError(UserError):
    """The records database cannot be reached, opened or understood. One line; exit code 2."""

    exit_code = 2


class Cursor(Protocol):
    rowcount: int

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Connection(Protocol):
    """One connection to either database, the way records use it."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor: ...

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> int: ...

    def transaction(self) -> Any: ...  # a context manager: commit on success, roll back on error

    def pipelined(self) -> Any: ...  # a context manager: statements inside are sent without waiting for each answer

    def close(self) -> None: ...


class Database(Protocol):
    kind: str  # "sqlite" | "postgresql"
    where: str  # for people: the file, or the server's URL without its password

    def connect(self) -> Connection: ...

    def migrate(self, connection: Connection) -> int: ...

    def is_unreachable(self, error: BaseException) -> bool: ...

    def is_full(self, error: BaseException) -> bool: ...  # the disk it writes to has no room

    def errors(self) -> tuple[type[BaseException], ...]: ...  # what its driver raises

    def compact(self, connection: Connection) -> None: ...


def is_disk_full(error: BaseException) -> bool:
    """SQLite's "database or disk is full" (SQLITE_FULL), or the OS's "No space left on device"."""
    if isinstance(error, sqlite3.Error):
        return getattr(error, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL or "disk is full" in str(error)
    return isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT)


def open_database(location: str | Path) -> Database:
    """A `postgresql://` URL is PostgreSQL; a path is a SQLite file."""
    text = str(location)
    if text.startswith(POSTGRES_SCHEMES):
        return PostgresDatabase(text)
    if re.match(r"^[a-z][a-z0-9+.-]*://", text):
        raise DatabaseError(f"records.url {redact(text)!r}: only postgresql:// URLs are supported — or leave it unset for SQLite")
    return SqliteDatabase(Path(location))


# -- SQLite -----------------------------------------------------------------------------------


class SqliteConnection:
    def __init__(self, raw: sqlite3.Connection) -> None:
        self.raw = raw

    def execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        return self.raw.execute(sql, params)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> int:
        return self.raw.executemany(sql, rows).rowcount

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.raw.execute("BEGIN IMMEDIATE")  # take the write lock first: another process may be writing
        try:
            yield
        except BaseException:
            if self.raw.in_transaction:
                with suppress(sqlite3.Error):
                    self.raw.execute("ROLLBACK")
            raise
        self.raw.execute("COMMIT")

    def pipelined(self) -> Any:
        return nullcontext()  # no network to wait on

    def close(self) -> None:
        self.raw.close()


class SqliteDatabase:
    kind = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.where = str(path)

    def create(self) -> None:
        """Create the file readable by its owner only (SQLite gives the -wal file the same mode)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with suppress(FileExistsError):
            os.close(os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))

    def connect(self) -> SqliteConnection:
        raw = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None, check_same_thread=False)
        raw.execute("PRAGMA journal_mode = WAL")
        return SqliteConnection(raw)

    def connect_for_writing(self) -> SqliteConnection:
        connection = self.connect()
        connection.execute("PRAGMA foreign_keys = ON")
        connection.execute("PRAGMA secure_delete = ON")  # purged transcripts are overwritten, not just unlinked
        connection.execute("PRAGMA synchronous = FULL")
        return connection

    def migrate(self, connection: SqliteConnection) -> int:
        """Bring the schema up to SCHEMA_VERSION, one step per transaction; return the version found."""
        found = connection.execute("PRAGMA user_version").fetchone()[0]
        _refuse_newer(found, self.where)
        connection.execute("PRAGMA foreign_keys = OFF")  # rebuilding a table must not cascade into its children
        for target in range(found + 1, SCHEMA_VERSION + 1):
            with connection.transaction():  # another process may be migrating too: read the version under the lock
                if connection.execute("PRAGMA user_version").fetchone()[0] < target:
                    for statement in SQLITE_MIGRATIONS[target - 1]:
                        connection.execute(statement)
                    connection.execute(f"PRAGMA user_version = {target}")
        return found

    def is_unreachable(self, error: BaseException) -> bool:
        return False  # a local file: no server to come back

    def is_full(self, error: BaseException) -> bool:
        return is_disk_full(error)

    def errors(self) -> tuple[type[BaseException], ...]:
        return (sqlite3.Error, OSError)

    def compact(self, connection: SqliteConnection) -> None:
        """Rewrite the WAL, so purged text leaves it too."""
        with suppress(sqlite3.Error):
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")


# -- PostgreSQL -------------------------------------------------------------------------------


class PostgresConnection:
    """A psycopg connection in autocommit mode: a statement outside `transaction()` commits alone."""

    def __init__(self, raw: Any) -> None:
        self.raw = raw

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self.raw.execute(_postgres_placeholders(sql), params)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> int:
        with self.raw.cursor() as cursor:
            cursor.executemany(_postgres_placeholders(sql), rows)
            return cursor.rowcount

    def transaction(self) -> Any:
        return self.raw.transaction()

    def pipelined(self) -> Any:
        """libpq's pipeline mode: a batch of writes costs about one round trip, not one per statement.
        A refused statement is raised at the end of the block, not where it was sent."""
        return self.raw.pipeline()

    def close(self) -> None:
        self.raw.close()


class PostgresDatabase:
    kind = "postgresql"

    def __init__(self, url: str) -> None:
        self.url = url
        self.where = redact(url)

    def connect(self) -> PostgresConnection:
        try:
            import psycopg
        except ImportError:
            raise DatabaseError("call records in PostgreSQL need psycopg — run ./dev.sh setup (or pip install 'psycopg[binary]')") from None
        try:
            raw = psycopg.connect(
                self.url,
                autocommit=True,
                connect_timeout=CONNECT_TIMEOUT_SECONDS,
                tcp_user_timeout=TCP_USER_TIMEOUT_MS,
                keepalives=1,
                keepalives_idle=5,
                keepalives_interval=2,
                keepalives_count=3,
                application_name="apoena",
            )
        except psycopg.ProgrammingError as error:  # a malformed URL or an unknown parameter in it
            raise DatabaseError(f"records.url / DATABASE_URL {self.where}: {_first_line(error)}") from None
        return PostgresConnection(raw)

    def connect_for_writing(self) -> PostgresConnection:
        return self.connect()

    def migrate(self, connection: PostgresConnection) -> int:
        """Bring the schema up to SCHEMA_VERSION, one step per transaction, under an advisory lock
        so nodes starting together migrate once; return the version found."""
        with connection.transaction():
            connection.execute("SELECT pg_advisory_xact_lock(?)", (MIGRATION_LOCK,))
            connection.execute("CREATE TABLE IF NOT EXISTS apoena_schema (version INTEGER NOT NULL)")
            found = self._version(connection)
        _refuse_newer(found, self.where)
        for target in range(found + 1, SCHEMA_VERSION + 1):
            with connection.transaction():
                connection.execute("SELECT pg_advisory_xact_lock(?)", (MIGRATION_LOCK,))
                if self._version(connection) < target:
                    for statement in POSTGRES_MIGRATIONS[target - 1]:
                        connection.execute(statement)
                    connection.execute("DELETE FROM apoena_schema")
                    connection.execute("INSERT INTO apoena_schema (version) VALUES (?)", (target,))
        return found

    @staticmethod
    def _version(connection: PostgresConnection) -> int:
        row = connection.execute("SELECT max(version) FROM apoena_schema").fetchone()
        return row[0] or 0

    def is_unreachable(self, error: BaseException) -> bool:
        import psycopg

        return isinstance(error, (psycopg.OperationalError, psycopg.InterfaceError))

    def is_full(self, error: BaseException) -> bool:
        return False  # the server's disk full is an OperationalError (53100): spooled like its absence

    def errors(self) -> tuple[type[BaseException], ...]:
        import psycopg

        return (psycopg.Error, OSError)

    def compact(self, connection: PostgresConnection) -> None:
        """Nothing to do at once: PostgreSQL's autovacuum reclaims the deleted rows."""


@lru_cache(maxsize=256)
def _postgres_placeholders(sql: str) -> str:
    return sql.replace("%", "%%").replace("?", "%s")


def _refuse_newer(found: int, where: str) -> None:
    if found > SCHEMA_VERSION:
        raise DatabaseError(f"{where}: call records schema {found} is newer than this apoena knows ({SCHEMA_VERSION}) — upgrade apoena")


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def describe_unreachable(error: BaseException) -> str:
    """Why a server could not be reached, in one line (psycopg's messages span several)."""
    return _first_line(error).removeprefix("connection failed: ")


def redact(url: str) -> str:
    """A URL for messages: its password hidden."""
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


@contextmanager
def connected(database: Database) -> Iterator[Connection]:
    with closing(database.connect()) as connection:
        yield connection
