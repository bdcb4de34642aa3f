"""A simulated Asterisk for `apoena simulate`: a real Manager Interface on a loopback socket, whose
Originate "rings" a simulated resident who answers into Apoena's AudioSocket server.

It speaks the Manager wire format Asterisk 22 speaks (banner, Login, Ping, Originate with its
`OriginateResponse` event, Status, Setvar, Getvar, Logoff). An originated call is answered by
connecting a second AudioSocket client to the ``APOENA_AUDIOSOCKET`` address with the
``APOENA_UUID`` the dialplan contract passes, exactly as the resident context would; that client
plays a `SimulatedResident`: it listens, and once Apoena has spoken and gone quiet, it says its
recorded answer (or keys it). `resident=None` is a resident who never picks up: the call rings
for the Originate's whole `Timeout` and ends as no answer. A resident whose `line` is ``busy``
ends the call as busy; one who `speaks_first` is a mailbox or the carrier's recording: it talks
the moment it answers, and then only listens (records).

`residents` gives each attempt of a visit its own answer, in order: the first Originate for a
visit (told apart by its ``APOENA_VISIT`` variable) reaches the first, the second the second…;
an attempt beyond the list rings out. Without `residents`, `resident` answers every attempt.

Visitor channels can be declared (`add_channel`) with their variables, so `Status` finds the
visitor's channel by ``APOENA_CALL`` and a decision set with `Setvar` can be checked afterwards.
Failure modes for tests: refuse the login, drop the connection on Originate, answer but never
connect the leg, a resident who hangs up mid-question.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from concierge.asterisk.protocol import Message, Parser, ProtocolError, encode_message
from concierge.audio.pcm import FRAME_BYTES, FRAME_SECONDS
from concierge.audiosocket.client import AudioSocketClient
from concierge.audiosocket.protocol import Audio, Hangup

log = logging.getLogger("apoena.simulated_asterisk")
BANNER = b"Asterisk Call Manager/9.0.0\r\n"
SPEECH_LEVEL = 200  # a received frame with a sample louder than this is Apoena speaking
QUIET_BEFORE_ANSWER = 0.6  # Apoena quiet this long after speaking: the resident answers
LONGEST_LEG_SECONDS = 180.0


@dataclass(frozen=True)
class SimulatedResident:
    """What the resident does once asked: say `pcm` (8 kHz slin) and/or key `digits`, at most
    `answers` times (a question asked again is answered again); `hang_up_after` seconds into the
    leg, hang up whatever happens. `speaks_first`: say `pcm` the moment the call is answered and
    nothing more (a mailbox, the carrier's message). `line`: ``answers``, or ``busy`` / ``no_answer``
    for a phone that never picks up."""

    pcm: bytes = b""
    digits: str = ""
    answers: int = 2
    hang_up_after: float | None = None
    speaks_first: bool = False
    line: Literal["answers", "busy", "no_answer"] = "answers"


@dataclass
class ResidentLegReport:
    """What one simulated resident leg heard and did."""

    leg_id: str
    channel: str
    received: bytearray = field(default_factory=bytearray)
    answered: int = 0
    first_audio_at: float | None = None  # monotonic
    ended_at: float | None = None
    hung_up_by_apoena: bool = False  # Apoena sent the hangup (0x00), rather than the resident closing


@dataclass
class SimulatedAsterisk:
    resident: SimulatedResident | None = None  # None: nobody picks up
    residents: Sequence[SimulatedResident | None] = ()  # one per attempt of a visit, in order (over `resident`)
    username: str = "apoena"
    secret: str | None = None  # None accepts any secret
    refuse_login: bool = False
    drop_on_originate: bool = False
    connect_leg: bool = True  # False: answered, but the leg never reaches AudioSocket
    leg_delay: float = 0.0  # seconds between the answer and the leg reaching AudioSocket
    ring_seconds: float = 0.3  # before an answer
    speed: float = 1.0
    channels: dict[str, dict[str, str]] = field(default_factory=dict)  # channel -> its variables
    originates: list[Message] = field(default_factory=list)
    attempts: dict[str, int] = field(default_factory=dict)  # APOENA_VISIT -> Originates seen for that visit
    legs: list[ResidentLegReport] = field(default_factory=list)
    port: int = 0
    _server: asyncio.Server | None = None
    _tasks: set[asyncio.Task] = field(default_factory=set)
    _writers: list[asyncio.StreamWriter] = field(default_factory=list)

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> SimulatedAsterisk:
        self._server = await asyncio.start_server(self._handle, host, port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for writer in self._writers:
            writer.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def __aenter__(self) -> SimulatedAsterisk:
        return await self.start()

    async def __aexit__(self, *_: object) -> None:
        await self.stop()

    def add_channel(self, name: str, **variables: str) -> None:
        """A channel Asterisk has up (a visitor's), with its variables (e.g. APOENA_CALL=<uuid>)."""
        self.channels[name] = dict(variables)

    def _spawn(self, coroutine) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.append(writer)
        writer.write(BANNER)
        parser = Parser()
        parser.banner = "client"  # actions come without a banner
        lock = asyncio.Lock()
        logged_in = False

        async def send(*headers: tuple[str, str]) -> None:
            async with lock:
                if not writer.is_closing():
                    writer.write(encode_message(headers))
                    await writer.drain()

        try:
            while data := await reader.read(4096):
                for action in parser.feed(data):
                    name, action_id = (action.get("Action") or "").lower(), action.get("ActionID") or ""
                    ok = (("Response", "Success"), ("ActionID", action_id))
                    if name == "login":
                        if self.refuse_login or (self.secret is not None and action.get("Secret") != self.secret):
                            await send(("Response", "Error"), ("ActionID", action_id), ("Message", "Authentication failed"))
                            writer.close()
                            return
                        logged_in = True
                        await send(*ok, ("Message", "Authentication accepted"))
                    elif not logged_in:
                        await send(("Response", "Error"), ("ActionID", action_id), ("Message", "Permission denied"))
                    elif name == "ping":
                        await send(*ok, ("Ping", "Pong"), ("Timestamp", f"{time.time():.6f}"))
                    elif name == "originate":
                        if self.drop_on_originate:
                            writer.transport.abort()
                            return
                        self.originates.append(action)
                        await send(*ok, ("Message", "Originate successfully queued"))
                        self._spawn(self._originate(action, action_id, send))
                    elif name == "status":
                        await self._status(action, action_id, send)
                    elif name == "setvar":
                        variables = self.channels.setdefault(action.get("Channel") or "", {})
                        variables[action.get("Variable") or ""] = action.get("Value") or ""
                        await send(*ok, ("Message", "Variable Set"))
                    elif name == "getvar":
                        variable = action.get("Variable") or ""
                        value = self.channels.get(action.get("Channel") or "", {}).get(variable, "")
                        await send(*ok, ("Variable", variable), ("Value", value))
                    elif name == "logoff":
                        await send(("Response", "Goodbye"), ("ActionID", action_id), ("Message", "Thanks for all the fish."))
                        writer.close()
                        return
                    else:
                        await send(("Response", "Error"), ("ActionID", action_id), ("Message", "Invalid/unknown command"))
        except (ConnectionError, ProtocolError):
            pass
        finally:
            writer.close()

    async def _status(self, action: Message, action_id: str, send) -> None:
        wanted = [name.strip() for name in (action.get("Variables") or "").split(",") if name.strip()]
        await send(("Response", "Success"), ("ActionID", action_id), ("EventList", "start"), ("Message", "Channel status will follow"))
        for channel, variables in self.channels.items():
            shown = [("Variable", f"{name}={variables.get(name, '')}") for name in wanted]
            await send(("Event", "Status"), ("ActionID", action_id), ("Channel", channel), ("ChannelStateDesc", "Up"), *shown)
        await send(("Event", "StatusComplete"), ("ActionID", action_id), ("EventList", "Complete"), ("Items", str(len(self.channels))))

    def _resident_for(self, visit: str) -> SimulatedResident | None:
        """Who answers this attempt of `visit`: the next of `residents`, or `resident` for every attempt."""
        attempt = self.attempts.get(visit, 0)
        self.attempts[visit] = attempt + 1
        if not self.residents:
            return self.resident
        return self.residents[attempt] if attempt < len(self.residents) else None

    async def _originate(self, action: Message, action_id: str, send) -> None:
        channel = action.get("Channel") or ""
        variables = dict(v.partition("=")[::2] for v in action.get_all("Variable"))
        timeout = int(action.get("Timeout") or 30000) / 1000
        resident = self._resident_for(variables.get("APOENA_VISIT", ""))
        line = "no_answer" if resident is None else resident.line
        await asyncio.sleep((timeout if line == "no_answer" else self.ring_seconds) / self.speed)
        fields = [("Event", "OriginateResponse"), ("Privilege", "call,all"), ("ActionID", action_id), ("Channel", channel),
                  ("Context", action.get("Context") or ""), ("Exten", action.get("Exten") or "")]  # fmt: skip
        if resident is None or line != "answers":
            await send(*fields, ("Response", "Failure"), ("Reason", "5" if line == "busy" else "3"), ("Uniqueid", "<null>"))
            return
        await send(*fields, ("Response", "Success"), ("Reason", "4"), ("Uniqueid", f"{time.time():.2f}"))
        if self.connect_leg:
            await asyncio.sleep(self.leg_delay)
            report = ResidentLegReport(variables.get("APOENA_UUID", ""), channel)
            self.legs.append(report)
            await self._resident_leg(variables.get("APOENA_AUDIOSOCKET", ""), report, resident)

    async def _resident_leg(self, address: str, report: ResidentLegReport, resident: SimulatedResident) -> None:
        """The resident's phone, answered into AudioSocket: listen, answer when Apoena has asked, until hung up."""
        import uuid

        host, _, port = address.rpartition(":")
        try:
            client = await AudioSocketClient.connect(host, int(port), uuid.UUID(report.leg_id))
        except (OSError, ValueError) as error:
            log.warning("simulated resident: cannot reach AudioSocket at %s: %s", address, error)
            return
        heard = _Heard()
        listening = asyncio.create_task(_listen(client, report, heard))
        loop = asyncio.get_running_loop()
        started = loop.time()
        interval = FRAME_SECONDS / self.speed
        tick = 0
        pending: list[bytes] = []
        try:
            while not listening.done():
                now = loop.time()
                if resident.hang_up_after is not None and now - started >= resident.hang_up_after / self.speed:
                    break
                if now - started >= LONGEST_LEG_SECONDS:
                    break
                asked = heard.spoke and now - heard.last_voice >= QUIET_BEFORE_ANSWER / self.speed
                if resident.speaks_first:
                    if tick == 0:  # a recording: it talks at once, over whatever Apoena says, then records
                        report.answered = 1
                        pending = _frames(resident.pcm)
                elif asked and not pending and report.answered < resident.answers:
                    report.answered += 1
                    heard.spoke = False
                    for digit in resident.digits:
                        await client.send_dtmf(digit)
                    pending = _frames(resident.pcm) + [bytes(FRAME_BYTES)] * 40
                await client.send_audio(pending.pop(0) if pending else bytes(FRAME_BYTES))
                tick += 1
                delay = started + tick * interval - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
        except ConnectionError:
            pass
        finally:
            await client.close()
            listening.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listening
            report.ended_at = time.monotonic()


@dataclass
class _Heard:
    spoke: bool = False
    last_voice: float = 0.0


async def _listen(client: AudioSocketClient, report: ResidentLegReport, heard: _Heard) -> None:
    loop = asyncio.get_running_loop()
    while True:
        message = await client.receive()
        if isinstance(message, Hangup):
            report.hung_up_by_apoena = True
            return
        if isinstance(message, Audio):
            report.received += message.pcm
            if _loud(message.pcm):
                if report.first_audio_at is None:
                    report.first_audio_at = time.monotonic()
                heard.spoke, heard.last_voice = True, loop.time()


def _loud(pcm: bytes) -> bool:
    samples = memoryview(pcm[: len(pcm) // 2 * 2]).cast("h")
    return any(abs(sample) > SPEECH_LEVEL for sample in samples)


def _frames(pcm: bytes) -> list[bytes]:
    frames = [pcm[i : i + FRAME_BYTES] for i in range(0, len(pcm), FRAME_BYTES)]
    return [frame + bytes(FRAME_BYTES - len(frame)) for frame in frames]
