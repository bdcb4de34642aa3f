"""Serve AudioSocket over TCP: accept connections, read each call's UUID, hand it to a handler.

The server knows nothing about calls. Each accepted connection must open with a UUID; it then
becomes a `Connection` given to the handler, which receives messages (the peer closing the
socket reads as `Hangup`, as a real Asterisk hangs up that way) and sends audio or a hangup.
A bad connection or a failing handler ends only its own connection, with one log line.

Limits (see `limits.py`): a source address past `max_connections_per_source` is hung up on at
once; with `max_audio_speed`, a peer's audio is read no faster than that many times real time
(beyond a burst): the reader stops, and TCP makes the peer wait.

With `on_idle`, the server says when it has had no connection for `idle_seconds` (once per quiet
spell, and once after it starts): `apoena serve` gives the C allocator's freed memory back then.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import socket
import struct
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

from concierge.audiosocket.protocol import (
    DEFAULT_MAX_PAYLOAD,
    SLIN_RATE,
    Audio,
    Dtmf,
    Error,
    Hangup,
    ProtocolError,
    Uuid,
    encode_for_asterisk,
)
from concierge.audiosocket.limits import AcceptRate, RealTimeBudget, SourceAllowList, SourceLimit, source_of
from concierge.config import ServerConfig
from concierge.audiosocket.stream import (
    ConnectionClosed,
    MessageStream,
    close_writer,
    describe_peer,
    set_nodelay,
    write_frame,
)

log = logging.getLogger("apoena.audiosocket")

Incoming = Hangup | Dtmf | Audio | Error
Handler = Callable[["Connection"], Awaitable[None]]
Refused = Callable[[str], None]
"""Told why a connection was refused before any call began: `not_allowed`, `source_limit`, `no_uuid` or `protocol_error`."""
Idle = Callable[[], object]
"""Called on the event loop when no connection has been open for `idle_seconds`; its result is ignored."""

DEFAULT_AUDIO_BURST_SECONDS: float = ServerConfig.model_fields["audio_burst_seconds"].default
"""Audio a peer may send ahead of real time (network jitter) before its reader is held back: config's default."""
DEFAULT_IDLE_SECONDS = 5.0
"""How long the server must have had no connection before `on_idle` is called."""
LISTEN_BACKLOG = 128
"""Connections the kernel queues for us to accept (beyond it, it refuses them)."""
ACCEPTS_PER_WAKE = 64
"""Connections taken from the listen queue at one wake of the event loop, at most."""
ACCEPT_RETRY_SECONDS = 1.0
"""How long to stop accepting after accept() failed for want of descriptors or memory."""
REFUSAL_LOG_SECONDS = 10.0
"""Refusals of one source for one reason are logged once per this many seconds, with a count of
the others: a flood of bad connections (a scanner, bench/fuzz.py) writes a line every 10 s, not
one per connection, and costs the calls in progress no time in logging."""


class Connection:
    """One call leg as a handler sees it: receive messages, send audio, hang up.

    Use one task to receive; sending from another task at the same time is fine.
    """

    def __init__(
        self,
        call_id: uuid.UUID,
        stream: MessageStream,
        writer: asyncio.StreamWriter,
        *,
        budget: RealTimeBudget | None = None,
    ) -> None:
        self.call_id = call_id
        self.peer: tuple[str | int, ...] | None = writer.get_extra_info("peername")
        self.error: ProtocolError | None = None
        self.end_reason: str | None = None
        self.audio_seconds = 0.0
        """Seconds of audio received from the peer so far (from byte counts, at each frame's rate)."""
        self.held_seconds = 0.0
        """Seconds the reader waited because the peer ran ahead of real time."""
        self._stream = stream
        self._writer = writer
        self._budget = budget

    @property
    def closed(self) -> bool:
        """Whether the connection has ended, for whatever reason."""
        return self.end_reason is not None

    async def receive(self) -> Incoming:
        """The next message from the peer; `Hangup` once the call is over, however it ended.

        A protocol error closes the connection, is kept in `error` and reads as `Hangup`.
        """
        if self.closed:
            return Hangup()
        try:
            message = await self._stream.next()
            if isinstance(message, Uuid):
                raise ProtocolError("UUID may only be the first message")
        except ProtocolError as error:
            self.error = error
            self._end(f"protocol error: {error}")
            return Hangup()
        if message is None or isinstance(message, Hangup):
            self._end("peer hung up")
            return Hangup()
        seconds = len(message.pcm) / 2 / message.sample_rate if isinstance(message, Audio) else 0.0
        self.audio_seconds += seconds
        if self._budget is not None:
            await self._keep_to_real_time(seconds)
        return message

    async def _keep_to_real_time(self, seconds: float) -> None:
        """Hold this message back while the peer is ahead of real time: nothing more is read
        meanwhile, so the peer's sends block (back-pressure) and we do real-time work at most."""
        assert self._budget is not None
        wait = self._budget.hold(seconds, time.monotonic())
        if wait <= 0:
            return
        if not self.held_seconds:
            log.warning(
                "call %s: %s sends audio faster than real time; reading it at %g× real time",
                self.call_id, describe_peer(self.peer), self._budget.speed,
            )  # fmt: skip
        self.held_seconds += wait
        await asyncio.sleep(wait)

    async def __aiter__(self) -> AsyncIterator[Incoming]:
        """Every message up to and including the final `Hangup`."""
        while True:
            message = await self.receive()
            yield message
            if isinstance(message, Hangup):
                return

    async def send_audio(self, pcm: bytes, sample_rate: int = SLIN_RATE) -> None:
        """Send `pcm` as one audio frame (no pacing: that is the caller's job).

        ValueError for empty or odd-length audio; ConnectionClosed once the call is over.
        """
        frame = encode_for_asterisk(Audio(pcm, sample_rate))
        if self.closed:
            raise ConnectionClosed(self.end_reason)
        await self._write(frame)

    async def hangup(self) -> None:
        """Tell the peer to hang up and close; does nothing if the call is already over."""
        if self.closed:
            return
        try:
            await self._write(encode_for_asterisk(Hangup()))
        except ConnectionClosed:
            return
        self._end("we hung up")

    def close(self) -> None:
        """Close the socket without a hangup frame."""
        self._end("closed by handler")

    def reset(self, reason: str) -> None:
        """Abort the connection with a TCP reset: Asterisk's `AudioSocket()` then fails
        (`TRYSTATUS=FAILED`), which a dialplan can tell from an ended call and try another node with."""
        if self.end_reason is None:
            self.end_reason = reason
        reset(self._writer)

    async def _write(self, frame: bytes) -> None:
        try:
            await write_frame(self._writer, frame)
        except ConnectionClosed:
            self._end("peer went away while we were sending")
            raise

    def _end(self, reason: str) -> None:
        if self.end_reason is None:
            self.end_reason = reason
        self._writer.close()


class AudioSocketServer:
    """Accepts AudioSocket connections and runs `handler(connection)` for each one.

    `allowed_sources`: the IP addresses and networks connections may come from (empty: any); one
    from elsewhere is reset at once, before anything is read or any task started for it.
    `max_connections_per_source`: connections open at once from one IP address; past it a new one
    gets a hangup frame and is closed before its UUID is read (0: no limit).
    `max_new_connections_per_second`: connections taken from the listen queue a second, at most (0:
    no limit); the others wait there, so a flood of connections costs a bounded share of the event
    loop that the calls in progress share. `max_audio_speed`:
    how many times real time a peer's audio is read at most, after `audio_burst_seconds` ahead
    (None: as fast as it comes — tests and tools that feed recordings). `on_refused` is told each
    refusal before a call began (see `Refused`). `on_idle` is called once the server has had no
    connection open for `idle_seconds`, then not again until a connection has come and gone."""

    def __init__(
        self,
        handler: Handler,
        host: str = "127.0.0.1",
        port: int = 9092,
        *,
        first_message_timeout: float = 5.0,
        max_payload: int = DEFAULT_MAX_PAYLOAD,
        sock: socket.socket | None = None,
        max_connections_per_source: int = 0,
        allowed_sources: list[str] | tuple[str, ...] = (),
        max_new_connections_per_second: float = 0.0,
        max_audio_speed: float | None = None,
        audio_burst_seconds: float = DEFAULT_AUDIO_BURST_SECONDS,
        on_refused: Refused | None = None,
        on_idle: Idle | None = None,
        idle_seconds: float = DEFAULT_IDLE_SECONDS,
    ) -> None:
        self._handler = handler
        self._host = host
        self._requested_port = port
        self._sock = sock  # already bound and listening (`apoena serve` binds before loading models)
        self._first_message_timeout = first_message_timeout
        self._max_payload = max_payload
        self._sources = SourceLimit(max_connections_per_source)
        self._allowed = SourceAllowList(allowed_sources)
        self._max_audio_speed = max_audio_speed
        self._audio_burst_seconds = audio_burst_seconds
        self._on_refused = on_refused
        self._refusals_logged: dict[str, tuple[float, int]] = {}  # source: (last line's time, refusals since)
        self._rate = AcceptRate(max_new_connections_per_second)
        self._listener: socket.socket | None = None
        self._closed: asyncio.Future[None] | None = None
        self._resume_timer: asyncio.TimerHandle | None = None
        self._port: int | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._on_idle = on_idle
        self._idle_seconds = idle_seconds
        self._idle_timer: asyncio.TimerHandle | None = None

    async def start(self) -> None:
        """Bind (unless given a bound socket) and start accepting connections."""
        listener = self._sock if self._sock is not None else listen_socket(self._host, self._requested_port)
        listener.setblocking(False)
        self._listener = listener
        self._port = listener.getsockname()[1]
        self._closed = asyncio.get_running_loop().create_future()
        self._resume_accepting()
        log.info("listening on %s:%d", self._host, self._port)
        self._wait_for_idle()

    @property
    def sockets(self) -> tuple[socket.socket, ...]:
        """The listening socket (none once closed)."""
        if self._closed is None:
            raise RuntimeError("server not started")
        return () if self._listener is None else (self._listener,)

    @property
    def port(self) -> int:
        """The bound port (useful with port=0); still known after `close()`."""
        if self._port is None:
            raise RuntimeError("server not started")
        return self._port

    def connections_from(self, source: str) -> int:
        """Connections open now from the IP address `source` (calls, and those not yet identified)."""
        return self._sources.open_from(source)

    async def serve_forever(self, grace_seconds: float = 5.0) -> None:
        """Serve until cancelled (or closed), then close gracefully."""
        if self._closed is None:
            await self.start()
        assert self._closed is not None
        try:
            await asyncio.shield(self._closed)
        finally:
            await self.close(grace_seconds)

    async def close(self, grace_seconds: float = 5.0) -> None:
        """Stop accepting, let running handlers finish for `grace_seconds`, then cancel them."""
        if self._listener is None:
            return
        self._stop_accepting()
        self._listener.close()
        self._listener = None
        assert self._closed is not None
        if not self._closed.done():
            self._closed.set_result(None)
        self._stop_waiting_for_idle()
        running = set(self._tasks)
        if running:
            _, late = await asyncio.wait(running, timeout=grace_seconds)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)

    async def __aenter__(self) -> AudioSocketServer:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    def _resume_accepting(self) -> None:
        self._resume_timer = None
        if self._listener is not None:
            asyncio.get_running_loop().add_reader(self._listener.fileno(), self._accept_waiting)

    def _stop_accepting(self, seconds: float | None = None) -> None:
        """Stop watching the listening socket; with `seconds`, watch it again after them."""
        loop = asyncio.get_running_loop()
        if self._listener is not None:
            loop.remove_reader(self._listener.fileno())
        if self._resume_timer is not None:
            self._resume_timer.cancel()
            self._resume_timer = None
        if seconds is not None:
            self._resume_timer = loop.call_later(seconds, self._resume_accepting)

    def _accept_waiting(self) -> None:
        """Take the connections waiting in the listen queue, as many as `max_new_connections_per_second` allows."""
        assert self._listener is not None
        for _ in range(ACCEPTS_PER_WAKE):
            wait = self._rate.wait(time.monotonic())
            if wait > 0:
                self._stop_accepting(wait)  # the rest wait in the kernel's queue
                return
            try:
                conn, peer = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except ConnectionAbortedError:
                continue
            except OSError as error:  # out of descriptors or memory: new calls wait, calls in progress go on
                log.error("cannot accept a connection: %s — trying again in %g s", error, ACCEPT_RETRY_SECONDS)
                self._stop_accepting(ACCEPT_RETRY_SECONDS)
                return
            self._rate.take()
            self._admit(conn, peer)

    def _admit(self, conn: socket.socket, peer: object) -> None:
        source = source_of(peer)
        if not self._allowed.allows(source):
            reset_socket(conn)  # nothing read, nothing sent, no task
            self._log_refusal(peer, source, "not_allowed", f"{source} is not in server.allowed_sources")
            self._refused("not_allowed")
            return
        if not self._sources.admit(source):
            self._refuse_over_limit(conn, peer, source)
            return
        self._stop_waiting_for_idle()
        task = asyncio.create_task(self._serve(conn, source))
        self._tasks.add(task)
        task.add_done_callback(self._connection_ended)

    def _connection_ended(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not self._tasks and self._listener is not None:
            self._wait_for_idle()

    def _wait_for_idle(self) -> None:
        """Call `on_idle` in `idle_seconds` unless a connection is admitted meanwhile."""
        if self._on_idle is None:
            return
        self._stop_waiting_for_idle()
        self._idle_timer = asyncio.get_running_loop().call_later(self._idle_seconds, self._went_idle)

    def _stop_waiting_for_idle(self) -> None:
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None

    def _went_idle(self) -> None:
        self._idle_timer = None
        if self._tasks or self._on_idle is None:
            return
        try:
            self._on_idle()
        except Exception:  # housekeeping must not break the server
            log.exception("on_idle failed")

    def _refuse_over_limit(self, conn: socket.socket, peer: object, source: str) -> None:
        """Hang up at once, before reading anything: Asterisk's AudioSocket() returns and the
        dialplan goes on (docs/asterisk.md, 'When Apoena is down': to the doorman)."""
        with contextlib.suppress(OSError):
            conn.setblocking(False)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn.send(encode_for_asterisk(Hangup()))  # 3 bytes into an empty send buffer
        conn.close()  # the hangup frame is flushed, then the socket closed; no call, no record
        reason = f"{self._sources.cap} connections from {source} already open (server.max_connections_per_source)"
        self._log_refusal(peer, source, "source_limit", reason)
        self._refused("source_limit")

    def _log_refusal(self, peer: object, source: str, kind: str, reason: str) -> None:
        """'connection from … refused: …', at most once per REFUSAL_LOG_SECONDS for one source and
        kind of refusal, saying how many more were refused since the last line."""
        now = time.monotonic()
        key = f"{source} {kind}"
        last, since = self._refusals_logged.get(key, (-math.inf, 0))
        if now - last < REFUSAL_LOG_SECONDS:
            self._refusals_logged[key] = (last, since + 1)
            return
        if len(self._refusals_logged) > 1000:  # forget sources that stopped
            self._refusals_logged = {k: v for k, v in self._refusals_logged.items() if now - v[0] < REFUSAL_LOG_SECONDS}
        more = f"; {since} more like it refused in the last {now - last:.0f} s" if since else ""
        log.warning("connection from %s refused: %s%s", describe_peer(peer), reason, more)
        self._refusals_logged[key] = (now, 0)

    def _refused(self, reason: str) -> None:
        if self._on_refused is not None:
            try:
                self._on_refused(reason)
            except Exception:  # a metrics bug must not break the server
                log.exception("on_refused failed")

    async def _serve(self, conn: socket.socket, source: str) -> None:
        connected = time.monotonic()
        try:
            reader, writer = await asyncio.open_connection(sock=conn)
        except OSError:  # reset before we got to it
            self._sources.release(source)
            conn.close()
            return
        try:
            set_nodelay(writer)
            stream = MessageStream(reader, self._max_payload)
            call_id = await self._read_call_id(stream, writer, source)
            if call_id is not None:
                await self._run_handler(Connection(call_id, stream, writer, budget=self._budget(connected)))
        finally:
            self._sources.release(source)
            await close_writer(writer)

    def _budget(self, connected: float) -> RealTimeBudget | None:
        if self._max_audio_speed is None:
            return None
        return RealTimeBudget(connected, self._max_audio_speed, self._audio_burst_seconds)

    async def _read_call_id(
        self, stream: MessageStream, writer: asyncio.StreamWriter, source: str
    ) -> uuid.UUID | None:
        """The UUID the connection opens with, or None (logged) if it does not."""
        try:
            async with asyncio.timeout(self._first_message_timeout):
                first = await stream.next()
        except TimeoutError:
            reason, kind = f"no UUID within {self._first_message_timeout:g} s", "no_uuid"
        except ProtocolError as error:
            reason, kind = f"protocol error: {error}", "protocol_error"
        else:
            if isinstance(first, Uuid):
                return first.uuid
            reason, kind = f"{'EOF' if first is None else type(first).__name__} before a UUID", "no_uuid"
        self._log_refusal(writer.get_extra_info("peername"), source, kind, reason)
        self._refused(kind)
        return None

    async def _run_handler(self, conn: Connection) -> None:
        log.info("call %s: connected from %s", conn.call_id, describe_peer(conn.peer))
        started = time.monotonic()
        failure: Exception | None = None
        try:
            await self._handler(conn)
        except ConnectionClosed:
            pass  # the peer hung up while we were talking: an ordinary end, already recorded
        except asyncio.CancelledError:
            conn._end("cancelled at shutdown")
            raise
        except Exception as error:
            failure = error
            conn._end(f"handler failed: {error!r}")
        finally:
            conn._end("handler returned")
            _log_end(conn, time.monotonic() - started, failure)


def listen_socket(host: str, port: int, backlog: int = LISTEN_BACKLOG) -> socket.socket:
    """A TCP socket bound to host:port (the first address `host` resolves to) and listening."""
    family = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0][0]
    return socket.create_server((host, port), family=family, backlog=backlog)


def reset_socket(sock: socket.socket) -> None:
    """Close an accepted socket with a TCP reset (SO_LINGER 0): the peer sees it refused."""
    _linger_zero(sock)
    sock.close()


def reset(writer: asyncio.StreamWriter) -> None:
    """Abort a connection with a TCP reset (SO_LINGER 0), not a close: the peer sees it refused."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        _linger_zero(sock)
    writer.transport.abort()


def _linger_zero(sock: socket.socket) -> None:
    """Make the next close send a reset, not a FIN."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def _log_end(conn: Connection, seconds: float, failure: Exception | None) -> None:
    level = logging.ERROR if failure else logging.WARNING if conn.error else logging.INFO
    log.log(
        level,
        "call %s: ended after %.1f s (%s)",
        conn.call_id,
        seconds,
        conn.end_reason,
        exc_info=failure,
    )
