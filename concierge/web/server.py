"""Run the monitoring app with uvicorn inside the caller's event loop (beside the AudioSocket server).

We bind the socket ourselves, so a busy port is one clear UserError rather than uvicorn's
`sys.exit`, and uvicorn leaves the process' signal handlers alone (`apoena serve` owns them).
A token on a non-loopback address travels in plain HTTP: that is said once, at start.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import os
import socket
from collections.abc import Iterator
from typing import TYPE_CHECKING

from starlette.types import ASGIApp

from concierge.errors import UserError

if TYPE_CHECKING:
    import uvicorn

log = logging.getLogger("apoena.web")
SHUTDOWN_GRACE_SECONDS = 2


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_exposure(host: str, token: str | None) -> None:
    """Refuse to serve call transcripts (personal data) beyond this machine without a token."""
    if not token and not is_loopback(host):
        raise UserError(f"set web.token (APOENA_WEB_TOKEN) to serve the page on {host} — without a token it serves only 127.0.0.1")


class WebServer:
    """`bind()` takes the port (early, so a busy one is found before anything slow); `await start()`
    serves in the background; `await close()` stops it."""

    def __init__(self, app: ASGIApp, host: str, port: int, token: str | None = None, sock: socket.socket | None = None) -> None:
        check_exposure(host, token)
        self.app = app
        self.host = host
        self.port = port if sock is None else sock.getsockname()[1]
        self.token = token
        self._sock = sock  # already bound and listening, or bound by bind()/start()
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    def bind(self) -> None:
        """Take the port now; UserError (one line) when it cannot be had."""
        if self._sock is None:
            self._sock = self._bind()
            self.port = self._sock.getsockname()[1]
        self._sock.setblocking(False)

    async def start(self) -> None:
        import uvicorn  # here, not at import: `apoena --help` and a busy port stay instant

        class Server(uvicorn.Server):
            # uvicorn has no public switch for this; Server.capture_signals is its (undocumented)
            # hook, pinned with uvicorn in pyproject.toml and checked by tests/web/test_server.py.
            @contextlib.contextmanager
            def capture_signals(self) -> Iterator[None]:
                yield  # the host application handles SIGINT/SIGTERM and calls `WebServer.close()`

        self.bind()
        if self.token and not is_loopback(self.host):
            log.warning(
                "the monitoring page's token travels in plain HTTP on %s:%d: anyone on the network path can read it"
                " — serve the page behind HTTPS (a reverse proxy) or keep web.host on 127.0.0.1", self.host, self.port,
            )  # fmt: skip
        config = uvicorn.Config(
            self.app, log_config=None, access_log=False, lifespan="off", server_header=False,
            timeout_graceful_shutdown=SHUTDOWN_GRACE_SECONDS,
        )  # fmt: skip
        self._server = Server(config)
        sock, self._sock = self._sock, None
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]), name="web")

    async def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self._server is None or self._task is None:
            return
        self._server.should_exit = True
        try:
            await self._task
        except Exception:
            log.exception("the monitoring page stopped with an error")

    def _bind(self) -> socket.socket:
        try:
            family = socket.getaddrinfo(self.host, self.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0][0]
            sock = socket.create_server((self.host, self.port), family=family, backlog=128)
        except OSError as error:
            reason = os.strerror(error.errno) if error.errno else str(error)  # create_server's text names the address again
            raise UserError(
                f"cannot serve the monitoring page on {self.host}:{self.port}: {reason}"
                " — choose another --web-port, or --no-web"
            ) from None
        return sock
