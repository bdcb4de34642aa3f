"""`apoena serve`: the AudioSocket server Asterisk connects to; one call session per connection."""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path

from concierge.apps.common import configure_logging, load_setup, tune_for_real_time
from concierge.audiosocket.server import AudioSocketServer, Connection
from concierge.call.events import CallEnded, CallEvent, CallStarted, Turn
from concierge.call.services import CallServices, build_services
from concierge.call.session import CallSession

log = logging.getLogger("apoena.serve")
SHUTDOWN_GRACE_SECONDS = 10.0


def run_serve(config_path: Path | None, directory_path: Path | None, host: str | None, port: int | None) -> int:
    configure_logging(logging.INFO)
    tune_for_real_time()
    setup = load_setup(config_path, directory_path, None)
    host = host or setup.config.server.host
    port = setup.config.server.port if port is None else port
    services = build_services(setup.config, setup.directory, setup.concierge)
    try:
        asyncio.run(serve(services, host, port))
    finally:
        services.close()
        setup.concierge.store.close()
    return 0


def log_call_event(event: CallEvent) -> None:
    """One line when a call starts, one per turn at debug level, one when it ends."""
    if isinstance(event, CallStarted):
        log.info("call %s started", event.call_id)
    elif isinstance(event, Turn):
        log.debug("call %s turn %d: %r -> %r", event.call_id, event.index, event.transcript, event.reply.mensagem)
    elif isinstance(event, CallEnded):
        log.info("call %s ended: %s (%s)", event.call_id, event.outcome.value, event.reason)


async def serve(services: CallServices, host: str, port: int, ready: asyncio.Event | None = None) -> None:
    """Serve calls until SIGINT/SIGTERM, then let calls in progress end (or cut them after a grace period)."""

    async def handle(connection: Connection) -> None:
        await CallSession(connection, services, log_call_event).run()

    server = AudioSocketServer(handle, host, port)
    try:
        await server.start()
    except OSError as error:
        from concierge.errors import UserError

        raise UserError(f"cannot listen on {host}:{port}: {error.strerror or error} — choose another --port or stop what uses it") from None
    if host in ("0.0.0.0", "::", ""):
        log.warning("listening on all interfaces: anyone who reaches this port can place calls; prefer 127.0.0.1 or a firewall")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    print(f"apoena serve: ready on {host}:{server.port} (AudioSocket)", flush=True)
    if ready is not None:
        ready.set()
    await stop.wait()
    log.info("shutting down: waiting up to %.0f s for calls in progress", SHUTDOWN_GRACE_SECONDS)
    await server.close(SHUTDOWN_GRACE_SECONDS)
