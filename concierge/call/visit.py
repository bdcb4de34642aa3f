"""One visit across its two legs: call the resident, run their leg, bring the decision back.

When the visitor's leg (`CallSession`) has a complete visit, it asks `ResidentLegs.ask()` for a
decision while the visitor waits. `ask` picks a fresh UUID for the resident's leg, rings the
apartment's dial strings through the Manager Interface (`asterisk.dialer`), and waits for that
UUID to arrive on the same AudioSocket server: the server's handler gives every connection to
`ResidentLegs.claims()` first, and a claimed one runs `serve_leg()`, where `ResidentLine` plays
the `ResidentDialog`'s prompts (synthesized text and the visitor's own recorded name), hears the
resident through the same speech recognition (and keypad), and ends with a `Decision`.

Every way a visit can end is a decision with a reason, reported as `VisitDecided`:
no dial string, a Manager that refuses the login or drops, nobody answering, a leg that never
arrives, a resident who hangs up mid-question, no decision in `visit_timeout_seconds`, the
visitor leaving (`cancelled`). Only a resident's yes is `authorized`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field

from concierge.asterisk.ami import AMIClient, AMIError, AMILoginRefused
from concierge.asterisk.dialer import ring_resident
from concierge.audio.endpoint import EndpointParams, Endpointer, UtteranceEnded
from concierge.audio.pacer import Pacer, Playback
from concierge.audio.pcm import SAMPLE_RATE, resample
from concierge.audiosocket.protocol import Audio, Dtmf, Hangup
from concierge.audiosocket.server import Connection
from concierge.audiosocket.stream import ConnectionClosed
from concierge.brain.directory import Directory
from concierge.brain.rules import resident_article
from concierge.call.noise import is_noise
from concierge.call.resident import Decision, PlayVisitorName, Prompt, ResidentDialog, Say, VisitFacts
from concierge.config import Config

log = logging.getLogger("apoena.visit")

NOT_ASKED = "not_asked"  # nobody was asked: the Manager Interface is not configured
CANCELLED = "cancelled"  # the visitor left before the resident decided
DECISIONS = (*(decision.value for decision in Decision), NOT_ASKED, CANCELLED)
GAP_SECONDS = 0.12
CLOSING_SECONDS = 8.0  # the resident's closing words never hold the visit longer than this
VISIT_CLOSED = "A visita foi encerrada. Obrigado!"  # to a resident still on the line when the visitor left


def waiting_update(resident: str) -> str:
    """What the waiting visitor hears every `waiting_update_seconds`."""
    return f"Ainda estou tentando falar com {resident_article(resident)}. Aguarde, por favor."


def visit_phrases() -> tuple[str, ...]:
    """Sentences a visit says word for word, to render before the first call."""
    from concierge.call.resident import ASK, ASK_AGAIN, _TO_RESIDENT

    fixed = [ASK, ASK_AGAIN, VISIT_CLOSED, *_TO_RESIDENT.values()]
    for resident in ("Ana", "João"):  # one of each article
        fixed.append(waiting_update(resident))
        facts = VisitFacts(intent="entrega", visitor_name="", resident_name=resident, apartment="")  # type: ignore[arg-type]
        for decision in Decision:
            dialog = ResidentDialog(facts)
            dialog.decision = decision
            fixed.append(dialog.visitor_message)
    return tuple(fixed)


# -- events: what a visit reports, beside the call's own -----------------------------------------


@dataclass(frozen=True)
class VisitStarted:
    """The visit is complete and the resident is being called (or not: see `VisitDecided`)."""

    call_id: str
    leg_id: str
    facts: VisitFacts
    dial_strings: tuple[str, ...]
    at: float = field(default_factory=time.time)


@dataclass(frozen=True)
class ResidentDialing:
    call_id: str
    dial: str
    at: float = field(default_factory=time.time)


@dataclass(frozen=True)
class ResidentAnswered:
    """The resident's leg reached the AudioSocket server."""

    call_id: str
    leg_id: str
    at: float = field(default_factory=time.time)


@dataclass(frozen=True)
class ResidentTurnHeard:
    """One thing the resident did, how it was read, and what they were told back."""

    call_id: str
    index: int
    by: str  # voice | keypad | silence
    heard: str
    answer: str
    reply: str
    stt_ms: float
    at: float = field(default_factory=time.time)


@dataclass(frozen=True)
class VisitDecided:
    """How the visit ended. `decision` is one of DECISIONS; `by` is voice or keypad when a resident
    decided; times are from the visit's start (the confirmation said) in ms."""

    call_id: str
    decision: str
    reason: str
    by: str | None = None
    decided_by: str | None = None
    leg_id: str | None = None
    attempts: tuple[tuple[str, str], ...] = ()  # (dial string, how it went)
    asked_ms: float | None = None  # -> the resident's first prompt started playing
    ringing_ms: float | None = None  # -> the originate was answered
    decision_ms: float | None = None  # -> the decision
    visitor_message: str = ""
    started_at: float = 0.0
    at: float = field(default_factory=time.time)


VisitEvent = VisitStarted | ResidentDialing | ResidentAnswered | ResidentTurnHeard | VisitDecided
Observe = Callable[[object], None]


# -- the resident's leg -------------------------------------------------------------------------


@dataclass
class _Pending:
    """A resident's leg Apoena is waiting for, by its UUID."""

    call_id: str
    leg_id: str
    facts: VisitFacts
    name_pcm: bytes | None
    services: object  # CallServices (typed loosely: services imports this module)
    observe: Observe
    started: float  # monotonic, the visit's start
    arrived: asyncio.Future[Connection] = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    decided: asyncio.Future[ResidentDialog] = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    asked_at: float | None = None  # monotonic: the first prompt's first byte
    rendering: dict[str, Future] = field(default_factory=dict)  # the opening's sentences, synthesized while it rings
    cancelled: asyncio.Event = field(default_factory=asyncio.Event)


class ResidentLine:
    """The resident's AudioSocket leg: plays prompts, hears speech (transcribed) and keys, until a decision."""

    def __init__(self, connection: Connection, pending: _Pending, silence_seconds: float) -> None:
        self.connection = connection
        self.pending = pending
        self.services = pending.services
        self.silence_seconds = silence_seconds
        config: Config = self.services.config  # type: ignore[attr-defined]
        self.pacer = Pacer(connection.send_audio)
        self.endpointer = Endpointer(
            EndpointParams(end_silence_seconds=config.system.silence_threshold_seconds, opening_max_speech_seconds=0)
        )
        self.inputs: asyncio.Queue[tuple] = asyncio.Queue()
        self._input_arrived = asyncio.Event()
        self.turns = 0

    async def run(self, dialog: ResidentDialog) -> None:
        """Run the dialog to its decision (or the resident's hangup), say the closing words, hang up."""
        pacer_task = asyncio.create_task(self.pacer.run(), name=f"pacer-{self.connection.call_id}")
        hearing = asyncio.create_task(self._hear(), name=f"hear-{self.connection.call_id}")
        try:
            prompts = dialog.start()
            while not dialog.done:
                await self._say(prompts, interruptible=True)
                prompts = await self._next_answer(dialog)
                if self.pending.cancelled.is_set():
                    dialog.hung_up()
                    prompts = (Say(VISIT_CLOSED),)
            if prompts and not self.connection.closed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._say(prompts, interruptible=False), CLOSING_SECONDS)
            with contextlib.suppress(ConnectionClosed):
                await self.connection.hangup()
        except ConnectionClosed:
            dialog.hung_up()
        finally:
            hearing.cancel()
            self.pacer.close()
            await asyncio.gather(hearing, pacer_task, return_exceptions=True)

    async def _next_answer(self, dialog: ResidentDialog) -> tuple[Prompt, ...]:
        """Wait for the resident's next answer (or silence, hangup, cancellation); feed it to the dialog."""
        while True:
            cancelled = asyncio.create_task(self.pending.cancelled.wait())
            getting = asyncio.create_task(self.inputs.get())
            done, _ = await asyncio.wait({cancelled, getting}, timeout=self.silence_seconds, return_when=asyncio.FIRST_COMPLETED)
            for task in (cancelled, getting):
                if task not in done:
                    task.cancel()
            if cancelled in done:
                return ()
            if getting not in done:
                return self._turn(dialog, "silence", "", 0.0, dialog.silence())
            kind, *rest = getting.result()
            if kind == "hangup":
                dialog.hung_up()
                return ()
            if kind == "key":
                return self._turn(dialog, "keypad", rest[0], 0.0, dialog.press(rest[0]))
            future, speech_seconds = rest
            started = time.perf_counter()
            transcript = await asyncio.wrap_future(future)
            stt_ms = transcript.elapsed_ms or (time.perf_counter() - started) * 1000
            if not transcript.text.strip() or is_noise(transcript.text, speech_seconds):
                log.info("resident leg %s: not an answer: %r", self.connection.call_id, transcript.text)
                continue
            return self._turn(dialog, "voice", transcript.text, stt_ms, dialog.hear(transcript.text))

    def _turn(self, dialog: ResidentDialog, by: str, heard: str, stt_ms: float, prompts: tuple[Prompt, ...]) -> tuple[Prompt, ...]:
        self.turns += 1
        answer = dialog.turns[-1].answer.value if dialog.turns else ""
        reply = " ".join(p.text for p in prompts if isinstance(p, Say))
        self.pending.observe(ResidentTurnHeard(self.pending.call_id, self.turns, by, heard, answer, reply, stt_ms))
        return prompts

    async def _say(self, prompts: tuple[Prompt, ...], interruptible: bool) -> None:
        """Play prompts in order; with `interruptible`, a key or a finished utterance stops them (barge-in)."""
        from concierge.call.services import sentences

        loop = asyncio.get_running_loop()
        playbacks: list[Playback] = []
        for prompt in prompts:
            if isinstance(prompt, PlayVisitorName):
                if self.pending.name_pcm:
                    playbacks.append(self.pacer.play(self.pending.name_pcm))
                continue
            for sentence in sentences(prompt.text):
                if interruptible and not self.inputs.empty():
                    break
                early = self.pending.rendering.pop(sentence, None)
                if early is not None:
                    pcm = await asyncio.wrap_future(early)
                else:
                    pcm = await loop.run_in_executor(self.services.work_pool, self.services.synthesizer.synthesize, sentence)  # type: ignore[attr-defined]
                if pcm:
                    playbacks.append(self.pacer.play(pcm))
                if self.pending.asked_at is None and playbacks:
                    self.pending.asked_at = await playbacks[0].started()
        if not playbacks:
            return
        finished = asyncio.gather(*(playback.wait() for playback in playbacks))
        if not interruptible:
            await finished
            return
        self._input_arrived.clear()
        answered = asyncio.create_task(self._input_arrived.wait())
        if self.inputs.empty():
            await asyncio.wait({finished, answered}, return_when=asyncio.FIRST_COMPLETED)
        if not self.inputs.empty():
            self.pacer.stop_playback()
        answered.cancel()
        await finished

    def _put(self, item: tuple) -> None:
        self.inputs.put_nowait(item)
        self._input_arrived.set()

    async def _hear(self) -> None:
        """Read the leg: audio feeds the endpointer (utterances go to STT), keys and the hangup are inputs."""
        raw: asyncio.Queue = asyncio.Queue()

        async def read() -> None:
            async for message in self.connection:
                await raw.put(message)

        reader = asyncio.create_task(read())
        try:
            while True:
                try:
                    message = await asyncio.wait_for(raw.get(), GAP_SECONDS)
                except TimeoutError:
                    self._utterances(self.endpointer.feed_gap(GAP_SECONDS))
                    continue
                if isinstance(message, Hangup):
                    self._put(("hangup",))
                    return
                if isinstance(message, Dtmf):
                    self._put(("key", message.digit))
                elif isinstance(message, Audio):
                    pcm = message.pcm if message.sample_rate == SAMPLE_RATE else resample(message.pcm, message.sample_rate, SAMPLE_RATE)
                    self._utterances(self.endpointer.feed(pcm))
        finally:
            reader.cancel()

    def _utterances(self, events: list) -> None:
        services = self.services
        for event in events:
            if isinstance(event, UtteranceEnded):
                future = services.stt_pool.submit(services.transcriber.transcribe, event.pcm, None)  # type: ignore[attr-defined]
                self._put(("speech", future, event.speech_seconds))


# -- the visit ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dialing:
    """How Apoena reaches residents: the Manager client and where Asterisk finds the AudioSocket server."""

    ami: AMIClient
    audiosocket_port: int
    fallback_dial: Callable[[str], str] | None = None  # a dial string for apartments without one (simulate)


class ResidentLegs:
    """Calls residents for visits and runs their legs when they arrive; one per AudioSocket server."""

    def __init__(self, config: Config, directory: Directory, dialing: Dialing) -> None:
        self.config = config
        self.directory = directory
        self.dialing = dialing
        self._pending: dict[str, _Pending] = {}
        self._ended: deque[str] = deque(maxlen=256)  # legs whose visit is over: one arriving late is hung up
        self._connecting = asyncio.Lock()

    @property
    def audiosocket(self) -> str:
        return f"{self.config.asterisk.audiosocket_host}:{self.dialing.audiosocket_port}"

    def dial_strings(self, apartment: str) -> list[str]:
        unit = self.directory.apartments.get(apartment.upper())
        dials = unit.dial_strings if unit is not None else []
        if not dials and self.dialing.fallback_dial is not None:
            dials = [self.dialing.fallback_dial(apartment)]
        return dials

    def waiting(self) -> int:
        """Visits waiting on a resident right now."""
        return len(self._pending)

    def claims(self, connection: Connection) -> bool:
        """Whether this AudioSocket connection is a resident's leg Apoena is waiting for."""
        leg_id = str(connection.call_id)
        return leg_id in self._pending or leg_id in self._ended

    async def serve_leg(self, connection: Connection) -> None:
        """Run a resident's leg (the AudioSocket handler for a claimed connection)."""
        pending = self._pending.get(str(connection.call_id))
        if pending is None or pending.arrived.done():
            log.warning("resident leg %s arrived after its visit ended (or twice): hung up", connection.call_id)
            await connection.hangup()
            return
        pending.arrived.set_result(connection)
        pending.observe(ResidentAnswered(pending.call_id, pending.leg_id))
        dialog = ResidentDialog(pending.facts, self.config.asterisk.condominium)
        try:
            await ResidentLine(connection, pending, self.config.asterisk.resident_silence_seconds).run(dialog)
        finally:
            dialog.hung_up()  # no decision yet means nobody said yes
            if not pending.decided.done():
                pending.decided.set_result(dialog)

    async def ask(self, call_id: str, facts: VisitFacts, name_pcm: bytes | None, services: object, observe: Observe) -> VisitDecided:
        """Call the resident and return the decision; every failure is a decision with a reason."""
        started, started_wall = time.monotonic(), time.time()
        pending = _Pending(call_id, str(uuid.uuid4()), facts, name_pcm, services, observe, started)
        dials = self.dial_strings(facts.apartment)
        observe(VisitStarted(call_id, pending.leg_id, facts, tuple(dials)))
        pending.rendering = self._render_opening_while_ringing(facts, services)
        self._pending[pending.leg_id] = pending
        ringing: dict[str, object] = {"attempts": (), "answered_at": None}

        def decided(decision: str, reason: str, dialog: ResidentDialog | None = None) -> VisitDecided:
            now = time.monotonic()
            ms = lambda at: None if at is None else round((at - started) * 1000, 1)  # noqa: E731
            event = VisitDecided(
                call_id, decision, reason,
                by=dialog.by if dialog is not None else None,
                decided_by=facts.resident_name if dialog is not None and dialog.by else None,
                leg_id=pending.leg_id, attempts=ringing["attempts"],  # type: ignore[arg-type]
                asked_ms=ms(pending.asked_at), ringing_ms=ms(ringing["answered_at"]), decision_ms=ms(now),
                visitor_message=dialog.visitor_message if dialog is not None and dialog.done else _no_answer(facts),
                started_at=started_wall,
            )  # fmt: skip
            observe(event)
            return event

        try:
            async with asyncio.timeout(self.config.asterisk.visit_timeout_seconds):
                return await self._reach(pending, dials, ringing, decided)
        except TimeoutError:
            return decided(Decision.NO_ANSWER, f"no decision within {self.config.asterisk.visit_timeout_seconds:g} s")
        except asyncio.CancelledError:
            decided(CANCELLED, "the visitor hung up before the resident decided")
            raise
        except Exception as error:  # a bug must still end the visit politely, and on the record
            log.exception("call %s: the visit failed", call_id)
            return decided(Decision.NO_ANSWER, f"the visit failed: {type(error).__name__}: {error}")
        finally:
            pending.cancelled.set()  # a leg still running says goodbye and hangs up
            self._pending.pop(pending.leg_id, None)
            self._ended.append(pending.leg_id)

    async def _reach(self, pending: _Pending, dials: list[str], ringing: dict, decided) -> VisitDecided:
        asterisk = self.config.asterisk
        if not dials:
            return decided(Decision.NO_ANSWER, f"no dial string for apartment {pending.facts.apartment} in the directory")
        try:
            ami = await self._manager()
            outcome = await ring_resident(
                ami, dials, leg_uuid=pending.leg_id, audiosocket=self.audiosocket, context=asterisk.resident_context,
                ring_seconds=asterisk.ring_seconds, caller_id=asterisk.caller_id, variables={"APOENA_VISIT": pending.call_id},
                on_attempt=lambda dial: pending.observe(ResidentDialing(pending.call_id, dial)),
            )  # fmt: skip
        except AMILoginRefused as error:
            log.error("%s", error)
            return decided(Decision.NO_ANSWER, f"the Asterisk Manager refused the login: {error}")
        except AMIError as error:
            log.error("call %s: cannot call the resident: %s", pending.call_id, error)
            return decided(Decision.NO_ANSWER, f"the Asterisk Manager failed: {error}")
        ringing["attempts"] = tuple((dial, attempt.reason.value) for dial, attempt in zip(dials, outcome.attempts))
        if outcome.answered is None:
            tried = ", ".join(f"{dial} {how}" for dial, how in ringing["attempts"])
            return decided(Decision.NO_ANSWER, f"nobody answered ({tried})")
        ringing["answered_at"] = time.monotonic()
        try:
            await asyncio.wait_for(asyncio.shield(pending.arrived), asterisk.leg_arrival_seconds)
        except TimeoutError:
            return decided(
                Decision.NO_ANSWER,
                f"the resident answered but their leg never reached the AudioSocket server ({self.audiosocket}) within "
                f"{asterisk.leg_arrival_seconds:g} s: check the {asterisk.resident_context} context",
            )
        dialog = await asyncio.shield(pending.decided)
        if dialog.by is None:
            said = len(dialog.turns)
            reason = "the resident hung up before deciding" if not said else f"no clear answer in {said} turns"
            return decided(Decision.NO_ANSWER, reason, dialog)
        return decided(dialog.decision, f"the resident decided by {dialog.by}", dialog)  # type: ignore[arg-type]

    def _render_opening_while_ringing(self, facts: VisitFacts, services) -> dict[str, Future]:
        """Synthesize the resident's opening (it names the visitor: not a fixed phrase) while the phone rings,
        so the resident hears it the moment they pick up; the synthesis cache keeps the result."""
        from concierge.call.services import sentences

        rendering: dict[str, Future] = {}
        for prompt in ResidentDialog(facts, self.config.asterisk.condominium).start():
            if isinstance(prompt, Say):
                for sentence in sentences(prompt.text):
                    rendering[sentence] = services.work_pool.submit(services.synthesizer.synthesize, sentence)
        return rendering

    async def _manager(self) -> AMIClient:
        async with self._connecting:
            if not self.dialing.ami.connected:
                await self.dialing.ami.connect()
        return self.dialing.ami


def _no_answer(facts: VisitFacts) -> str:
    dialog = ResidentDialog(facts)
    dialog.hung_up()
    return dialog.visitor_message


def not_asked(call_id: str, facts: VisitFacts) -> VisitDecided:
    """The decision of a visit when no resident can be called (the Manager Interface is not configured)."""
    return VisitDecided(call_id, NOT_ASKED, "the Asterisk Manager is not configured (asterisk.ami.secret)")


def webhook_payload(facts: VisitFacts, decided: VisitDecided) -> dict:
    """The JSON a gate controller or messaging bridge receives."""
    from datetime import datetime, timezone

    def iso(seconds: float) -> str | None:
        return datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="milliseconds") if seconds else None

    return {
        "call_id": decided.call_id,
        "visit": {
            "intent_type": str(facts.intent), "visitor_name": facts.visitor_name,
            "apartment_number": facts.apartment, "resident_name": facts.resident_name,
        },
        "decision": decided.decision,
        "authorized": decided.decision == Decision.AUTHORIZED,
        "decided_by": decided.decided_by,
        "by": decided.by,
        "reason": decided.reason,
        "resident_leg_id": decided.leg_id,
        "visit_started_at": iso(decided.started_at),
        "decided_at": iso(decided.at),
        "decision_ms": decided.decision_ms,
    }  # fmt: skip
