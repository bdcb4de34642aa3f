"""Real database servers for the tests, from the Debian packages: a throwaway PostgreSQL cluster
(initdb + pg_ctl in a temporary folder, run as an unprivileged user) and a redis-server process.

Each is started once per test session; a test that needs one and finds its binaries missing is
skipped with the reason and the package to install. Never mocks: the tests speak to the server
through the same driver (psycopg 3, redis-py) the product uses.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

import pytest

REDIS_SERVER = "/usr/bin/redis-server"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def postgres_bin() -> Path | None:
    """The newest Debian PostgreSQL server binaries (/usr/lib/postgresql/<version>/bin), or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda path: int(Path(path).parts[-3]))
    return Path(found[-1]).parent if found else None


class PostgresCluster:
    """A PostgreSQL cluster of its own on a loopback port, trusting local connections, gone after."""

    def __init__(self, bin_dir: Path, durable: bool = False) -> None:
        self.bin = bin_dir
        self.durable = durable  # fsync on, as a real server (benchmarks); off for the tests' speed
        self.root = Path(tempfile.mkdtemp(prefix="apoena-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.user = "apoena"
        self._as = self._unprivileged()
        self._run("initdb", "-D", self.data, "-U", self.user, "--auth=trust", "-E", "UTF8", "--no-sync", "--no-instructions")
        self.resume()

    def _unprivileged(self) -> list[str]:
        """PostgreSQL refuses to run as root: as root, run it as the `postgres` user (Debian's), else nobody."""
        if os.geteuid() != 0:
            return []
        for name in ("postgres", "nobody"):
            try:
                account = pwd.getpwnam(name)
            except KeyError:
                continue
            os.chown(self.root, account.pw_uid, account.pw_gid)
            return ["runuser", "-u", name, "--"]
        raise RuntimeError("running as root with neither a postgres nor a nobody user to run PostgreSQL as")

    def _run(self, tool: str, *args: object) -> None:
        done = subprocess.run([*self._as, str(self.bin / tool), *map(str, args)], capture_output=True, text=True, cwd=self.root)
        if done.returncode != 0:
            log = (self.root / "log").read_text() if (self.root / "log").exists() else ""
            raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stderr.strip()} {log[-2000:]}")

    def pause(self) -> None:
        """Stop the server as a crash would, keeping its data: clients see it go away."""
        self._run("pg_ctl", "stop", "-m", "immediate", "-D", self.data)

    def resume(self) -> None:
        """Start it again, on the same port, with the same data."""
        options = f"-h 127.0.0.1 -p {self.port} -k {self.root}" + ("" if self.durable else " -F -c fsync=off -c full_page_writes=off")
        self._run("pg_ctl", "start", "-w", "-t", "60", "-D", self.data, "-l", self.root / "log", "-o", options)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A new empty database; its URL."""
        import psycopg

        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url(), autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def stop(self) -> None:
        try:
            with suppress(RuntimeError):  # already paused by the test
                self.pause()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


class RedisProcess:
    """Debian's redis-server on a loopback port, nothing kept on disk."""

    def __init__(self, port: int | None = None, executable: str = REDIS_SERVER) -> None:
        import redis

        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = subprocess.Popen(
            [executable, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
        client.close()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def _cluster() -> Iterator[PostgresCluster]:
    bin_dir = postgres_bin()
    if bin_dir is None:
        pytest.skip("PostgreSQL server binaries not found in /usr/lib/postgresql/*/bin — apt-get install postgresql")
    cluster = PostgresCluster(bin_dir)
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    yield from _cluster()


@pytest.fixture
def own_postgres() -> Iterator[PostgresCluster]:
    """A cluster for one test alone, which it may stop and start (a server going away mid-call)."""
    yield from _cluster()


@pytest.fixture
def postgres_url(postgres_cluster: PostgresCluster) -> str:
    """A fresh, empty database in the session's PostgreSQL cluster."""
    return postgres_cluster.create_database()


@pytest.fixture(scope="session")
def debian_redis() -> Iterator[RedisProcess]:
    if not os.access(REDIS_SERVER, os.X_OK):
        pytest.skip(f"{REDIS_SERVER} not found — apt-get install redis-server")
    server = RedisProcess()
    yield server
    server.stop()
