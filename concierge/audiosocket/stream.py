"""What the AudioSocket server and client share over a TCP stream: bounded reads of whole
messages, one write per frame, closing without hanging, TCP_NODELAY."""

from __future__ import annotations

import asyncio
import socket
from collections import deque

from concierge.audiosocket.protocol import (
    DEFAULT_MAX_PAYLOAD,
    Message,
    Parser,
    ProtocolError,
)

READ_BYTES = 4096
"""Upper bound of a single socket read."""
CLOSE_TIMEOUT_SECONDS = 1.0
"""How long a closing socket may take to flush before it is aborted."""

class ConnectionClosed(ConnectionError):
    """The connection is over; nothing more can be sent on it."""


class MessageStream:
    """Messages read off a stream with bounded reads; `None` once the peer has gone."""

    def __init__(
        self, reader: asyncio.StreamReader, max_payload: int = DEFAULT_MAX_PAYLOAD
    ) -> None:
        self._reader = reader
        self._parser = Parser(max_payload)
        self._pending: deque[Message] = deque()
        self._failure: ProtocolError | None = None

    async def next(self) -> Message | None:
        """The next message, `None` at EOF; ProtocolError on bad bytes or a truncated frame.

        Valid messages that arrived before a bad frame are delivered first.
        """
        while not self._pending:
            if self._failure is not None:
                raise self._failure
            try:
                data = await self._reader.read(READ_BYTES)
            except ConnectionError:
                return None
            if not data:
                if self._parser.has_partial_frame:
                    raise ProtocolError("connection closed in the middle of a frame")
                return None
            try:
                self._pending.extend(self._parser.feed(data))
            except ProtocolError as error:
                self._pending.extend(error.messages)
                self._failure = error
        return self._pending.popleft()


async def write_frame(writer: asyncio.StreamWriter, frame: bytes) -> None:
    """Write one whole frame in a single write; ConnectionClosed if the peer is gone."""
    if writer.is_closing():
        raise ConnectionClosed("connection is closed")
    writer.write(frame)
    try:
        await writer.drain()
    except ConnectionError as error:
        raise ConnectionClosed(f"peer went away: {error}") from error


async def close_writer(writer: asyncio.StreamWriter) -> None:
    """Close the socket, letting queued frames flush for a moment, then abort it."""
    writer.close()
    try:
        async with asyncio.timeout(CLOSE_TIMEOUT_SECONDS):
            await writer.wait_closed()
    except TimeoutError:
        writer.transport.abort()
    except OSError:
        pass


def set_nodelay(writer: asyncio.StreamWriter) -> None:
    """Send every frame at once instead of letting Nagle hold small writes back."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def describe_peer(peer: object) -> str:
    """`host:port` of a peer address, for log lines."""
    return f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
