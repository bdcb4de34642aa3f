"""Dial an AudioSocket server the way Asterisk does: UUID first, then audio, DTMF and hangup."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

from concierge.audiosocket.protocol import (
    DEFAULT_MAX_PAYLOAD,
    SLIN_RATE,
    Hangup,
    Message,
    encode_audio,
    encode_dtmf,
    encode_hangup,
    encode_uuid,
    split_audio,
)
from concierge.audiosocket.stream import (
    ConnectionClosed,
    MessageStream,
    close_writer,
    set_nodelay,
    write_frame,
)


class AudioSocketClient:
    """One call leg towards an AudioSocket server, playing Asterisk's part."""

    def __init__(
        self,
        call_id: uuid.UUID,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        max_payload: int = DEFAULT_MAX_PAYLOAD,
    ) -> None:
        self.call_id = call_id
        self._stream = MessageStream(reader, max_payload)
        self._writer = writer
        self._closed = False

    @classmethod
    async def connect(
        cls,
        host: str,
        port: int,
        call_id: uuid.UUID | None = None,
        *,
        max_payload: int = DEFAULT_MAX_PAYLOAD,
    ) -> AudioSocketClient:
        """Open a connection and send the call's UUID (a random one unless given)."""
        reader, writer = await asyncio.open_connection(host, port)
        set_nodelay(writer)
        client = cls(call_id or uuid.uuid4(), reader, writer, max_payload)
        await client._send(encode_uuid(client.call_id))
        return client

    async def send_audio(
        self, pcm: bytes, *, frame_bytes: int | None = None, sample_rate: int = SLIN_RATE
    ) -> None:
        """Send `pcm` as one frame, or as frames of `frame_bytes` (e.g. 320); no pacing."""
        frames = [pcm] if frame_bytes is None else split_audio(pcm, frame_bytes)
        for frame in frames:
            await self._send(encode_audio(frame, sample_rate))

    async def send_dtmf(self, digit: str) -> None:
        """Send one keypad digit."""
        await self._send(encode_dtmf(digit))

    async def hangup(self) -> None:
        """Send the hangup frame, then close (a real Asterisk only closes: see `close`)."""
        if not self._closed:
            try:
                await self._send(encode_hangup())
            except ConnectionClosed:
                pass
        await self.close()

    async def receive(self) -> Message:
        """The next message from the server; `Hangup` once the connection is over.

        Raises ProtocolError if the server sends invalid bytes.
        """
        if self._closed:
            return Hangup()
        message = await self._stream.next()
        return Hangup() if message is None else message

    async def __aiter__(self) -> AsyncIterator[Message]:
        """Every message up to and including the final `Hangup`."""
        while True:
            message = await self.receive()
            yield message
            if isinstance(message, Hangup):
                return

    async def close(self) -> None:
        """Close the socket: this is how a real Asterisk hangs up."""
        self._closed = True
        await close_writer(self._writer)

    async def __aenter__(self) -> AudioSocketClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def _send(self, frame: bytes) -> None:
        if self._closed:
            raise ConnectionClosed("client is closed")
        await write_frame(self._writer, frame)
