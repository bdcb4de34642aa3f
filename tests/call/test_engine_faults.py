"""What the engines and the call's own observers do to a call in progress, over real sockets, a real
Redis and real call records (SQLite): speech recognition hanging, the voice failing, an observer
raising. The caller is never left in silence for 2 s, the call goes on, and its record says what
happened. (Recognition raising, and Redis dying between turns, are in test_session.py and
test_faults.py; the records' disk filling up, in test_records_disk_full.py.)"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid

from concierge.audiosocket.client import AudioSocketClient
from concierge.call.events import CallEnded, Outcome, Turn, TurnFailed
from concierge.call.records import CallRecords
from concierge.call.services import FAILURE_MESSAGE, WAIT_MESSAGE
from concierge.speech.base import Transcript

from .helpers import ScriptedTranscriber, fixture_turns, heard_at, make_services, pace, running_server

TEXTS = ["Boa tarde, tenho uma entrega dos Correios para a Joana Prado.", "Meu nome é Carlos Pereira."]
NEVER_SILENT_FOR = 2.0  # seconds: the most a caller may wait in silence after they stop talking


def turn_audio(index: int) -> bytes:
    """The fixture delivery's turn `index`, with a little of the line around it."""
    pcm, turns = fixture_turns("entrega")
    return pcm[int((turns[index]["start_seconds"] - 0.2) * 16000) : int((turns[index]["end_seconds"] + 0.2) * 16000)]


def first_sound_after(frames: list[tuple[float, bytes]], after: float) -> float | None:
    return next((at for at, frame in frames if at >= after and any(frame)), None)


async def wait_for_silence(client, frames: list, seconds: float = 10.0) -> None:
    """Keep the line alive until the greeting is over (a quarter second of silent frames)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        await client.send_audio(bytes(320))
        await asyncio.sleep(0.02)
        recent = [frame for _, frame in frames[-12:]]
        if len(recent) == 12 and not any(any(frame) for frame in recent):
            return
    raise AssertionError("the greeting never ended")


async def talk(client, pcm: bytes) -> float:
    """Say `pcm` in real time; return when its last frame was sent."""
    await pace(client, pcm)
    return time.monotonic()


async def keep_alive(client, seconds: float, until=lambda: False) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not until():
        await client.send_audio(bytes(320))
        await asyncio.sleep(0.02)


class Listener:
    """Every frame the caller hears, with its arrival time, read in the background."""

    def __init__(self, client) -> None:
        self.frames: list[tuple[float, bytes]] = []
        self.hung_up = False
        self._task = asyncio.create_task(self._read(client))

    async def _read(self, client) -> None:
        from concierge.audiosocket.protocol import Audio, Hangup

        while True:
            message = await client.receive()
            if isinstance(message, Hangup):
                self.hung_up = True
                return
            if isinstance(message, Audio):
                self.frames.append((time.monotonic(), message.pcm))

    async def stop(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


def recorded_call(services, tmp_path, visitor, events: list | None = None, observer=None):
    """One call to a server whose calls are recorded in a real SQLite file: connect, wait for the
    greeting to end, let `visitor(client, heard)` talk, hang up. Returns (what `visitor`
    returned, the Listener, the call's record once stored). Events go to `events`, or to
    `observer(records, event)` when given (it records them itself)."""
    call_id = uuid.uuid4()

    async def scenario(records: CallRecords):
        observe = records.observer if observer is None else (lambda event: observer(records, event))
        async with running_server(services, events, observer=observe) as server:
            client = await AudioSocketClient.connect("127.0.0.1", server.port, call_id)
            heard = Listener(client)
            await wait_for_silence(client, heard.frames)
            result = await visitor(client, heard)
            await client.close()
            await heard.stop()
            return result, heard

    with CallRecords(tmp_path / "calls.db", brain="rules") as records:
        result, heard = asyncio.run(scenario(records))
        records.flush()
        return result, heard, records.get(str(call_id))


class HangingTranscriber:
    """Never answers while `stuck` is set (a wedged engine); once released, the abandoned
    transcriptions return nothing and new ones hear `texts` in order."""

    def __init__(self, texts: list[str]) -> None:
        self.stuck = threading.Event()
        self.stuck.set()
        self.released = threading.Event()
        self.texts = list(texts)
        self._lock = threading.Lock()

    def transcribe(self, pcm8k: bytes, prompt: str | None = None) -> Transcript:
        if self.stuck.is_set():
            self.released.wait(60)
            return Transcript(text="", duration_s=len(pcm8k) / 16000, elapsed_ms=0.0)
        with self._lock:
            text = self.texts.pop(0) if self.texts else ""
        return Transcript(text=text, duration_s=len(pcm8k) / 16000, elapsed_ms=0.0)

    def release(self) -> None:
        self.stuck.clear()
        self.released.set()


class BreakingSynthesizer:
    """A voice that works at start-up (the greeting and the call's own lines are rendered), then
    fails on every new sentence: the engine's process died, the cloud service went away."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.name, self.voice = inner.name, inner.voice
        self.broken = False
        self.failures = 0

    def synthesize(self, text: str) -> bytes:
        if self.broken:
            self.failures += 1
            raise OSError("RHVoice exited with status 1")
        return self.inner.synthesize(text)


def test_recognition_hanging_gets_a_polite_line_then_an_apology_and_the_call_goes_on(directory, redis_server, tmp_path):
    engine = HangingTranscriber(TEXTS)
    services = make_services(directory, redis_server.url, engine, tmp_path, {"speech": {"timeout_seconds": 2.5}})
    events: list = []

    async def visitor(client, heard):
        spoke = await talk(client, turn_audio(0))
        await keep_alive(client, 6, until=lambda: any(isinstance(e, TurnFailed) for e in events))
        await keep_alive(client, 5, until=lambda: heard_at(heard.frames, services.phrases[FAILURE_MESSAGE], spoke) is not None)
        engine.release()
        await keep_alive(client, 4)  # the apology ends; the visitor's turn again
        await talk(client, turn_audio(0))
        await keep_alive(client, 8, until=lambda: any(isinstance(e, Turn) for e in events))
        await keep_alive(client, 0.5)
        return spoke

    spoke, heard, record = recorded_call(services, tmp_path, visitor, events)
    frames = heard.frames
    first_sound = first_sound_after(frames, spoke)
    assert first_sound is not None and first_sound - spoke < NEVER_SILENT_FOR, "no dead air while recognition hangs"
    polite = heard_at(frames, services.phrases[WAIT_MESSAGE], spoke)
    assert polite is not None and polite - spoke < NEVER_SILENT_FOR, "'Um momento, por favor.' within 2 s"
    apology = heard_at(frames, services.phrases[FAILURE_MESSAGE], spoke)
    assert apology is not None and 2.5 <= apology - spoke < 2.5 + NEVER_SILENT_FOR + 1.0, "the apology at the time-out"
    answered = [e for e in events if isinstance(e, Turn)]
    assert [t.transcript for t in answered] == TEXTS[:1], "the repeated turn was understood once the engine answered"
    assert answered[0].reply.dados.resident_name == "Joana Prado"
    assert record is not None and record.failed_turns == 1
    assert "no transcription within 2.5 s" in record.last_error
    assert record.outcome != Outcome.ERROR.value, "a hung engine does not end the call"


def test_the_voice_failing_gets_the_prerendered_apology_and_the_call_goes_on(directory, redis_server, tmp_path):
    services = make_services(directory, redis_server.url, ScriptedTranscriber(TEXTS), tmp_path)
    voice = services.synthesizer = BreakingSynthesizer(services.synthesizer)

    async def visitor(client, heard):
        voice.broken = True
        spoke = await talk(client, turn_audio(0))
        await keep_alive(client, 8, until=lambda: heard_at(heard.frames, services.phrases[FAILURE_MESSAGE], spoke) is not None)
        await keep_alive(client, 4.5)  # the apology ends; the visitor's turn again
        voice.broken = False  # the engine is back: the next turn is answered aloud
        again = await talk(client, turn_audio(1))
        await keep_alive(client, 8, until=lambda: first_sound_after(heard.frames, again + 0.1) is not None)
        await keep_alive(client, 1)
        return spoke, again

    (spoke, again), heard, record = recorded_call(services, tmp_path, visitor)
    frames = heard.frames
    assert voice.failures >= 1
    apology = heard_at(frames, services.phrases[FAILURE_MESSAGE], spoke)
    assert apology is not None and apology - spoke < NEVER_SILENT_FOR, "the apology needs no voice engine"
    answer = first_sound_after(frames, again + 0.1)
    assert answer is not None and answer - again < NEVER_SILENT_FOR, "the next turn is answered"
    assert record is not None and record.failed_turns == 1 and "RHVoice exited with status 1" in record.last_error
    assert [t.transcript for t in record.turns] == TEXTS[1:], "the unspoken reply is no turn; the next one is"


def test_an_observer_raising_on_every_event_breaks_neither_the_call_nor_its_record(directory, redis_server, tmp_path):
    services = make_services(directory, redis_server.url, ScriptedTranscriber(TEXTS), tmp_path)
    events: list = []

    def recorded_then_broken(records, event) -> None:
        records.observer(event)
        events.append(event)
        raise ValueError("a bug in a dashboard observer")

    async def visitor(client, heard):
        spoke = await talk(client, turn_audio(0))
        await keep_alive(client, 8, until=lambda: sum(isinstance(e, Turn) for e in events) == 1)
        await keep_alive(client, 4)
        await talk(client, turn_audio(1))
        await keep_alive(client, 10, until=lambda: heard.hung_up)
        return spoke

    spoke, heard, record = recorded_call(services, tmp_path, visitor, observer=recorded_then_broken)
    answered = first_sound_after(heard.frames, spoke)
    assert answered is not None and answered - spoke < NEVER_SILENT_FOR
    assert heard.hung_up, "the visit completed and the call was hung up as usual"
    assert [e.outcome for e in events if isinstance(e, CallEnded)] == [Outcome.COMPLETED]
    assert record is not None and record.outcome == Outcome.COMPLETED.value and len(record.turns) == 2
