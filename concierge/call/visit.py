"""One visit across its legs: call the resident, run their leg, bring the decision back.

When the visitor's leg (`CallSession`) has a complete visit, it asks `ResidentLegs.ask()` for a
decision while the visitor waits. `ask` walks the apartment's dial strings in order, one attempt
each: a fresh UUID for that attempt's leg, an `Originate` through the Manager Interface
(`asterisk.dialer`), and, once answered, a wait for that UUID on the same AudioSocket server: the
server's handler gives every connection to `ResidentLegs.claims()` first, and a claimed one runs
`serve_leg()`, where `ResidentLine` plays the `ResidentDialog`'s prompts (synthesized text and the
visitor's own recorded name), hears the resident through the same speech recognition (and
keypad), and ends with a `Decision`.

No answer, busy, a failed dial, or an answer by a mailbox or the carrier's recording (its words,
or a monologue that never pauses for the question) moves on to the next dial string; that leg
is hung up. A person who answered ends the visit, whatever they decided. Each attempt is kept as
(dial string, how it ended, leg UUID): `answered`, `voicemail`, `hung_up` (answered, then hung up
before deciding), `never_arrived`, Asterisk's `no_answer` / `busy` / `congestion` / `failed`, or
`cancelled` / `timed_out` / `error` when the visit ended while it rang or talked.

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
from concierge.asterisk.dialer import ring
from concierge.audio.endpoint import EndpointParams, Endpointer, UtteranceEnded
from concierge.audio.pacer import Pacer, Playback, finish
from concierge.audio.resampler import LineResampler
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
    """The visit is complete and the resident is being called (or not: see `VisitDecided`).
    `leg_id` is the first attempt's leg; each further attempt has its own (`ResidentDialing`)."""

    call_id: str
    leg_id: str
    facts: VisitFacts
    dial_strings: tuple[str, ...]
    at: float = field(default_factory=time.time)


@dataclass(frozen=True)
class ResidentDialing:
    """One attempt starts: `dial` rings, and answered, its leg arrives as `leg_id`."""

    call_id: str
    dial: str
    leg_id: str | None = None
    at: float = field(default_factory=time.time)


@dataclass(frozen=True)
class ResidentAnswered:
    """The resident's leg reached the AudioSocket server."""

    call_id: str
    leg_id: str
    at: float = field(default_factory=time.time)


@dataclass(frozen=True)
class ResidentTurnHeard:
    """One thing the resident did, how it was read, and what they were told back. `index` counts
    the visit's resident turns across every leg; `leg_id` is the leg it was heard on."""

    call_id: str
    index: int
    by: str  # voice | keypad | silence
    heard: str
    answer: str
    reply: str
    stt_ms: float
    leg_id: str | None = None
    at: float = field(default_factory=time.time)


Attempt = tuple[str, str, str]
"""(dial string, how it ended, the leg's UUID): see the module's docstring for how it ends."""


@dataclass(frozen=True)
class VisitDecided:
    """How the visit ended. `decision` is one of DECISIONS; `by` is voice or keypad when a resident
    decided; `leg_id` is the leg that answered last (else the last one rung); times are from the
    visit's start (the confirmation said) in ms, on that leg."""

    call_id: str
    decision: str
    reason: str
    by: str | None = None
    decided_by: str | None = None
    leg_id: str | None = None
    attempts: tuple[Attempt, ...] = ()
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
class _Visit:
    """A visit waiting on its resident, across the attempts to reach them."""

    call_id: str
    facts: VisitFacts
    name_pcm: bytes | None
    services: object  # CallServices (typed loosely: services imports this module)
    observe: Observe
    started: float  # monotonic, the visit's start
    rendering: dict[str, Future] = field(default_factory=dict)  # the opening's sentences, synthesized while it rings
    cancelled: asyncio.Event = field(default_factory=asyncio.Event)
    attempts: list[Attempt] = field(default_factory=list)
    legs: list[_Leg] = field(default_factory=list)  # every leg rung, in order
    turns: int = 0  # resident turns heard so far, on every leg


@dataclass
class _Leg:
    """One attempt: a dial string rung with its own UUID, and the leg it becomes once answered."""

    visit: _Visit
    leg_id: str
    dial: str
    arrived: asyncio.Future[Connection] = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    ended: asyncio.Future[ResidentDialog] = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    answered_at: float | None = None  # monotonic: Asterisk reported the answer
    asked_at: float | None = None  # monotonic: the first prompt's first byte

    @property
    def recorded(self) -> bool:
        return any(leg_id == self.leg_id for _, _, leg_id in self.visit.attempts)


MONOLOGUE_SECONDS = 8.0
"""Speech this long without a pause, before anything the resident said was understood, is a recording
(a mailbox greeting, the carrier's message), not a person answering "Posso liberar?"."""


class ResidentLine:
    """The resident's AudioSocket leg: plays prompts, hears speech (transcribed) and keys, until a decision."""

    def __init__(self, connection: Connection, leg: _Leg, silence_seconds: float) -> None:
        self.connection = connection
        self.leg = leg
        self.visit = leg.visit
        self.services = leg.visit.services
        self.silence_seconds = silence_seconds
        config: Config = self.services.config  # type: ignore[attr-defined]
        self.pacer = Pacer(connection.send_audio)
        self.endpointer = Endpointer(
            EndpointParams(
                end_silence_seconds=config.system.silence_threshold_seconds, opening_max_speech_seconds=0,
                max_utterance_seconds=MONOLOGUE_SECONDS + 0.5,  # a monologue is cut here and judged, not waited out
            )
        )  # fmt: skip
        self.resample = LineResampler()
        self.inputs: asyncio.Queue[tuple] = asyncio.Queue()
        self._input_arrived = asyncio.Event()

    async def run(self, dialog: ResidentDialog) -> None:
        """Run the dialog to its decision (or the resident's hangup), say the closing words, hang up."""
        pacer_task = asyncio.create_task(self.pacer.run(), name=f"pacer-{self.connection.call_id}")
        hearing = asyncio.create_task(self._hear(), name=f"hear-{self.connection.call_id}")
        try:
            prompts = dialog.start()
            while not dialog.done:
                await self._say(prompts, interruptible=True)
                prompts = await self._next_answer(dialog)
                if self.visit.cancelled.is_set():
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
            await asyncio.gather(hearing, finish(self.pacer, pacer_task), return_exceptions=True)

    async def _next_answer(self, dialog: ResidentDialog) -> tuple[Prompt, ...]:
        """Wait for the resident's next answer (or silence, hangup, cancellation); feed it to the dialog."""
        while True:
            cancelled = asyncio.create_task(self.visit.cancelled.wait())
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
            future, speech_seconds, monologue = rest
            started = time.perf_counter()
            transcript = await asyncio.wrap_future(future)
            stt_ms = transcript.elapsed_ms or (time.perf_counter() - started) * 1000
            if not transcript.text.strip() or is_noise(transcript.text, speech_seconds):  # a noisy line's long "monologue" too
                log.info("resident leg %s: not an answer: %r", self.connection.call_id, transcript.text)
                continue
            return self._turn(dialog, "voice", transcript.text, stt_ms, dialog.hear(transcript.text, monologue))

    def _turn(self, dialog: ResidentDialog, by: str, heard: str, stt_ms: float, prompts: tuple[Prompt, ...]) -> tuple[Prompt, ...]:
        self.visit.turns += 1
        answer = dialog.turns[-1].answer.value if dialog.turns else ""
        reply = " ".join(p.text for p in prompts if isinstance(p, Say))
        self.visit.observe(ResidentTurnHeard(self.visit.call_id, self.visit.turns, by, heard, answer, reply, stt_ms, self.leg.leg_id))
        return prompts

    async def _say(self, prompts: tuple[Prompt, ...], interruptible: bool) -> None:
        """Play prompts in order; with `interruptible`, a key or a finished utterance stops them (barge-in)."""
        from concierge.call.services import sentences

        loop = asyncio.get_running_loop()
        playbacks: list[Playback] = []
        for prompt in prompts:
            if isinstance(prompt, PlayVisitorName):
                if self.visit.name_pcm:
                    playbacks.append(self.pacer.play(self.visit.name_pcm))
                continue
            for sentence in sentences(prompt.text):
                if interruptible and not self.inputs.empty():
                    break
                early = self.visit.rendering.pop(sentence, None)
                if early is not None:
                    pcm = await asyncio.wrap_future(early)
                else:
                    pcm = await loop.run_in_executor(self.services.work_pool, self.services.synthesizer.synthesize, sentence)  # type: ignore[attr-defined]
                if pcm:
                    playbacks.append(self.pacer.play(pcm))
                if self.leg.asked_at is None and playbacks:
                    self.leg.asked_at = await playbacks[0].started()
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
                    self._utterances(self.endpointer.feed(self.resample(message.pcm, message.sample_rate)))
        finally:
            reader.cancel()

    def _utterances(self, events: list) -> None:
        services = self.services
        for event in events:
            if isinstance(event, UtteranceEnded):
                future = services.stt_pool.submit(services.transcriber.transcribe, event.pcm, None)  # type: ignore[attr-defined]
                monologue = event.forced or event.speech_seconds >= MONOLOGUE_SECONDS
                self._put(("speech", future, event.speech_seconds, monologue))


# -- the visit ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dialing:
    """How Apoena reaches residents: the Manager client and where Asterisk finds the AudioSocket server."""

    ami: AMIClient
    audiosocket_port: int
    fallback_dial: Callable[[str], str] | None = None  # a dial string for apartments without one (simulate)
    attempts: int | None = None  # simulate: ring exactly this many dial strings, made up with fallback_dial


class ResidentLegs:
    """Calls residents for visits and runs their legs when they arrive; one per AudioSocket server."""

    def __init__(self, config: Config, directory: Directory, dialing: Dialing) -> None:
        self.config = config
        self.directory = directory
        self.dialing = dialing
        self._legs: dict[str, _Leg] = {}  # legs rung and not yet over, by UUID
        self._visits: dict[str, _Visit] = {}  # visits waiting on a resident, by call id
        self._ended: deque[str] = deque(maxlen=256)  # legs whose attempt is over: one arriving late is hung up
        self._connecting = asyncio.Lock()

    @property
    def audiosocket(self) -> str:
        return f"{self.config.asterisk.audiosocket_host}:{self.dialing.audiosocket_port}"

    def config_of(self, services: object) -> Config:
        """The visit's own configuration (its condominium's name, context, timeouts), else the server's."""
        return getattr(services, "config", None) or self.config

    def dial_strings(self, apartment: str, directory: Directory | None = None) -> list[str]:
        """The apartment's dial strings in `directory` (the visit's condominium's), else the server's."""
        unit = (directory or self.directory).apartments.get(apartment.upper())
        dials = list(unit.dial_strings) if unit is not None else []
        fallback, wanted = self.dialing.fallback_dial, self.dialing.attempts
        if fallback is not None:
            made = (fallback(apartment if n == 1 else f"{apartment}-{n}") for n in range(1, 100))
            while len(dials) < (wanted or 1):
                dials.append(next(dial for dial in made if dial not in dials))
        return dials[:wanted] if wanted else dials

    def waiting(self) -> int:
        """Visits waiting on a resident right now."""
        return len(self._visits)

    def claims(self, connection: Connection) -> bool:
        """Whether this AudioSocket connection is a resident's leg Apoena rang."""
        leg_id = str(connection.call_id)
        return leg_id in self._legs or leg_id in self._ended

    async def serve_leg(self, connection: Connection) -> None:
        """Run a resident's leg (the AudioSocket handler for a claimed connection)."""
        leg = self._legs.get(str(connection.call_id))
        if leg is None or leg.arrived.done():
            log.warning("resident leg %s arrived after its attempt ended (or twice): hung up", connection.call_id)
            await connection.hangup()
            return
        visit = leg.visit
        leg.arrived.set_result(connection)
        visit.observe(ResidentAnswered(visit.call_id, leg.leg_id))
        asterisk = self.config_of(visit.services).asterisk
        dialog = ResidentDialog(visit.facts, asterisk.condominium)
        try:
            await ResidentLine(connection, leg, asterisk.resident_silence_seconds).run(dialog)
        finally:
            dialog.hung_up()  # no decision yet means nobody said yes
            if not leg.ended.done():
                leg.ended.set_result(dialog)

    async def ask(self, call_id: str, facts: VisitFacts, name_pcm: bytes | None, services: object, observe: Observe) -> VisitDecided:
        """Call the resident and return the decision; every failure is a decision with a reason."""
        started, started_wall = time.monotonic(), time.time()
        visit = _Visit(call_id, facts, name_pcm, services, observe, started)
        dials = self.dial_strings(facts.apartment, getattr(services, "directory", None))
        timeout = self.config_of(services).asterisk.visit_timeout_seconds
        first_leg = str(uuid.uuid4())
        observe(VisitStarted(call_id, first_leg, facts, tuple(dials)))
        visit.rendering = self._render_opening_while_ringing(facts, services)
        self._visits[call_id] = visit

        def decided(decision: str, reason: str, dialog: ResidentDialog | None = None, unfinished: str = "error") -> VisitDecided:
            now = time.monotonic()
            ms = lambda at: None if at is None else round((at - started) * 1000, 1)  # noqa: E731
            for leg in visit.legs:
                if not leg.recorded:  # the attempt under way when the visit ended
                    visit.attempts.append((leg.dial, unfinished, leg.leg_id))
            answered = [leg for leg in visit.legs if leg.answered_at is not None]
            last = answered[-1] if answered else visit.legs[-1] if visit.legs else None
            event = VisitDecided(
                call_id, decision, reason,
                by=dialog.by if dialog is not None else None,
                decided_by=facts.resident_name if dialog is not None and dialog.by else None,
                leg_id=last.leg_id if last is not None else first_leg, attempts=tuple(visit.attempts),
                asked_ms=ms(last.asked_at if last else None), ringing_ms=ms(last.answered_at if last else None), decision_ms=ms(now),
                visitor_message=dialog.visitor_message if dialog is not None and dialog.done else _no_answer(facts),
                started_at=started_wall,
            )  # fmt: skip
            observe(event)
            return event

        try:
            async with asyncio.timeout(timeout):
                return await self._reach(visit, dials, first_leg, decided)
        except TimeoutError:
            return decided(Decision.NO_ANSWER, f"no decision within {timeout:g} s", unfinished="timed_out")
        except asyncio.CancelledError:
            decided(CANCELLED, "the visitor hung up before the resident decided", unfinished="cancelled")
            raise
        except Exception as error:  # a bug must still end the visit politely, and on the record
            log.exception("call %s: the visit failed", call_id)
            return decided(Decision.NO_ANSWER, f"the visit failed: {type(error).__name__}: {error}")
        finally:
            visit.cancelled.set()  # a leg still running says goodbye and hangs up
            self._visits.pop(call_id, None)
            for leg in visit.legs:
                self._retire(leg)

    async def _reach(self, visit: _Visit, dials: list[str], first_leg: str, decided) -> VisitDecided:
        """Ring the dial strings in order until a person answers; that person's dialog is the decision."""
        asterisk = self.config_of(visit.services).asterisk
        if not dials:
            return decided(Decision.NO_ANSWER, f"no dial string for apartment {visit.facts.apartment} in the directory")
        try:
            ami = await self._manager()
            for index, dial in enumerate(dials):
                leg = _Leg(visit, first_leg if index == 0 else str(uuid.uuid4()), dial)
                visit.legs.append(leg)
                self._legs[leg.leg_id] = leg
                visit.observe(ResidentDialing(visit.call_id, dial, leg.leg_id))
                result = await ring(
                    ami, dial, leg_uuid=leg.leg_id, audiosocket=self.audiosocket, context=asterisk.resident_context,
                    ring_seconds=asterisk.ring_seconds, caller_id=asterisk.caller_id, variables={"APOENA_VISIT": visit.call_id},
                )  # fmt: skip
                if not result.answered:
                    self._end_attempt(leg, result.reason.value)
                    continue
                leg.answered_at = time.monotonic()
                try:
                    await asyncio.wait_for(asyncio.shield(leg.arrived), asterisk.leg_arrival_seconds)
                except TimeoutError:
                    self._end_attempt(leg, "never_arrived")
                    return decided(
                        Decision.NO_ANSWER,
                        f"the resident answered but their leg never reached the AudioSocket server ({self.audiosocket}) within "
                        f"{asterisk.leg_arrival_seconds:g} s: check the {asterisk.resident_context} context",
                    )
                dialog = await asyncio.shield(leg.ended)
                if dialog.voicemail:
                    self._end_attempt(leg, "voicemail")
                    log.info("call %s: %s answered by a mailbox or the carrier: hung up", visit.call_id, dial)
                    continue
                if dialog.by is None:
                    self._end_attempt(leg, "hung_up" if dialog.resident_hung_up else "answered")
                    turns = len(dialog.turns)
                    if dialog.resident_hung_up:
                        reason = "the resident hung up before deciding" + (f" ({turns} turns)" if turns else "")
                    else:
                        reason = f"no clear answer in {turns} turns"
                    return decided(Decision.NO_ANSWER, reason, dialog)
                self._end_attempt(leg, "answered")
                return decided(dialog.decision, f"the resident decided by {dialog.by}", dialog)  # type: ignore[arg-type]
        except AMILoginRefused as error:
            log.error("%s", error)
            return decided(Decision.NO_ANSWER, f"the Asterisk Manager refused the login: {error}", unfinished="failed")
        except AMIError as error:
            log.error("call %s: cannot call the resident: %s", visit.call_id, error)
            return decided(Decision.NO_ANSWER, f"the Asterisk Manager failed: {error}", unfinished="failed")
        tried = ", ".join(f"{dial} {how}" for dial, how, _ in visit.attempts)
        return decided(Decision.NO_ANSWER, f"nobody answered ({tried})")

    def _end_attempt(self, leg: _Leg, how: str) -> None:
        leg.visit.attempts.append((leg.dial, how, leg.leg_id))
        self._retire(leg)

    def _retire(self, leg: _Leg) -> None:
        """The attempt is over: its leg, arriving now, is hung up without a word."""
        if self._legs.pop(leg.leg_id, None) is not None:
            self._ended.append(leg.leg_id)

    def _render_opening_while_ringing(self, facts: VisitFacts, services) -> dict[str, Future]:
        """Synthesize the resident's opening (it names the visitor: not a fixed phrase) while the phone rings,
        so the resident hears it the moment they pick up; the synthesis cache keeps the result."""
        from concierge.call.services import sentences

        rendering: dict[str, Future] = {}
        for prompt in ResidentDialog(facts, self.config_of(services).asterisk.condominium).start():
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
