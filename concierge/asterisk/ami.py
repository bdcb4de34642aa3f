"""An asyncio Asterisk Manager Interface client: log in, originate calls, set and get variables, events.

Written on our own sans-IO codec (`asterisk/protocol.py`) rather than on `panoramisk`, the one
asyncio AMI library on PyPI: its last release (1.4) dates from 2021, it predates Python 3.11's
asyncio (loop arguments, `get_event_loop()`), and it would still leave us writing what we need
most — waiting for the `OriginateResponse` event that belongs to our `ActionID`, failing every
waiter cleanly when the connection drops, and one-line errors. The protocol is a few lines of
``Key: Value``; what is ours is the behaviour around it, and that is what the tests pin down.

One reader task per connection routes each response to the action that is waiting for it (by
ActionID), routes `OriginateResponse` events to their originate, and copies every event to
`events()` subscribers. A keep-alive `Ping` notices a dead link. When the connection is lost,
every waiter gets `AMIConnectionLost`; `close()` is safe at any time and `connect()` may be
called again afterwards.

Asterisk's side (manager.conf): a user with ``read = call,system`` (the `OriginateResponse`
and call events) and ``write = originate,call,system`` (Originate, Setvar/Getvar).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from concierge.asterisk.protocol import Message, Parser, ProtocolError, encode_action
from concierge.errors import UserError

log = logging.getLogger(__name__)
DEFAULT_PORT = 5038
READ_CHUNK = 4096


class AMIError(UserError):
    """The Manager Interface cannot be used; the message is one line saying why and what to do."""


class AMIUnreachable(AMIError):
    """Nothing answers as an Asterisk Manager at that address."""


class AMILoginRefused(AMIError):
    """Asterisk refused the username or secret."""

    exit_code = 2


class AMIConnectionLost(AMIError):
    """The connection closed or stopped answering while something was waiting on it."""


class AMIActionFailed(AMIError):
    """Asterisk answered an action with an error."""


class OriginateReason(StrEnum):
    """How an originated call ended up, from Asterisk's `Reason` code."""

    ANSWERED = "answered"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    CONGESTION = "congestion"
    HUNG_UP = "hung_up"
    FAILED = "failed"


_REASON_BY_CODE = {
    "0": OriginateReason.FAILED,  # no such channel / technology, or the dial failed outright
    "1": OriginateReason.HUNG_UP,  # rejected
    "3": OriginateReason.NO_ANSWER,  # rang until the timeout
    "4": OriginateReason.ANSWERED,
    "5": OriginateReason.BUSY,
    "8": OriginateReason.CONGESTION,
}


@dataclass(frozen=True)
class OriginateResult:
    action_id: str
    reason: OriginateReason
    channel: str | None = None
    unique_id: str | None = None
    message: str | None = None

    @property
    def answered(self) -> bool:
        return self.reason is OriginateReason.ANSWERED


@dataclass
class _Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    parser: Parser
    responses: dict[str, asyncio.Future[Message]] = field(default_factory=dict)
    originates: dict[str, asyncio.Future[Message]] = field(default_factory=dict)
    lists: dict[str, tuple[list[Message], asyncio.Future[None]]] = field(default_factory=dict)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    ended: bool = False


class AMIClient:
    """One Manager session. Use `async with AMIClient(...)` or `connect()` / `close()`."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        username: str = "",
        secret: str = "",
        timeout: float = 5.0,
        ping_interval: float | None = 20.0,
    ) -> None:
        self.host, self.port = host, port
        self.username, self._secret = username, secret
        self.timeout = timeout
        self.ping_interval = ping_interval
        self.banner: str | None = None
        self._conn: _Connection | None = None
        self._subscribers: set[asyncio.Queue[Message | None]] = set()
        self._ids = itertools.count(1)
        self._prefix = uuid.uuid4().hex[:8]

    def __repr__(self) -> str:
        return f"AMIClient({self.host}:{self.port}, user={self.username!r}, connected={self.connected})"

    @property
    def connected(self) -> bool:
        return self._conn is not None

    async def __aenter__(self) -> AMIClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def connect(self) -> None:
        """Open the connection, read the banner and log in; AMIUnreachable / AMILoginRefused otherwise."""
        if self._conn is not None:
            return
        where = f"{self.host}:{self.port}"
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(self.host, self.port), self.timeout)
        except (OSError, TimeoutError) as error:
            reason = "timed out" if isinstance(error, TimeoutError) else (error.strerror or str(error))
            raise AMIUnreachable(
                f"cannot reach the Asterisk Manager at {where} ({reason}) — check asterisk.ami.host/port "
                "and that manager.conf has enabled = yes"
            ) from None
        conn = _Connection(reader, writer, Parser())
        try:
            early = await asyncio.wait_for(self._read_banner(conn), self.timeout)
        except (TimeoutError, ProtocolError, ConnectionError) as error:
            writer.close()
            raise AMIUnreachable(f"{where} does not answer as an Asterisk Manager ({error or 'timed out'})") from None
        self.banner = conn.parser.banner
        self._conn = conn
        conn.tasks.append(asyncio.create_task(self._read_loop(conn, early), name=f"ami-reader {where}"))
        try:
            reply = await self.action("Login", {"Username": self.username, "Secret": self._secret})
        except AMIConnectionLost:
            await self.close()
            raise AMILoginRefused(f"the Asterisk Manager at {where} closed the connection at login") from None
        if not reply.succeeded:
            await self.close()
            detail = reply.get("Message") or "refused"
            raise AMILoginRefused(
                f"the Asterisk Manager at {where} refused user {self.username!r} ({detail}) — "
                "check asterisk.ami.username and APOENA_ASTERISK__AMI__SECRET against manager.conf"
            )
        if self.ping_interval:
            conn.tasks.append(asyncio.create_task(self._keep_alive(conn), name=f"ami-ping {where}"))

    async def action(
        self, name: str, headers: Mapping[str, object] | None = None, timeout: float | None = None, action_id: str | None = None
    ) -> Message:
        """Send one action and return its response (success or not)."""
        conn = self._require()
        action_id = action_id or self._new_id()
        waiter: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        conn.responses[action_id] = waiter
        try:
            await self._send(conn, name, {"ActionID": action_id, **(headers or {})})
            return await asyncio.wait_for(asyncio.shield(waiter), timeout or self.timeout)
        except TimeoutError:
            raise AMIConnectionLost(f"the Asterisk Manager did not answer {name} within {timeout or self.timeout:g} s") from None
        finally:
            conn.responses.pop(action_id, None)

    async def originate(
        self,
        channel: str,
        context: str,
        exten: str = "s",
        priority: int = 1,
        variables: Mapping[str, str] | None = None,
        ring_seconds: float = 30.0,
        caller_id: str | None = None,
        action_id: str | None = None,
    ) -> OriginateResult:
        """Call `channel` into `context,exten,priority`; return once Asterisk reports how it went.

        Asynchronous on Asterisk's side (``Async: true``): the action is queued, and the outcome
        arrives as an `OriginateResponse` event with our ActionID after the phone is answered,
        rings out, is busy or fails."""
        conn = self._require()
        action_id = action_id or self._new_id()
        outcome: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        queued: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        conn.originates[action_id] = outcome
        conn.responses[action_id] = queued
        headers = {
            "ActionID": action_id,
            "Channel": channel,
            "Context": context,
            "Exten": exten,
            "Priority": priority,
            "Timeout": int(ring_seconds * 1000),
            "CallerID": caller_id,
            "Async": "true",
            "Variable": [f"{key}={value}" for key, value in (variables or {}).items()],
        }
        try:
            await self._send(conn, "Originate", headers)
            response = await asyncio.wait_for(asyncio.shield(queued), self.timeout)
            if not response.succeeded:
                return OriginateResult(action_id, OriginateReason.FAILED, channel, message=response.get("Message"))
            event = await asyncio.wait_for(asyncio.shield(outcome), ring_seconds + self.timeout)
        except TimeoutError:
            raise AMIConnectionLost(f"no outcome from Asterisk for the call to {channel}") from None
        finally:
            conn.originates.pop(action_id, None)
            conn.responses.pop(action_id, None)
        return _originate_result(action_id, event)

    async def setvar(self, variable: str, value: str, channel: str | None = None) -> None:
        """Set a channel variable (or a global one, without a channel)."""
        reply = await self.action("Setvar", {"Channel": channel, "Variable": variable, "Value": value})
        if not reply.succeeded:
            raise AMIActionFailed(f"Asterisk refused to set {variable}: {reply.get('Message') or 'error'}")

    async def getvar(self, variable: str, channel: str | None = None) -> str | None:
        """A channel (or global) variable's value; None when it is unset or the channel is gone."""
        reply = await self.action("Getvar", {"Channel": channel, "Variable": variable})
        if not reply.succeeded:
            return None
        return reply.get("Value") or None

    async def collect(self, name: str, headers: Mapping[str, object] | None = None, timeout: float | None = None) -> list[Message]:
        """Send an action Asterisk answers with a list of events (Status, CoreShowChannels…); return
        the events up to the list's closing '…Complete' event."""
        conn = self._require()
        action_id = self._new_id()
        events: list[Message] = []
        complete: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        conn.lists[action_id] = (events, complete)
        try:
            reply = await self.action(name, headers, timeout, action_id=action_id)
            if not reply.succeeded:
                raise AMIActionFailed(f"Asterisk refused {name}: {reply.get('Message') or 'error'}")
            await asyncio.wait_for(asyncio.shield(complete), timeout or self.timeout)
        except TimeoutError:
            raise AMIConnectionLost(f"the Asterisk Manager did not finish the {name} list in time") from None
        finally:
            conn.lists.pop(action_id, None)
        return events

    async def find_channel(self, variable: str, value: str) -> str | None:
        """The name of the channel whose `variable` holds `value` (e.g. the visitor's, by APOENA_CALL), or None."""
        wanted = f"{variable}={value}"
        for event in await self.collect("Status", {"Variables": variable}):
            if event.event == "Status" and wanted in event.get_all("Variable"):
                return event.get("Channel")
        return None

    async def ping(self) -> None:
        """One round trip; AMIConnectionLost when the Manager does not answer in time."""
        await self.action("Ping")

    async def events(self) -> AsyncIterator[Message]:
        """Every event from now on, until the connection ends or the consumer stops."""
        queue: asyncio.Queue[Message | None] = asyncio.Queue(maxsize=1000)
        self._subscribers.add(queue)
        try:
            while (message := await queue.get()) is not None:
                yield message
        finally:
            self._subscribers.discard(queue)

    async def close(self) -> None:
        """Log off (best effort) and close; safe to call twice, after a drop, or before `connect()`."""
        conn, self._conn = self._conn, None
        if conn is None:
            return
        if not conn.writer.is_closing():
            with contextlib.suppress(Exception):
                conn.writer.write(encode_action("Logoff", {"ActionID": self._new_id()}))
                await asyncio.wait_for(conn.writer.drain(), 1.0)
        self._shutdown(conn, "closed")
        for task in conn.tasks:
            task.cancel()
        await asyncio.gather(*conn.tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(conn.writer.wait_closed(), 1.0)

    def _require(self) -> _Connection:
        if self._conn is None:
            raise AMIConnectionLost(f"not connected to the Asterisk Manager at {self.host}:{self.port}")
        return self._conn

    def _new_id(self) -> str:
        return f"apoena-{self._prefix}-{next(self._ids)}"

    async def _send(self, conn: _Connection, name: str, headers: Mapping[str, object]) -> None:
        if conn.writer.is_closing():
            raise AMIConnectionLost("the Asterisk Manager connection is closed")
        try:
            conn.writer.write(encode_action(name, headers))  # type: ignore[arg-type]
            await conn.writer.drain()
        except ConnectionError as error:
            self._lost(conn, error)
            raise AMIConnectionLost(f"the Asterisk Manager connection dropped ({error})") from None

    @staticmethod
    async def _read_banner(conn: _Connection) -> list[Message]:
        while conn.parser.banner is None:
            data = await conn.reader.read(READ_CHUNK)
            if not data:
                raise ConnectionError("closed before the banner")
            early = conn.parser.feed(data)
        return early

    async def _read_loop(self, conn: _Connection, early: list[Message]) -> None:
        reason = "the Asterisk Manager closed the connection"
        try:
            for message in early:
                self._dispatch(conn, message)
            while data := await conn.reader.read(READ_CHUNK):
                for message in conn.parser.feed(data):
                    self._dispatch(conn, message)
        except (ConnectionError, ProtocolError) as error:
            reason = f"the Asterisk Manager connection failed ({error})"
        self._lost(conn, reason)

    def _dispatch(self, conn: _Connection, message: Message) -> None:
        action_id = message.action_id
        if message.event is None:
            waiter = conn.responses.get(action_id or "")
            if waiter is not None and not waiter.done():
                waiter.set_result(message)
            return
        if action_id in conn.lists:
            events, complete = conn.lists[action_id]
            if message.event.endswith("Complete"):
                if not complete.done():
                    complete.set_result(None)
            else:
                events.append(message)
        if message.event == "OriginateResponse" and action_id in conn.originates:
            waiter = conn.originates[action_id]
            if not waiter.done():
                waiter.set_result(message)
        for queue in list(self._subscribers):
            with contextlib.suppress(asyncio.QueueFull):  # a consumer that falls behind loses events, calls go on
                queue.put_nowait(message)

    async def _keep_alive(self, conn: _Connection) -> None:
        assert self.ping_interval
        while True:
            await asyncio.sleep(self.ping_interval)
            try:
                await self.ping()
            except AMIConnectionLost as error:
                log.warning("Asterisk Manager keep-alive failed: %s", error)
                self._lost(conn, str(error))
                return

    def _lost(self, conn: _Connection, reason: object) -> None:
        """The connection is gone: wake every waiter, end every event stream, allow reconnecting."""
        if self._conn is conn:
            self._conn = None
            log.warning("%s", reason)
        self._shutdown(conn, str(reason))
        for task in conn.tasks:
            if task is not asyncio.current_task():
                task.cancel()

    def _shutdown(self, conn: _Connection, reason: str) -> None:
        if conn.ended:
            return
        conn.ended = True
        for waiter in [*conn.responses.values(), *conn.originates.values(), *(done for _, done in conn.lists.values())]:
            if not waiter.done():
                waiter.set_exception(AMIConnectionLost(reason))
                waiter.exception()  # marked as seen: nobody may be awaiting this one any more
        conn.responses.clear()
        conn.originates.clear()
        conn.lists.clear()
        if self._conn is None:  # not when a newer connection already serves the subscribers
            for queue in list(self._subscribers):
                if queue.full():
                    queue.get_nowait()  # the end must get through even to a consumer that fell behind
                queue.put_nowait(None)
        conn.writer.close()


def _originate_result(action_id: str, event: Message) -> OriginateResult:
    succeeded = (event.response or "").lower() == "success"
    reason = OriginateReason.ANSWERED if succeeded else _REASON_BY_CODE.get(event.get("Reason", ""), OriginateReason.FAILED)
    if not succeeded and reason is OriginateReason.ANSWERED:
        reason = OriginateReason.FAILED
    return OriginateResult(action_id, reason, event.get("Channel"), event.get("Uniqueid"), event.get("Reason"))
