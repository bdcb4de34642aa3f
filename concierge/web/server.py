"""Run the monitoring app with uvicorn inside the caller's event loop (beside the AudioSocket server).

We bind the socket ourselves, so a busy port is one clear UserError rather than uvicorn's
`sys.exit`, and uvicorn leaves the process' signal handlers alone (`apoena serve` owns them).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
from collections.abc import Iterator

import uvicorn
from starlette.types import ASGIApp

from concierge.errors import UserError

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


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # the host application handles SIGINT/SIGTERM and calls `WebServer.close()`


class WebServer:
    """`await start()` binds and serves in the background; `await close()` stops it."""

    def __init__(self, app: ASGIApp, host: str, port: int, token: str | None = None) -> None:
        check_exposure(host, token)
        self.app = app
        self.host = host
        self.port = port
        self._server: _Server | None = None
        self._task: asyncio.Task | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    async def start(self) -> None:
        sock = self._bind()
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app, log_config=None, access_log=False, lifespan="off", server_header=False,
            timeout_graceful_shutdown=SHUTDOWN_GRACE_SECONDS,
        )  # fmt: skip
        self._server = _Server(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]), name="web")

    async def close(self) -> None:
        if self._server is None or self._task is None:
            return
        self._server.should_exit = True
        try:
            await self._task
        except Exception:
            log.exception("the monitoring page stopped with an error")

    def _bind(self) -> socket.socket:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
            sock.listen(128)
        except OSError as error:
            sock.close()
            raise UserError(
                f"cannot serve the monitoring page on {self.host}:{self.port}: {error.strerror or error}"
                " — choose another --web-port, or --no-web"
            ) from None
        sock.setblocking(False)
        return sock
