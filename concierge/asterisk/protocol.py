"""The Asterisk Manager Interface wire format as a sans-IO codec: bytes in, messages out, no I/O.

On connecting, Asterisk sends one banner line (``Asterisk Call Manager/9.0.0``). After that
every message either way is a block of ``Key: Value`` lines, each ending in CRLF, closed by an
empty line. A key may repeat (``Variable:`` in an Originate). Responses carry ``Response:``,
events ``Event:``; both echo the ``ActionID`` of the action they answer. `Parser.feed()` turns
chunks of the stream into `Message`s with hard limits; `encode_action()` refuses values that
would smuggle a line break into the stream (a visitor's name ends up in a CallerID).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

BANNER_PREFIX = "Asterisk Call Manager/"
DEFAULT_MAX_MESSAGE = 64 * 1024
_BLOCK_END = re.compile(rb"\r?\n\r?\n")
_LINE_END = re.compile(rb"\r?\n")


class ProtocolError(ValueError):
    """The peer's bytes are not the Manager Interface, or a value cannot be sent safely."""


@dataclass(frozen=True)
class Message:
    """One block of headers, in the order they came; keys compare case-insensitively."""

    headers: tuple[tuple[str, str], ...]

    def get(self, key: str, default: str | None = None) -> str | None:
        """The first value of a key."""
        wanted = key.lower()
        return next((value for name, value in self.headers if name.lower() == wanted), default)

    def get_all(self, key: str) -> list[str]:
        """Every value of a repeated key, in order."""
        wanted = key.lower()
        return [value for name, value in self.headers if name.lower() == wanted]

    @property
    def event(self) -> str | None:
        return self.get("Event")

    @property
    def response(self) -> str | None:
        return self.get("Response")

    @property
    def action_id(self) -> str | None:
        return self.get("ActionID")

    @property
    def succeeded(self) -> bool:
        return (self.response or "").lower() == "success"


class Parser:
    """Incremental reader of the Manager stream: the banner first, then messages."""

    def __init__(self, max_message: int = DEFAULT_MAX_MESSAGE) -> None:
        self.max_message = max_message
        self.banner: str | None = None
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[Message]:
        """Take more bytes; return the messages they complete. Raises ProtocolError."""
        self._buffer += data
        messages: list[Message] = []
        if self.banner is None and not self._read_banner():
            return messages
        while True:
            end = _BLOCK_END.search(self._buffer)
            if end is None:
                break
            block = bytes(self._buffer[: end.start()])
            del self._buffer[: end.end()]
            if block.strip():
                messages.append(_parse_block(block))
        if len(self._buffer) > self.max_message:
            raise ProtocolError(f"a Manager message longer than {self.max_message} bytes")
        return messages

    def _read_banner(self) -> bool:
        end = _LINE_END.search(self._buffer)
        if end is None:
            if len(self._buffer) > 256:
                raise ProtocolError("no Manager banner: this is not an Asterisk Manager port")
            return False
        line = self._buffer[: end.start()].decode("utf-8", "replace")
        if not line.startswith(BANNER_PREFIX):
            raise ProtocolError(f"not an Asterisk Manager banner: {line[:60]!r}")
        self.banner = line
        del self._buffer[: end.end()]
        return True


def _parse_block(block: bytes) -> Message:
    headers = []
    for raw in _LINE_END.split(block):
        line = raw.decode("utf-8", "replace")
        key, sep, value = line.partition(":")
        if not sep or not key.strip():
            raise ProtocolError(f"a Manager line without 'Key: Value': {line[:60]!r}")
        headers.append((key.strip(), value.strip()))
    return Message(tuple(headers))


HeaderValues = Mapping[str, "str | int | Iterable[str] | None"]


def encode_action(action: str, headers: HeaderValues) -> bytes:
    """One action block. A list value repeats its key; None leaves the key out."""
    lines = [("Action", action)]
    for key, value in headers.items():
        if value is None:
            continue
        values = [value] if isinstance(value, str | int) else list(value)
        lines.extend((key, str(v)) for v in values)
    for key, value in lines:
        if any(ch in key + value for ch in "\r\n") or ":" in key:
            raise ProtocolError(f"the Manager header {key!r} cannot carry a line break")
    return "".join(f"{key}: {value}\r\n" for key, value in lines).encode("utf-8") + b"\r\n"


def encode_message(headers: Iterable[tuple[str, str]]) -> bytes:
    """A block as the server writes it (responses and events): for tests and simulators."""
    return "".join(f"{key}: {value}\r\n" for key, value in headers).encode("utf-8") + b"\r\n"
