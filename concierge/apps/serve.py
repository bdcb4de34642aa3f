"""`apoena serve`: the AudioSocket server Asterisk connects to; one call session per connection."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import signal
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from concierge.apps.notify import notify
from concierge.config import WebConfig, load_config
from concierge.errors import UserError
from concierge.web.server import WebServer, check_exposure

if TYPE_CHECKING:  # imported where used: the ports are bound before anything heavy is imported or loaded
    from concierge.asterisk.ami import AMIClient
    from concierge.brain.directory import Directory
    from concierge.call.events import CallEvent, Observer
    from concierge.call.records import CallRecords
    from concierge.call.services import CallServices
    from concierge.config import AsteriskConfig, RecordsConfig
    from concierge.web.live import LiveCalls
    from concierge.web.metrics import CallMetrics

log = logging.getLogger("apoena.serve")
SHUTDOWN_GRACE_SECONDS = 10.0
PURGE_EVERY_SECONDS = 86400.0


def run_serve(
    config_path: Path | None,
    directory_path: Path | None,
    host: str | None,
    port: int | None,
    web_port: int | None = None,
    no_web: bool = False,
) -> int:
    config = load_config(config_path)
    host = host or config.server.host
    port = config.server.port if port is None else port
    web = None if no_web else config.web.model_copy(update={} if web_port is None else {"port": web_port})
    if web is not None:
        check_exposure(web.host, web.token)
    with contextlib.ExitStack() as cleanup:  # closed in reverse: services, records, memory, sockets
        # Both ports are taken before anything slow is imported or loaded: a busy one is found at once.
        calls_socket = cleanup.enter_context(listen(host, port))
        page_socket = None if web is None else _early_page_socket(web, cleanup)
        from concierge.apps.common import configure_logging, load_setup, tune_for_real_time
        from concierge.brain.directory import Directory
        from concierge.call.services import build_services

        configure_logging(logging.INFO)
        tune_for_real_time()
        setup = load_setup(config_path, directory_path, None)
        cleanup.callback(setup.concierge.store.close)
        for condominium in setup.config.condominiums:  # a broken directory stops the start now, not after the models load
            Directory.load(condominium.directory)
        checking = manager_client(setup.config.asterisk)
        if checking is not None:  # a refused login is found in a second, before the speech models load
            asyncio.run(_check_and_close(checking))
        records = open_records(setup.config.records, setup.concierge.brain.name, node_name(calls_socket.getsockname()[1]))
        cleanup.callback(records.close)
        services = build_services(setup.config, setup.directory, setup.concierge)
        cleanup.callback(services.close)
        asyncio.run(
            serve(
                services, host, port, records=records, web=web, directory=setup.directory, sock=calls_socket,
                web_sock=page_socket, directory_path=directory_path,
            )  # fmt: skip
        )
    return 0


def listen(host: str, port: int) -> socket.socket:
    """A TCP socket bound to host:port and listening (closed by `with`); UserError when it cannot be had."""
    from concierge.audiosocket.server import listen_socket

    try:
        return listen_socket(host, port)
    except OSError as error:
        reason = os.strerror(error.errno) if error.errno else str(error)  # create_server's own text names the address again
        raise UserError(f"cannot listen on {host}:{port}: {reason} — choose another --port or stop what uses it") from None


def _early_page_socket(web: WebConfig, cleanup: contextlib.ExitStack) -> socket.socket | None:
    """The page's port, taken now. A busy one costs the page, not the calls: serve() tries it once
    more when it starts the page, and says so."""
    try:
        sock = listen(web.host, web.port)
    except UserError:
        return None
    return cleanup.enter_context(sock)


def node_name(port: int) -> str:
    """This node, as the dialplan reaches it: host:AudioSocket port (beside its calls on pages and records)."""
    return f"{socket.gethostname()}:{port}"


def open_records(config: RecordsConfig, brain: str, node: str | None = None) -> CallRecords:
    """The call records (PostgreSQL at records.url, else SQLite at records.path), with calls past
    retention purged and calls left open by a dead server closed."""
    from concierge.apps.calls import spool_path
    from concierge.call.records import CallRecords

    records = CallRecords(config.url or config.path, brain, node=node, spool=spool_path(config.path))
    purged = records.purge(config.retention_days)
    closed = records.close_interrupted()
    log.info(
        "call records in %s: %d calls older than %g days purged, %d left open by a stopped server closed",
        records.where, purged, config.retention_days, closed,
    )  # fmt: skip
    return records


def observe_all(*observers: Observer) -> Observer:
    """One observer that hands each event to all of `observers`, in order."""

    def observe(event: CallEvent) -> None:
        for observer in observers:
            observer(event)

    return observe


def log_call_event(event: CallEvent) -> None:
    """One line when a call starts, one per turn at debug level, one when it ends."""
    from concierge.call.events import CallEnded, CallStarted, Turn
    from concierge.call.visit import VisitDecided

    if isinstance(event, CallStarted):
        log.info("call %s started", event.call_id)
    elif isinstance(event, Turn):
        log.debug("call %s turn %d: %r -> %r", event.call_id, event.index, event.transcript, event.reply.mensagem)
    elif isinstance(event, VisitDecided):
        log.info("call %s: visit %s (%s)", event.call_id, event.decision, event.reason)
    elif isinstance(event, CallEnded):
        log.info("call %s ended: %s (%s)", event.call_id, event.outcome.value, event.reason)


def manager_client(asterisk: AsteriskConfig) -> AMIClient | None:
    """The Manager Interface client residents are called through; None when it is not configured."""
    if not asterisk.enabled:
        return None
    from concierge.asterisk.ami import AMIClient

    ami = asterisk.ami
    return AMIClient(ami.host, ami.port, ami.username, ami.secret or "", ami.timeout_seconds)


async def check_manager(ami: AMIClient) -> None:
    """Log in once at start: a refused login stops the start (one line); an Asterisk not up yet is
    only a warning, and each visit tries again."""
    from concierge.asterisk.ami import AMIUnreachable

    try:
        await ami.connect()
    except AMIUnreachable as error:
        log.warning("%s — residents cannot be called until it answers", error)
        return
    log.info("Asterisk Manager at %s:%d: logged in as %r (%s)", ami.host, ami.port, ami.username, ami.banner)


async def serve(
    services: CallServices,
    host: str,
    port: int,
    ready: asyncio.Event | None = None,
    records: CallRecords | None = None,
    web: WebConfig | None = None,
    directory: Directory | None = None,
    ami: AMIClient | None = None,
    sock: socket.socket | None = None,
    web_sock: socket.socket | None = None,
    directory_path: Path | None = None,
) -> None:
    """Serve calls until SIGINT/SIGTERM, then let calls in progress end (or cut them after a grace period).
    With `records`, every call is recorded and records past retention are purged once a day; with
    `web` too, the monitoring page and /metrics are served on a second port, in this event loop.
    With a Manager client (`ami`, or `asterisk.ami` configured) and the `directory`, residents are
    called to decide complete visits, and their legs are served on the same port. `sock` and
    `web_sock` are the ports already bound (`listen`), else host:port and web.port are bound here.
    With the `directory` (read from `directory_path`, default directory.path), each call runs with
    its condominium's services (config `condominiums`; the default one otherwise), and a
    directory whose file changes is loaded again at the next call."""
    from concierge.audiosocket.server import AudioSocketServer
    from concierge.call.condominiums import condominium_ids
    from concierge.call.gate import Gate
    from concierge.call.session import call_handler
    from concierge.call.visit import Dialing, ResidentLegs
    from concierge.web.live import open_live_calls

    observers: list[Observer] = [] if records is None else [records.observer]
    monitor = None
    node = node_name(sock.getsockname()[1] if sock is not None else port)
    # With a shared Redis, this node's calls are posted there even without a page of its own.
    shared = services.config.redis.url
    live = open_live_calls(services.config.greeting.message, shared, node) if web is not None or shared else None
    if web is not None and live is not None:
        if records is None:
            raise ValueError("the monitoring page needs the call records")
        monitor = _monitor(records, live, web, web_sock, condominium_ids(services.config))
        observers.append(monitor.metrics.observer)
    if live is not None:
        observers.append(live.observer)
    observer = observe_all(*observers, log_call_event)

    config = services.config
    ami = ami or manager_client(config.asterisk)
    if ami is not None:
        if directory is None:
            raise ValueError("calling residents needs the directory (their dial strings)")
        await check_manager(ami)
    services.gate = Gate(config.gate, ami)
    if directory is not None:
        from concierge.call.condominiums import Condominiums

        services.condominiums = Condominiums(services, directory, directory_path)
    server = AudioSocketServer(
        call_handler(services, observer, None if monitor is None else monitor.metrics.connection_refused), host, port, sock=sock,
        max_connections_per_source=config.server.max_connections_per_source,
        allowed_sources=config.server.allowed_sources,
        max_new_connections_per_second=config.server.max_new_connections_per_second,
        max_audio_speed=1.0,  # Asterisk sends real time; a peer running ahead is read at real time
        audio_burst_seconds=config.server.audio_burst_seconds,
        on_refused=None if monitor is None else monitor.metrics.connection_refused,
        on_idle=functools.partial(release_when_idle, services),  # 5 s without a connection
    )  # fmt: skip
    try:
        await server.start()
    except OSError as error:
        await _close_manager(ami)
        raise UserError(f"cannot listen on {host}:{port}: {error.strerror or error} — choose another --port or stop what uses it") from None
    if ami is not None and directory is not None:
        services.visits = ResidentLegs(config, directory, Dialing(ami, server.port))
    if host in ("0.0.0.0", "::", "") and not config.server.allowed_sources:
        log.warning(
            "listening on all interfaces: anyone who reaches this port can place calls; "
            "list your Asterisk servers in server.allowed_sources, or use a firewall"
        )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    page = None if monitor is None else await _start_page(monitor)
    print(f"apoena serve: ready on {host}:{server.port} (AudioSocket)", flush=True)
    if page is not None:
        print(f"apoena serve: {page}", flush=True)
    notify("READY=1", f"STATUS=answering calls on {host}:{server.port}")
    if ready is not None:
        ready.set()
    purging = None if records is None else asyncio.create_task(purge_daily(records, services.config.records.retention_days))
    warming = None if services.condominiums is None else asyncio.create_task(services.condominiums.warm())
    await stop.wait()
    for task in (purging, warming):
        if task is not None:
            task.cancel()
    log.info("shutting down: waiting up to %.0f s for calls in progress", SHUTDOWN_GRACE_SECONDS)
    notify("STOPPING=1", f"STATUS=stopping: letting calls in progress end (up to {SHUTDOWN_GRACE_SECONDS:.0f} s)")
    await server.close(SHUTDOWN_GRACE_SECONDS)
    await services.gate.drain(3.0)
    await _close_manager(ami)
    if monitor is not None:
        await monitor.server.close()
    if live is not None:
        live.close()


def release_when_idle(services: CallServices) -> None:
    """No call, no connection: give back what the last busy spell left held.
    - The conversation memory's idle Redis connections: its pool keeps one per turn thread that
      used it at once with another (bench/fuzz.py ended with 3 more descriptors than it began).
    - What malloc keeps of the memory freed since the last time (the models' loading, the last
      calls' speech work, a burst of connections). glibc keeps it resident otherwise: after a
      `bench/fuzz.py` run 36-91 MiB of it were, while malloc had 2 MiB more in use than before.
    Some milliseconds, while no call is served."""
    from concierge.audiosocket.allocator import release_freed_memory

    services.concierge.store.release_idle_connections()
    rss = release_freed_memory()
    if rss is not None:
        log.debug("idle: freed memory given back to the OS, RSS %.0f → %.0f MiB", rss[0] / 2**20, rss[1] / 2**20)


async def _check_and_close(ami: AMIClient) -> None:
    try:
        await check_manager(ami)
    finally:
        await ami.close()


async def _close_manager(ami: AMIClient | None) -> None:
    if ami is not None:
        await ami.close()


async def _start_page(monitor: _Monitor) -> str:
    """Start the monitoring page and say where it is. A busy port costs the page, not the calls."""
    try:
        await monitor.server.start()
    except UserError as error:
        log.error("%s", error)
        return f"monitoring page NOT served: {error}"
    needs = " (add ?token=… — web.token)" if monitor.token else ""
    return f"monitoring page on {monitor.server.url}{needs}"


@dataclass(frozen=True)
class _Monitor:
    live: LiveCalls
    metrics: CallMetrics
    server: WebServer
    token: str | None


def _monitor(
    records: CallRecords, live: LiveCalls, web: WebConfig, sock: socket.socket | None = None, condominiums: list[str] | None = None
) -> _Monitor:
    """The monitoring page's metrics (to feed from the calls) and its web server, showing `live`."""
    from concierge.web.app import create_app
    from concierge.web.metrics import CallMetrics

    metrics = CallMetrics(condominiums)
    app = create_app(records, live, metrics, web.token)
    return _Monitor(live, metrics, WebServer(app, web.host, web.port, web.token, sock=sock), web.token)


async def purge_daily(records: CallRecords, retention_days: float) -> None:
    """Keep deleting calls past retention while the server runs (LGPD), off the event loop."""
    while True:
        await asyncio.sleep(PURGE_EVERY_SECONDS)
        try:
            purged = await asyncio.to_thread(records.purge, retention_days)
        except UserError as error:  # PostgreSQL away: tomorrow's purge catches up
            log.error("call records: purge skipped: %s", error)
            continue
        if purged:
            log.info("call records: %d calls older than %g days purged", purged, retention_days)
