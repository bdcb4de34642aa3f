"""One call over one AudioSocket connection: greet, listen, transcribe, answer, hang up.

The seed's states STANDBY → USER_TURN → WAITING → IA_TURN, driven by events, never polled:
a reader task turns the connection into a queue of messages, the endpointer turns audio into
turns (counted in audio time), and one turn at a time goes STT → brain → TTS off the event
loop while the pacer keeps the line alive with 20 ms frames. What recognition makes of line
noise is no turn; a caller who stays silent is prompted twice, then released.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass

from concierge.audio.endpoint import EndpointParams, Endpointer, Paused, Resumed, SpeechStarted, State, UtteranceEnded
from concierge.audio.pacer import Pacer, Playback, finish
from concierge.audio.pcm import FRAME_SECONDS, SAMPLE_RATE, duration_seconds
from concierge.audio.resampler import LineResampler
from concierge.audiosocket.protocol import Audio, Dtmf, Hangup
from concierge.audiosocket.server import Connection, Handler
from concierge.audiosocket.stream import ConnectionClosed
from concierge.brain.reply import Reply
from concierge.call.events import (
    CallEnded,
    CallStarted,
    DtmfReceived,
    Observer,
    Outcome,
    StateChanged,
    Turn,
    TurnFailed,
    VisitorNameHeard,
)
from concierge.call.noise import is_noise
from concierge.call.services import (
    FAILURE_MESSAGE,
    NO_INPUT_GOODBYE,
    NO_INPUT_PROMPT,
    TIMEOUT_MESSAGE,
    WAIT_MESSAGE,
    CallServices,
    sentences,
)
from concierge.call.resident import VisitFacts
from concierge.call.visit import VisitDecided, not_asked, waiting_update, webhook_payload
from concierge.config import CallState

log = logging.getLogger("apoena.call")

GAP_SECONDS = 0.12  # no frame for this long counts as silence (phones with DTX stop sending)
DTMF_SETTLE_SECONDS = 2.0  # keypad digits are a turn after this much audio time, or at '#'
NO_INPUT_PROMPTS = 2  # unanswered "Alô? Pode falar…" prompts before goodbye
GOODBYE_SECONDS = 30.0  # a goodbye the peer does not take (never reads) is cut after this
TIME_UP = "max_transaction_time_seconds reached"
SPEAKING = (State.SPEAKING, State.STOPPING)


@dataclass
class _Utterance:
    """A finished visitor turn waiting for its answer."""

    source: str
    pcm: bytes = b""
    text: str = ""
    speech_ended_at: float | None = None  # monotonic time the last voiced frame arrived
    transcript: Future | None = None  # started in the pause, if it covers exactly this audio
    speech_seconds: float = 0.0  # first to last voiced frame


class _NoInput:
    """The visitor's turn went by in silence: prompt them, or, after enough prompts, say goodbye."""


class SpeechTimedOut(Exception):
    """A speech engine did not answer within `speech.timeout_seconds`: the turn is given up."""


class CallSession:
    """Runs one call to its end and returns its outcome; never raises for what the peer does."""

    def __init__(self, connection: Connection, services: CallServices, observer: Observer | None = None) -> None:
        self.connection = connection
        self.services = services
        self.config = services.config
        self.observer = observer
        self.call_id = str(connection.call_id)
        self.conversation_id = self.call_id
        self.state = self.config.system.default_state
        self.pacer = Pacer(connection.send_audio)
        self.endpointer = Endpointer(EndpointParams(end_silence_seconds=self.config.system.silence_threshold_seconds))
        self.resample = LineResampler()  # one stream per call: no edges between a 12–192 kHz call's frames
        self.turns: asyncio.Queue[_Utterance | _NoInput] = asyncio.Queue()
        self.turn_count = 0
        self.finished = asyncio.Event()
        self.outcome: tuple[Outcome, str] | None = None
        self._speculative: tuple[int, Future] | None = None
        self._frame_clock: deque[tuple[float, float]] = deque(maxlen=400)  # (audio s, monotonic s)
        self._dtmf: list[str] = []
        self._dtmf_last = 0.0
        self._interrupted = False
        self._waiting: list[Playback] = []  # "Um momento, por favor." and the chime, while an answer is slow
        self._greeting_task: asyncio.Task | None = None
        self._quiet_since = 0.0  # audio time from which the visitor's silence is counted
        self._prompts = 0  # no-input prompts said since the visitor last said or typed something
        self._visitor_name: str | None = None  # as of the last answered turn
        self._name_pcm: bytes | None = None  # the visitor's voice saying their name
        self._deadline: asyncio.Timeout | None = None
        self._audio_limit = self.config.system.max_transaction_time_seconds  # of the caller's audio received
        self._time_up: str | None = None  # why the call ran out of time, when its audio did
        self._visiting = False  # waiting on the resident, then telling the visitor: nothing interrupts that

    async def run(self) -> Outcome:
        self._emit(CallStarted(
            self.call_id, self.conversation_id, condominium=self.services.condominium, greeting=self.config.greeting.message
        ))  # fmt: skip
        pacer_task = asyncio.create_task(self.pacer.run(), name=f"pacer-{self.call_id}")
        turns_task = asyncio.create_task(self._answer_turns(), name=f"turns-{self.call_id}")
        listen_task = asyncio.create_task(self._listen(), name=f"listen-{self.call_id}")
        try:
            await self._greet()
            async with asyncio.timeout(self.config.system.max_transaction_time_seconds) as self._deadline:
                if self._time_up is not None:  # the caller's audio ran out while we greeted
                    self._deadline.reschedule(asyncio.get_running_loop().time())
                await self.finished.wait()
        except TimeoutError:
            for task in (listen_task, turns_task):  # the goodbye is said whole, and nothing answers over it
                task.cancel()
            await self._say_and_hang_up(TIMEOUT_MESSAGE, Outcome.TIMED_OUT, self._time_up or TIME_UP)
        except ConnectionClosed:
            self._finish(Outcome.CALLER_HUNG_UP, "caller went away")
        except asyncio.CancelledError:
            self._finish(Outcome.ERROR, "server shutting down")
            with contextlib.suppress(ConnectionClosed, TimeoutError, asyncio.CancelledError):
                async with asyncio.timeout(1):
                    await self.connection.hangup()  # the dialplan goes on, e.g. to a human doorman
            raise
        finally:
            tasks = [task for task in (listen_task, turns_task, self._greeting_task) if task is not None]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, finish(self.pacer, pacer_task), return_exceptions=True)
            self.connection.close()
            self._end()
        return self.outcome[0] if self.outcome else Outcome.CALLER_HUNG_UP

    def _end(self) -> None:
        outcome, reason = self.outcome or (Outcome.CALLER_HUNG_UP, "connection ended")
        self._set_state(CallState.STANDBY)
        self._emit(CallEnded(self.call_id, outcome, reason))

    # -- listening -------------------------------------------------------------------------

    async def _greet(self) -> None:
        if self.config.greeting.delay_seconds:
            await asyncio.sleep(self.config.greeting.delay_seconds)
        self._set_state(CallState.IA_TURN)
        greeting = self.pacer.play(self.services.greeting_pcm)
        self._greeting_task = asyncio.create_task(self._back_to_user_after(greeting))
        await self._note(self.config.greeting.message, role="concierge")

    async def _listen(self) -> None:
        """Read the caller until hangup; audio feeds the endpointer, DTMF the keypad buffer."""
        queue: asyncio.Queue = asyncio.Queue()
        reader = asyncio.create_task(self._read_into(queue))
        try:
            while True:
                try:
                    message = await asyncio.wait_for(queue.get(), GAP_SECONDS)
                except TimeoutError:
                    if not await self._frames_were_only_delayed(queue):
                        self._handle_events(self.endpointer.feed_gap(GAP_SECONDS))
                        self._settle_dtmf()
                        self._prompt_if_silent()
                    continue
                if isinstance(message, Hangup):
                    reason = self.connection.end_reason or "caller hung up"
                    self._finish(Outcome.CALLER_HUNG_UP, reason)
                    return
                if isinstance(message, Audio):
                    self._hear(message)
                elif isinstance(message, Dtmf):
                    self._key(message.digit)
        finally:
            reader.cancel()

    @staticmethod
    async def _frames_were_only_delayed(queue: asyncio.Queue) -> bool:
        """After a stall of our own event loop, frames wait in the socket, not on the line:
        give the reader a few loop turns to bring them in before calling the gap silence."""
        for _ in range(4):
            await asyncio.sleep(0)
            if not queue.empty():
                return True
        return False

    async def _read_into(self, queue: asyncio.Queue) -> None:
        async for message in self.connection:
            await queue.put(message)

    def _hear(self, message: Audio) -> None:
        if self._time_up is not None:
            return
        if self.connection.audio_seconds > self._audio_limit:
            self._out_of_audio_time()
            return
        pcm = self.resample(message.pcm, message.sample_rate)
        self._frame_clock.append((self.endpointer.audio_seconds + duration_seconds(pcm), time.monotonic()))
        self._handle_events(self.endpointer.feed(pcm))
        self._settle_dtmf()
        self._prompt_if_silent()

    def _out_of_audio_time(self) -> None:
        """The caller has sent more audio than a call may last: end it as a time-out (goodbye, hangup)
        now, whatever the wall clock says — a peer that sends faster than real time gets there first."""
        self._time_up = f"{TIME_UP}: more than {self._audio_limit:.0f} s of the caller's audio received"
        log.warning("call %s: %s", self.call_id, self._time_up)
        if self._deadline is not None:
            self._deadline.reschedule(asyncio.get_running_loop().time())

    def _handle_events(self, events: list) -> None:
        for event in events:
            if isinstance(event, SpeechStarted):
                self._barge_in()
            elif isinstance(event, Paused):
                self._speculative = (len(event.pcm), self._transcribe_soon(event.pcm))
            elif isinstance(event, Resumed):
                self._speculative = None
            elif isinstance(event, UtteranceEnded):
                spoken_until = event.at - event.silence_seconds
                speculative = self._speculative[1] if self._speculative and self._speculative[0] == len(event.pcm) else None
                self._speculative = None
                ended_at = self._wall_time(spoken_until)
                self.turns.put_nowait(_Utterance("speech", event.pcm, "", ended_at, speculative, event.speech_seconds))

    def _barge_in(self) -> None:
        if self.config.system.barge_in and self.state == CallState.IA_TURN and self.pacer.is_playing and not self._visiting:
            self._interrupted = True
            self.pacer.stop_playback()
            log.info("call %s: caller spoke over the reply; listening", self.call_id)

    def _key(self, digit: str) -> None:
        self._emit(DtmfReceived(self.call_id, digit))
        self._dtmf_last = self._quiet_since = self.endpointer.audio_seconds
        self._prompts = 0
        if digit == "#":
            self._submit_dtmf()
        else:
            self._dtmf.append(digit)

    def _settle_dtmf(self) -> None:
        if self._dtmf and self.endpointer.audio_seconds - self._dtmf_last >= DTMF_SETTLE_SECONDS:
            self._submit_dtmf()

    def _submit_dtmf(self) -> None:
        if self._dtmf:
            self.turns.put_nowait(_Utterance("dtmf", text="".join(self._dtmf), speech_ended_at=time.monotonic()))
            self._dtmf.clear()

    def _prompt_if_silent(self, over_noise: bool = False) -> None:
        """Queue a no-input prompt once the visitor's turn has been silent for long enough (audio
        time). Speech in progress holds it back, unless it follows noise that was no turn
        (`over_noise`): noise must not keep a line open."""
        if self.state != CallState.USER_TURN or not self.turns.empty() or self._dtmf:
            return
        if self.endpointer.state in SPEAKING and not over_noise:
            return
        if self.endpointer.audio_seconds - self._quiet_since >= self.config.system.no_input_prompt_seconds:
            self._quiet_since = math.inf  # counted again once the prompt has been said
            self.turns.put_nowait(_NoInput())

    def _transcribe_soon(self, pcm: bytes) -> Future:
        return self.services.stt_pool.submit(self.services.transcriber.transcribe, pcm, self.services.stt_prompt)

    def _wall_time(self, audio_seconds: float) -> float:
        """When the frame holding `audio_seconds` of the call arrived (monotonic)."""
        for audio_at, wall_at in reversed(self._frame_clock):
            if audio_at <= audio_seconds + FRAME_SECONDS / 2:
                return wall_at
        return time.monotonic()

    # -- answering -------------------------------------------------------------------------

    async def _answer_turns(self) -> None:
        while True:
            utterance = await self.turns.get()
            try:
                if isinstance(utterance, _NoInput):
                    await self._prompt_silent_caller()
                else:
                    await self._answer(utterance)
            except ConnectionClosed:
                self._finish(Outcome.CALLER_HUNG_UP, "caller went away during the reply")
                return
            except Exception as error:  # an engine failure must not end the call: apologise, listen on
                if not await self._apologise(error):
                    return

    async def _apologise(self, error: Exception) -> bool:
        """After a failed turn: record why, say the pre-rendered apology (no engine needed) and hand
        the turn back. Never raises for a second fault; False when the caller has gone."""
        if isinstance(error, SpeechTimedOut):
            log.error("call %s: turn given up: %s", self.call_id, error)
        else:
            log.exception("call %s: turn failed", self.call_id, exc_info=error)
        self._emit(TurnFailed(self.call_id, f"{type(error).__name__}: {error}"))
        self._stop_waiting_sound()
        try:
            await self._note(f"erro: {type(error).__name__}: {error}")
        except Exception:  # the history is the brain's; the call record already has the error
            log.exception("call %s: cannot note the failure in the conversation", self.call_id)
        try:
            _, _, playbacks = await self._speak(FAILURE_MESSAGE)
            for playback in playbacks:
                await playback.wait()
        except ConnectionClosed:
            self._finish(Outcome.CALLER_HUNG_UP, "caller went away during the apology")
            return False
        except Exception:
            log.exception("call %s: cannot say the apology", self.call_id)
        self._listen_again()
        return True

    async def _answer(self, utterance: _Utterance) -> None:
        self._set_state(CallState.WAITING)
        loop = asyncio.get_running_loop()
        waiting = loop.call_later(self.config.system.waiting_delay_seconds, self._start_waiting_sound)
        try:
            text, alternatives, stt_ms = await self._transcript(utterance)
            if not text:
                self._stop_waiting_sound()
                self._set_state(CallState.USER_TURN)  # nothing new for the caller; their silence still counts
                self._prompt_if_silent(over_noise=True)
                return
            self._heard_the_visitor()
            started = time.perf_counter()
            reply: Reply = await loop.run_in_executor(
                self.services.work_pool, self.services.concierge.respond, self.conversation_id, text, alternatives
            )
            brain_ms = (time.perf_counter() - started) * 1000
        finally:
            waiting.cancel()
        first_byte, tts_ms, playbacks = await self._speak(reply.mensagem)
        ended = utterance.speech_ended_at
        self.turn_count += 1
        self._emit(Turn(
            self.call_id, self.turn_count, utterance.source, text, reply, stt_ms, brain_ms, tts_ms,
            (first_byte - ended) * 1000 if first_byte is not None and ended is not None else None,
            utterance.transcript is not None,
        ))  # fmt: skip
        self._keep_name_audio(utterance, reply)
        finished = [await playback.wait() for playback in playbacks]
        if reply.valid_for_action and all(end.value == "completed" for end in finished):
            await self._visit(reply)
            return
        self._listen_again()

    async def _transcript(self, utterance: _Utterance) -> tuple[str, tuple[str, ...], float]:
        """(text, other readings of the same audio, STT ms). Text is "" when the audio held no
        visitor's words, only what recognition makes of noise; such readings leave the alternatives too."""
        if utterance.source == "dtmf":
            return utterance.text, (), 0.0
        future = utterance.transcript or self._transcribe_soon(utterance.pcm)
        limit = self.config.speech.timeout_seconds
        try:
            async with asyncio.timeout(limit):
                transcript = await asyncio.wrap_future(future)  # cancelled (if still queued) on time-out
        except TimeoutError:
            raise SpeechTimedOut(f"no transcription within {limit:g} s (speech.timeout_seconds)") from None
        if is_noise(transcript.text, utterance.speech_seconds):
            log.info(
                "call %s: not a visitor's turn: %r (%.2f s of speech, no_speech_prob %.2f)",
                self.call_id, transcript.text, utterance.speech_seconds, transcript.no_speech_prob,
            )  # fmt: skip
            return "", (), transcript.elapsed_ms
        alternatives = tuple(reading for reading in transcript.alternatives if not is_noise(reading, utterance.speech_seconds))
        return transcript.text, alternatives, transcript.elapsed_ms

    def _heard_the_visitor(self) -> None:
        """The visitor said or typed a turn: the prompts start over, and their opening is over."""
        self._prompts = 0
        self.endpointer.end_opening()

    def _keep_name_audio(self, utterance: _Utterance, reply: Reply) -> None:
        """Report the turn's audio when it gave the visitor's name or changed it."""
        name = reply.dados.visitor_name
        if name and name != self._visitor_name and utterance.pcm:
            self._name_pcm = utterance.pcm
            self._emit(VisitorNameHeard(self.call_id, self.turn_count, name, utterance.pcm, SAMPLE_RATE))
        self._visitor_name = name

    # -- the visit: the resident decides -------------------------------------------------------

    async def _visit(self, reply: Reply) -> None:
        """The visit is complete: ask the resident while the visitor waits, tell the visitor, act, hang up."""
        d = reply.dados
        facts = VisitFacts(d.intent_type, d.visitor_name or "", d.resident_name or "", d.apartment_number or "", self._name_pcm is not None)
        visits = self.services.visits
        if visits is None:
            decided = not_asked(self.call_id, facts)
            self._emit(decided)
            await self._act(facts, decided)
            await self.connection.hangup()
            self._finish(Outcome.COMPLETED, "visit complete: resident to be notified")
            return
        self._visiting = True
        self._set_state(CallState.WAITING)
        asterisk = self.config.asterisk
        if self._deadline is not None and self._time_up is None:  # the visit has its own bound, ringing included
            self._deadline.reschedule(asyncio.get_running_loop().time() + asterisk.visit_timeout_seconds + 30)
            # ...by the wall clock only: the resident's phone rings in real time, while a simulated
            # visitor's line may run at --speed (a real one's audio keeps to the clock).
            self._audio_limit = math.inf
        waiting = asyncio.create_task(self._keep_visitor_company(facts.resident_name), name=f"waiting-{self.call_id}")
        try:
            decided = await visits.ask(self.call_id, facts, self._name_pcm, self.services, self._emit)
            await self._note(f"visita: {decided.decision} ({decided.reason})")
            acting = asyncio.create_task(self._act(facts, decided))
            try:
                message = await self._render(decided.visitor_message)  # the waiting sound plays on meanwhile
            except Exception:  # no voice for the decision: the visitor is still hung up, the decision still acted on
                log.exception("call %s: cannot synthesize the decision for the visitor", self.call_id)
                message = []
        finally:
            waiting.cancel()
            await asyncio.gather(waiting, return_exceptions=True)
        self._set_state(CallState.IA_TURN)
        self.pacer.stop_playback()
        playbacks = [self.pacer.play(pcm) for pcm in message if pcm]
        await self._note(decided.visitor_message, role="concierge")
        for playback in playbacks:
            await playback.wait()
        await acting
        await self.connection.hangup()
        self._finish(Outcome.COMPLETED, f"resident decision: {decided.decision} ({decided.reason})")

    async def _keep_visitor_company(self, resident: str) -> None:
        """The waiting sound, and every `waiting_update_seconds` a short 'still trying' line."""
        try:
            update = await self._render(waiting_update(resident))
        except Exception:  # no voice for the update: the chime alone keeps the visitor company
            log.exception("call %s: cannot synthesize the waiting update", self.call_id)
            update = []
        every = self.config.asterisk.waiting_update_seconds
        while True:
            sound = self.pacer.loop(self.services.waiting_pcm)
            try:
                await asyncio.sleep(every)
            finally:
                sound.stop()
            for playback in [self.pacer.play(pcm) for pcm in update if pcm]:
                await playback.wait()

    async def _render(self, message: str) -> list[bytes]:
        """The message's sentences as audio (cached phrases cost nothing), off the event loop."""
        return [await self._synthesize(sentence) for sentence in sentences(message)]

    async def _synthesize(self, sentence: str) -> bytes:
        """One sentence as audio, off the event loop, within `speech.timeout_seconds`."""
        loop = asyncio.get_running_loop()
        limit = self.config.speech.timeout_seconds
        work = loop.run_in_executor(self.services.work_pool, self.services.synthesizer.synthesize, sentence)
        try:
            async with asyncio.timeout(limit):
                return await work
        except TimeoutError:
            raise SpeechTimedOut(f"no synthesis within {limit:g} s (speech.timeout_seconds): {sentence!r}") from None

    async def _act(self, facts: VisitFacts, decided: VisitDecided) -> None:
        """The gate action: the channel variable before the hangup (bounded), the webhook in the background."""
        gate = self.services.gate
        if gate is None:
            return
        gate.post(self.call_id, webhook_payload(facts, decided), self._emit)
        acted = await gate.set_variable(self.call_id, decided.decision, decided.by)
        if acted is not None:
            self._emit(acted)

    async def _prompt_silent_caller(self) -> None:
        """Ask a silent visitor to speak; after NO_INPUT_PROMPTS unanswered prompts, say goodbye and hang up."""
        if self._prompts >= NO_INPUT_PROMPTS:
            reason = f"no answer to {self._prompts} prompts"
            await self._say_and_hang_up(NO_INPUT_GOODBYE, Outcome.NO_INPUT, reason)
            return
        self._prompts += 1
        _, _, playbacks = await self._speak(NO_INPUT_PROMPT)
        await self._note(NO_INPUT_PROMPT, role="concierge")
        for playback in playbacks:
            await playback.wait()
        self._listen_again()

    async def _speak(self, message: str) -> tuple[float | None, float, list[Playback]]:
        """Synthesize sentence by sentence, queueing each as soon as it is ready, so the caller
        hears the first sentence while the rest is made. Returns when the first one starts
        playing: (its first-byte monotonic time, TTS ms of the first sentence, playbacks)."""
        self._interrupted = False
        playbacks: list[Playback] = []
        tts_ms = 0.0
        fixed = self.services.phrases.get(message)  # the call's own lines: from memory, no engine
        for sentence in [message] if fixed else sentences(message):
            if self._interrupted:
                break
            started = time.perf_counter()
            pcm = fixed or await self._synthesize(sentence)
            if not playbacks:
                tts_ms = (time.perf_counter() - started) * 1000
                self._stop_waiting_sound(answered=True)
                self._set_state(CallState.IA_TURN)
            if pcm and not self._interrupted:
                playbacks.append(self.pacer.play(pcm))
        first_byte = await playbacks[0].started() if playbacks else None
        return first_byte, tts_ms, playbacks

    def _start_waiting_sound(self) -> None:
        """The answer is slow: a polite line, then the chime until it comes (never dead air)."""
        if self.state == CallState.WAITING and not self.pacer.is_playing:
            phrase = self.services.phrases.get(WAIT_MESSAGE)
            self._waiting = [self.pacer.play(phrase)] if phrase else []
            self._waiting.append(self.pacer.loop(self.services.waiting_pcm))

    def _stop_waiting_sound(self, answered: bool = False) -> None:
        """Stop the chime; the polite line too, unless an answer follows it (`answered`): a half-said
        "Um momento" before the answer would sound cut off."""
        for playback in self._waiting:
            if not (answered and not playback.looping):
                playback.stop()
        self._waiting = []

    async def _back_to_user_after(self, playback: Playback) -> None:
        await playback.wait()
        if self.state == CallState.IA_TURN:
            self._listen_again()

    def _listen_again(self) -> None:
        """Hand the turn back to the visitor; their silence is counted from now (audio time)."""
        self._quiet_since = self.endpointer.audio_seconds
        self._set_state(CallState.USER_TURN)

    async def _say_and_hang_up(self, message: str, outcome: Outcome, reason: str) -> None:
        with contextlib.suppress(ConnectionClosed, TimeoutError):
            async with asyncio.timeout(GOODBYE_SECONDS):
                self.pacer.stop_playback()
                _, _, playbacks = await self._speak(message)
                for playback in playbacks:
                    await playback.wait()
                await self.connection.hangup()
        self._finish(outcome, reason)

    # -- bookkeeping -----------------------------------------------------------------------

    async def _note(self, text: str, role: str = "system") -> None:
        """Add a line to the conversation's history (Redis I/O: off the event loop)."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self.services.work_pool, self.services.concierge.note, self.conversation_id, text, role)

    def _finish(self, outcome: Outcome, reason: str) -> None:
        if self.outcome is None:
            self.outcome = (outcome, reason)
            log.info("call %s: %s (%s)", self.call_id, outcome.value, reason)
        self.finished.set()

    def _set_state(self, state: CallState) -> None:
        if state != self.state:
            self.state = state
            self._emit(StateChanged(self.call_id, state))

    def _emit(self, event: object) -> None:
        if self.observer is not None:
            try:
                self.observer(event)  # type: ignore[arg-type]
            except Exception:  # an observer's bug must not break a call
                log.exception("call observer failed on %s", type(event).__name__)


def call_handler(services: CallServices, observer: Observer | None = None, on_refused: Callable[[str], None] | None = None) -> Handler:
    """The AudioSocket handler: a resident's leg Apoena is waiting for joins its visit; any other
    connection is a visitor's call, run with its condominium's services when there are several.

    Past `server.max_calls` visitors' calls at once, a new one is reset (TCP RST) as soon as its
    UUID is read, so the dialplan's `TryExec(AudioSocket())` fails and tries the next node; it is
    no call, so it leaves no record, and `on_refused` is told "busy". Legs are never refused."""
    limit = services.config.server.max_calls
    active = 0

    async def handle(connection: Connection) -> None:
        nonlocal active
        if services.visits is not None and services.visits.claims(connection):
            await services.visits.serve_leg(connection)
            return
        if limit and active >= limit:
            log.warning(
                "call %s refused: this node is busy with %d calls (server.max_calls); reset so the dialplan tries the next node",
                connection.call_id, active,
            )  # fmt: skip
            connection.reset("refused: node busy (server.max_calls)")
            if on_refused is not None:
                with contextlib.suppress(Exception):
                    on_refused("busy")
            return
        active += 1
        try:
            if services.condominiums is not None:
                await CallSession(connection, await services.condominiums.services_for(connection.call_id), observer).run()
            else:
                await CallSession(connection, services, observer).run()
        finally:
            active -= 1

    return handle
