"""Serve AudioSocket over TCP: accept connections, read each call's UUID, hand it to a handler.

The server knows nothing about calls. Each accepted connection must open with a UUID; it then
becomes a `Connection` given to the handler, which receives messages (the peer closing the
socket reads as `Hangup`, as a real Asterisk hangs up that way) and sends audio or a hangup.
A bad connection or a failing handler ends only its own connection, with one log line.
"""

from __future__ import annotations

import asyncio
import logging
import socket
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


class Connection:
    """One call leg as a handler sees it: receive messages, send audio, hang up.

    Use one task to receive; sending from another task at the same time is fine.
    """

    def __init__(
        self, call_id: uuid.UUID, stream: MessageStream, writer: asyncio.StreamWriter
    ) -> None:
        self.call_id = call_id
        self.peer: tuple[str | int, ...] | None = writer.get_extra_info("peername")
        self.error: ProtocolError | None = None
        self.end_reason: str | None = None
        self._stream = stream
        self._writer = writer

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
        return message

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
    """Accepts AudioSocket connections and runs `handler(connection)` for each one."""

    def __init__(
        self,
        handler: Handler,
        host: str = "127.0.0.1",
        port: int = 9092,
        *,
        first_message_timeout: float = 5.0,
        max_payload: int = DEFAULT_MAX_PAYLOAD,
        sock: socket.socket | None = None,
    ) -> None:
        self._handler = handler
        self._host = host
        self._requested_port = port
        self._sock = sock  # already bound and listening (`apoena serve` binds before loading models)
        self._first_message_timeout = first_message_timeout
        self._max_payload = max_payload
        self._server: asyncio.Server | None = None
        self._port: int | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Bind (unless given a bound socket) and start accepting connections."""
        if self._sock is not None:
            self._server = await asyncio.start_server(self._accept, sock=self._sock)
        else:
            self._server = await asyncio.start_server(self._accept, self._host, self._requested_port)
        self._port = self._server.sockets[0].getsockname()[1]
        log.info("listening on %s:%d", self._host, self._port)

    @property
    def sockets(self) -> tuple[socket.socket, ...]:
        """The listening sockets."""
        if self._server is None:
            raise RuntimeError("server not started")
        return tuple(self._server.sockets)

    @property
    def port(self) -> int:
        """The bound port (useful with port=0); still known after `close()`."""
        if self._port is None:
            raise RuntimeError("server not started")
        return self._port

    async def serve_forever(self, grace_seconds: float = 5.0) -> None:
        """Serve until cancelled, then close gracefully."""
        if self._server is None:
            await self.start()
        assert self._server is not None
        try:
            await self._server.serve_forever()
        finally:
            await self.close(grace_seconds)

    async def close(self, grace_seconds: float = 5.0) -> None:
        """Stop accepting, let running handlers finish for `grace_seconds`, then cancel them."""
        if self._server is None:
            return
        self._server.close()
        running = set(self._tasks)
        if running:
            _, late = await asyncio.wait(running, timeout=grace_seconds)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        await self._server.wait_closed()

    async def __aenter__(self) -> AudioSocketServer:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.create_task(self._serve(reader, writer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            set_nodelay(writer)
            stream = MessageStream(reader, self._max_payload)
            call_id = await self._read_call_id(stream, writer)
            if call_id is not None:
                await self._run_handler(Connection(call_id, stream, writer))
        finally:
            await close_writer(writer)

    async def _read_call_id(
        self, stream: MessageStream, writer: asyncio.StreamWriter
    ) -> uuid.UUID | None:
        """The UUID the connection opens with, or None (logged) if it does not."""
        try:
            async with asyncio.timeout(self._first_message_timeout):
                first = await stream.next()
        except TimeoutError:
            reason = f"no UUID within {self._first_message_timeout:g} s"
        except ProtocolError as error:
            reason = f"protocol error: {error}"
        else:
            if isinstance(first, Uuid):
                return first.uuid
            reason = f"{'EOF' if first is None else type(first).__name__} before a UUID"
        peer = describe_peer(writer.get_extra_info("peername"))
        log.warning("connection from %s refused: %s", peer, reason)
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
