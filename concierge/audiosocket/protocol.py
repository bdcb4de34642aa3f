"""The AudioSocket wire format as a sans-IO codec: bytes in, typed messages out, no I/O.

A frame is one kind byte, a 2-byte big-endian payload length and the payload. Audio payloads
are signed 16-bit little-endian mono PCM. `Parser.feed()` turns arbitrary chunks of a byte
stream into messages and enforces hard limits; `encode()` turns messages into frames;
`encode_for_asterisk()` additionally refuses anything Asterisk would tear a call down for.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import IntEnum

HEADER_BYTES = 3
MAX_LENGTH = 0xFFFF
DEFAULT_MAX_PAYLOAD = 8 * 1024
SLIN_RATE = 8000
FRAME_BYTES = 320
"""20 ms of 8 kHz slin: what Asterisk sends per frame and what we pace out."""
DTMF_DIGITS = frozenset("0123456789*#ABCD")


class Kind(IntEnum):
    """The kind byte that opens every frame."""

    HANGUP = 0x00
    UUID = 0x01
    DTMF = 0x03
    AUDIO = 0x10
    AUDIO_12K = 0x11
    AUDIO_16K = 0x12
    AUDIO_24K = 0x13
    AUDIO_32K = 0x14
    AUDIO_44K = 0x15
    AUDIO_48K = 0x16
    AUDIO_96K = 0x17
    AUDIO_192K = 0x18
    ERROR = 0xFF


_RATE_BY_KIND: dict[Kind, int] = {
    Kind.AUDIO: SLIN_RATE,
    Kind.AUDIO_12K: 12000,
    Kind.AUDIO_16K: 16000,
    Kind.AUDIO_24K: 24000,
    Kind.AUDIO_32K: 32000,
    Kind.AUDIO_44K: 44100,
    Kind.AUDIO_48K: 48000,
    Kind.AUDIO_96K: 96000,
    Kind.AUDIO_192K: 192000,
}
_KIND_BY_RATE: dict[int, Kind] = {rate: kind for kind, rate in _RATE_BY_KIND.items()}


def sample_rate_of(kind: Kind) -> int:
    """The sample rate carried by an audio kind; ValueError for other kinds."""
    try:
        return _RATE_BY_KIND[kind]
    except KeyError:
        raise ValueError(f"{kind!r} is not an audio kind") from None


def audio_kind_for(sample_rate: int) -> Kind:
    """The audio kind for a sample rate; ValueError if AudioSocket has none."""
    try:
        return _KIND_BY_RATE[sample_rate]
    except KeyError:
        raise ValueError(f"AudioSocket has no audio kind for {sample_rate} Hz") from None


def is_audio_kind(kind: Kind) -> bool:
    """Whether frames of this kind carry slin audio."""
    return kind in _RATE_BY_KIND


class ProtocolError(ValueError):
    """The peer sent bytes that are not a valid AudioSocket stream.

    `messages` holds the valid messages that came before the bad frame in the same feed.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.messages: list[Message] = []


@dataclass(frozen=True, slots=True)
class Hangup:
    """The call is over (kind 0x00; from Asterisk it shows up as the socket closing)."""


@dataclass(frozen=True, slots=True)
class Uuid:
    """The call's identifier, always the first message from Asterisk."""

    uuid: uuid.UUID


@dataclass(frozen=True, slots=True)
class Dtmf:
    """One keypad digit: 0-9, *, # or A-D."""

    digit: str


@dataclass(frozen=True, slots=True)
class Audio:
    """One frame of signed 16-bit little-endian mono PCM."""

    pcm: bytes
    sample_rate: int = SLIN_RATE


@dataclass(frozen=True, slots=True)
class Error:
    """An error report; the payload is an implementation-defined code."""

    code: bytes = b""


Message = Hangup | Uuid | Dtmf | Audio | Error


def _frame(kind: Kind, payload: bytes = b"") -> bytes:
    if len(payload) > MAX_LENGTH:
        raise ValueError(f"payload of {len(payload)} bytes does not fit a frame")
    return bytes((kind,)) + len(payload).to_bytes(2, "big") + payload


def _check_audio(pcm: bytes) -> None:
    if not pcm:
        raise ValueError("audio payload must not be empty")
    if len(pcm) % 2:
        raise ValueError(f"audio payload must be whole 16-bit samples, got {len(pcm)} bytes")


def _check_digit(digit: str) -> None:
    if digit not in DTMF_DIGITS:
        raise ValueError(f"not a DTMF digit: {digit!r}")


def encode(message: Message) -> bytes:
    """One frame for any message; ValueError for a message the parser would refuse."""
    match message:
        case Hangup():
            return _frame(Kind.HANGUP)
        case Uuid(uuid=call_id):
            return _frame(Kind.UUID, call_id.bytes)
        case Dtmf(digit=digit):
            _check_digit(digit)
            return _frame(Kind.DTMF, digit.encode("ascii"))
        case Audio(pcm=pcm, sample_rate=rate):
            _check_audio(pcm)
            return _frame(audio_kind_for(rate), bytes(pcm))
        case Error(code=code):
            return _frame(Kind.ERROR, bytes(code))
    raise TypeError(f"not an AudioSocket message: {message!r}")


def encode_for_asterisk(message: Message) -> bytes:
    """A frame Asterisk accepts: only hangup or non-empty, whole-sample audio.

    Asterisk tears the call down on any other kind or on a zero-length payload, so every
    frame the server side writes goes through here.
    """
    if not isinstance(message, Hangup | Audio):
        raise ValueError(f"Asterisk only accepts hangup and audio, not {message!r}")
    return encode(message)


def encode_hangup() -> bytes:
    """The hangup frame."""
    return encode(Hangup())


def encode_uuid(call_id: uuid.UUID) -> bytes:
    """The UUID frame that opens a connection."""
    return encode(Uuid(call_id))


def encode_dtmf(digit: str) -> bytes:
    """A DTMF frame for one digit."""
    return encode(Dtmf(digit))


def encode_audio(pcm: bytes, sample_rate: int = SLIN_RATE) -> bytes:
    """One audio frame holding all of `pcm`."""
    return encode(Audio(pcm, sample_rate))


def split_audio(pcm: bytes, frame_bytes: int = FRAME_BYTES) -> list[bytes]:
    """`pcm` cut into frames of `frame_bytes`; the last one may be shorter."""
    if frame_bytes <= 0 or frame_bytes % 2:
        raise ValueError(f"frame size must be a positive even byte count, got {frame_bytes}")
    _check_audio(pcm)
    return [pcm[start : start + frame_bytes] for start in range(0, len(pcm), frame_bytes)]


def _kind_of(byte: int) -> Kind:
    try:
        return Kind(byte)
    except ValueError:
        raise ProtocolError(f"unknown frame kind 0x{byte:02x}") from None


def _check_header(kind: Kind, length: int, max_payload: int) -> None:
    """Refuse a frame from its header alone, before waiting for its payload."""
    if length > max_payload:
        raise ProtocolError(
            f"{kind.name} frame of {length} bytes exceeds the {max_payload}-byte limit"
        )
    if kind is Kind.UUID and length != 16:
        raise ProtocolError(f"UUID payload must be 16 bytes, got {length}")
    if kind is Kind.DTMF and length != 1:
        raise ProtocolError(f"DTMF payload must be 1 byte, got {length}")
    if is_audio_kind(kind) and (length == 0 or length % 2):
        raise ProtocolError(f"audio payload must be a non-zero even byte count, got {length}")


def _decode(kind: Kind, payload: bytes) -> Message:
    if kind is Kind.HANGUP:
        return Hangup()
    if kind is Kind.UUID:
        return Uuid(uuid.UUID(bytes=payload))
    if kind is Kind.DTMF:
        digit = chr(payload[0])
        if digit not in DTMF_DIGITS:
            raise ProtocolError(f"not a DTMF digit: {payload!r}")
        return Dtmf(digit)
    if kind is Kind.ERROR:
        return Error(payload)
    return Audio(payload, sample_rate_of(kind))


class Parser:
    """Incremental decoder: feed it any chunks of the stream, get whole messages back.

    After a `ProtocolError` the parser is dead and every further `feed()` raises; the
    messages completed before the bad frame ride on the error as `error.messages`.
    """

    def __init__(self, max_payload: int = DEFAULT_MAX_PAYLOAD) -> None:
        if not 0 < max_payload <= MAX_LENGTH:
            raise ValueError(f"max_payload must be in 1..{MAX_LENGTH}, got {max_payload}")
        self.max_payload = max_payload
        self._buffer = bytearray()
        self._error: ProtocolError | None = None

    @property
    def has_partial_frame(self) -> bool:
        """Whether bytes of an unfinished frame are buffered (a truncated frame at EOF)."""
        return bool(self._buffer)

    def feed(self, data: bytes) -> list[Message]:
        """The messages completed by `data`, in order; ProtocolError on invalid bytes."""
        if self._error is not None:
            raise ProtocolError(f"parser already failed: {self._error}")
        self._buffer += data
        messages: list[Message] = []
        try:
            self._complete_messages(messages)
        except ProtocolError as error:
            self._error = error
            self._buffer.clear()
            error.messages = messages
            raise
        return messages

    def _complete_messages(self, messages: list[Message]) -> None:
        """Append every whole frame in the buffer to `messages` and drop its bytes."""
        buffer = self._buffer
        start = 0
        while start < len(buffer):
            kind = _kind_of(buffer[start])
            if len(buffer) - start < HEADER_BYTES:
                break
            length = int.from_bytes(buffer[start + 1 : start + HEADER_BYTES], "big")
            _check_header(kind, length, self.max_payload)
            end = start + HEADER_BYTES + length
            if len(buffer) < end:
                break
            messages.append(_decode(kind, bytes(buffer[start + HEADER_BYTES : end])))
            start = end
        del buffer[:start]
