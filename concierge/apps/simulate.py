"""`apoena simulate`: play recorded calls through the real server code over a loopback AudioSocket.

The simulated caller is a real AudioSocket client. When the recording's sidecar lists its
`turns` with times, the caller is reactive: it says one turn (with a little silence after),
waits until the concierge has answered and it is the caller's turn again, then says the next.
A read-back ("…, certo?") or a keypad request ("digite …") is answered as a truthful visitor
would (`concierge.apps.visitor.answer`): keypad digits as AudioSocket DTMF, "yes"/"no" from
audio segments the sidecar names (`answers`). Without turn times it plays the recording as
one stream, keeping quiet while the concierge thinks and speaks. `--no-wait` streams the
recording blindly in real time instead. A sidecar `directory` runs that call against its own
resident directory. Its calls are recorded like served ones, in a temporary database unless
`--record PATH` names one.

With `--resident ANSWER.slin` (or `--resident-no-answer`), a complete visit calls the resident
through a simulated Asterisk (`concierge.asterisk.simulated`: a real Manager Interface on a
loopback socket) that answers by connecting a second AudioSocket client into the same server
with the UUID Apoena chose, and plays ANSWER.slin (and the keys its sidecar names) once Apoena
has asked — or at once, when its sidecar says it `speaks_first` (a mailbox). `--resident` may be
given once per dial attempt, in order, and also takes `no-answer` and `busy`: `--resident
fixtures/resident/caixa_postal.slin --resident fixtures/resident/sim.slin` rings the apartment
twice, a mailbox answering the first attempt and a resident saying yes on the second. The
apartment is rung exactly that many times: its own dial strings first, then
``Local/<apartment>-<n>@simulated``, so any directory works. Without these options nobody is
asked: the visit's decision is `not_asked`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import statistics
import tempfile
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from concierge.apps.common import configure_logging, load_setup, tune_for_real_time
from concierge.apps.visitor import ANSWER_KINDS, Answer, answer, same_slot
from concierge.asterisk.ami import AMIClient
from concierge.asterisk.simulated import SimulatedAsterisk, SimulatedResident
from concierge.audio.pcm import FRAME_BYTES, FRAME_SECONDS, SUPPORTED_SUFFIXES, AudioFileError, read_audio_file, write_wav
from concierge.audiosocket.client import AudioSocketClient
from concierge.audiosocket.protocol import Audio, Hangup
from concierge.audiosocket.server import AudioSocketServer
from concierge.call.condominiums import Condominiums, call_uuid, code_for
from concierge.call.events import CallEnded, CallEvent, Observer, StateChanged, Turn
from concierge.call.records import CallRecords
from concierge.call.gate import Gate, GateActed
from concierge.call.services import CallServices, build_services
from concierge.call.session import call_handler
from concierge.call.visit import Dialing, ResidentDialing, ResidentLegs, ResidentTurnHeard, VisitDecided, VisitStarted
from concierge.config import CallState, load_config
from concierge.errors import UserError

AUDIO_SUFFIXES = frozenset(SUPPORTED_SUFFIXES)  # every format read_audio_file reads
TAIL_SECONDS = 4.0  # after the recording ends, the caller listens this long before hanging up
PRE_ROLL_SECONDS = 0.5  # a turn is played from a little before its first word to a little after its
POST_ROLL_SECONDS = 0.5  # last, so the endpointer's cut holds only the recording: the same bytes every run
AFTER_TURN_SECONDS = 0.5  # quiet after a turn beyond the concierge's end-of-turn silence
REACTION_SECONDS = 0.4  # the concierge has been quiet and listening this long: the caller speaks
UNHEARD_SECONDS = 6.0  # still listening and nothing answered this long after a turn: go on
ANSWER_WAIT_SECONDS = 45.0  # never wait longer than this (audio time) for one answer
MAX_ANSWERS_IN_A_ROW = 3  # read-backs answered before the caller goes on with the script anyway
KEY_SECONDS = 0.16  # between keypad digits
SLOTS = ("intent_type", "visitor_name", "apartment_number", "resident_name")


Span = tuple[float, float]  # (start, end) seconds into the recording


@dataclass
class Recording:
    path: Path
    pcm: bytes
    dtmf: list[tuple[float, str]]
    expected: dict | None
    turns: list[Span] = field(default_factory=list)  # caller turns with times: the caller is reactive
    answers: dict[str, Span] = field(default_factory=dict)  # what the caller says to a read-back or a question (ANSWER_KINDS)
    if_asked: dict | None = None  # the visitor's own wording of answers (see concierge.apps.visitor)
    directory: Path | None = None  # the resident directory this call was made for
    idle: Span | None = None  # line noise the caller sends while it listens (default: digital silence)
    info: dict = field(default_factory=dict)  # sidecar keys reported as they are (split, source)

    @property
    def reactive(self) -> bool:
        return bool(self.turns)

    def segment(self, start: float, end: float) -> bytes:
        a, b = (max(0, min(len(self.pcm), round(t * 8000) * 2)) for t in (start, end))
        return self.pcm[a:b]


@dataclass(frozen=True)
class _Speech:
    start: float
    end: float
    dtmf: tuple[tuple[float, str], ...] = ()  # keys typed while speaking (seconds into the recording)


@dataclass(frozen=True)
class _Keys:
    digits: str


@dataclass
class CallReport:
    """What happened on one simulated call."""

    recording: Recording
    call_id: str
    turns: list[Turn] = field(default_factory=list)
    outcome: str = ""
    received: bytearray = field(default_factory=bytearray)
    first_audio_ms: float | None = None  # UUID sent -> first audio frame from the concierge
    frame_times: tuple[float, float, int] | None = None  # first and last arrival, frames received

    @property
    def pacing_drift(self) -> float | None:
        """How far the concierge's audio ran from 50 frames a second, as a fraction (+ = late)."""
        if self.frame_times is None or self.frame_times[2] < 100:
            return None
        first, last, count = self.frame_times
        expected = (count - 1) * FRAME_SECONDS
        return (last - first - expected) / expected
    state: CallState = CallState.STANDBY
    ended: asyncio.Event = field(default_factory=asyncio.Event)  # the server side reported the end
    mode: str = ""  # "turns" (reactive caller), "stream" (waits its turn) or "no-wait"
    listening: int = 0  # how many times the concierge has gone back to listening (USER_TURN)
    script_played: int = 0  # scripted steps (turns, keypad entries) the caller got through
    answers: list[dict] = field(default_factory=list)  # read-backs and keypad requests answered
    unheard: list[int] = field(default_factory=list)  # scripted steps after which nothing was answered
    considered: int = 0  # the last concierge turn the caller decided whether to answer
    visit: dict | None = None  # the resident's decision, once the visit was complete
    expected_decision: str | None = None  # from the resident answers' sidecars
    expected_attempts: list[str] = field(default_factory=list)  # how each dial attempt must end

    @property
    def final(self) -> dict | None:
        return self.turns[-1].reply.model_dump(mode="json") if self.turns else None

    @property
    def mismatches(self) -> list[str]:
        if self.recording.expected is None:
            return []
        final = self.final or {"dados": dict.fromkeys(SLOTS), "valid_for_action": False}
        got = {**final["dados"], "valid_for_action": final["valid_for_action"]}
        return [
            f"{key}: expected {want!r}, got {got.get(key)!r}"
            for key, want in self.recording.expected.items()
            if key in got and not same_slot(key, want, got.get(key))
        ] + self._decision_mismatch()

    def _decision_mismatch(self) -> list[str]:
        got = self.visit["decision"] if self.visit else None
        if self.expected_decision is None or not self.recording.expected or not self.recording.expected.get("valid_for_action"):
            return []
        wrong = [] if got == self.expected_decision else [f"decision: expected {self.expected_decision!r}, got {got!r}"]
        attempts = [attempt[1] for attempt in (self.visit or {}).get("attempts") or []]
        if self.expected_attempts and attempts != self.expected_attempts:
            wrong.append(f"attempts: expected {' → '.join(self.expected_attempts)}, got {' → '.join(attempts) or 'none'}")
        return wrong

    @property
    def passed(self) -> bool | None:
        return None if self.recording.expected is None else not self.mismatches

    def as_json(self) -> dict:
        return {
            "file": str(self.recording.path),
            "call_id": self.call_id,
            "outcome": self.outcome,
            "first_audio_ms": None if self.first_audio_ms is None else round(self.first_audio_ms, 1),
            "turns": [
                {
                    "source": t.source,
                    "transcript": t.transcript,
                    "reply": t.reply.mensagem,
                    "dados": t.reply.dados.model_dump(mode="json"),
                    "stt_ms": round(t.stt_ms, 1),
                    "brain_ms": round(t.brain_ms, 2),
                    "tts_ms": round(t.tts_ms, 1),
                    "response_ms": None if t.response_ms is None else round(t.response_ms, 1),
                }
                for t in self.turns
            ],
            "final": self.final,
            "mode": self.mode,
            "script_played": self.script_played,
            "answers": self.answers,
            "unheard_after": self.unheard,
            "visit": self.visit,
            **({"directory": str(self.recording.directory)} if self.recording.directory else {}),
            **self.recording.info,
            "expected": self.recording.expected,
            "passed": self.passed,
            "mismatches": self.mismatches,
        }


def find_recordings(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix.lower() in AUDIO_SUFFIXES)
            if not found:
                raise UserError(f"{path}: no .slin or .wav recordings in this folder")
            files += found
        elif path.is_file():
            files.append(path)
        else:
            raise UserError(f"{path}: no such file or folder")
    return files


def load_recording(path: Path) -> Recording:
    try:
        pcm = read_audio_file(path)
    except AudioFileError as error:
        raise UserError(str(error)) from None
    sidecar = path.with_suffix(".json")
    if not sidecar.is_file():
        return Recording(path, pcm, [], None)
    try:
        data = json.loads(sidecar.read_text(encoding="utf-8"))
        dtmf = sorted((float(d["at_seconds"]), str(d["digits"])) for d in data.get("dtmf", []))
        expected = data.get("expected")
        if expected is not None and not isinstance(expected, dict):
            raise ValueError("'expected' must be an object")
        turns = data.get("turns") or []
        timed = all(isinstance(t, dict) and "start_seconds" in t and "end_seconds" in t for t in turns)
        spans = sorted(_span(t, "turn") for t in turns) if timed else []
        answers = {str(kind): _span(span, f"answers.{kind}") for kind, span in (data.get("answers") or {}).items()}
        unknown = set(answers) - set(ANSWER_KINDS)
        if unknown:
            raise ValueError(f"'answers' has {', '.join(sorted(unknown))}; only {', '.join(ANSWER_KINDS)} are said")
        if_asked = data.get("if_asked")
        if if_asked is not None and not isinstance(if_asked, dict):
            raise ValueError("'if_asked' must be an object")
        idle = _span(data["idle"], "idle") if data.get("idle") else None
        directory = None
        if data.get("directory"):
            directory = (sidecar.parent / str(data["directory"])).resolve()
            if not directory.is_file():
                raise ValueError(f"directory {directory} not found")
        info = {key: data[key] for key in ("split", "source", "name") if key in data}
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise UserError(f"{sidecar}: unreadable expectations ({error}) — see fixtures/calls/README.md") from None
    return Recording(path, pcm, dtmf, expected, spans, answers, if_asked, directory, idle, info)


def _span(item: dict, what: str) -> Span:
    start, end = float(item["start_seconds"]), float(item["end_seconds"])
    if not 0 <= start < end:
        raise ValueError(f"{what}: start_seconds {start} must be >= 0 and before end_seconds {end}")
    return start, end


def script_of(recording: Recording) -> list[_Speech | _Keys]:
    """The caller's steps in order: each timed turn (with any keys typed inside it), and keys typed
    between turns as steps of their own."""
    steps: list[tuple[float, _Speech | _Keys]] = []
    loose = list(recording.dtmf)
    for start, end in recording.turns:
        inside = tuple(d for d in loose if start <= d[0] <= end)
        loose = [d for d in loose if d not in inside]
        steps.append((start, _Speech(start, end, inside)))
    steps += [(at, _Keys(digits)) for at, digits in loose]
    return [step for _, step in sorted(steps, key=lambda item: item[0])]


def group_by_directory(recordings: list[Recording]) -> dict[Path | None, list[int]]:
    """Which calls need which directory (None: the one from --directory or the configuration)."""
    groups: dict[Path | None, list[int]] = {}
    for index, recording in enumerate(recordings):
        groups.setdefault(recording.directory, []).append(index)
    return groups


@contextlib.contextmanager
def simulation_services(config_path: Path | None, directory_path: Path | None):
    """The same setup and engines `apoena serve` builds, for one directory; closed on exit."""
    setup = load_setup(config_path, directory_path, None)
    try:
        services = build_services(setup.config, setup.directory, setup.concierge)
        try:
            yield setup, services
        finally:
            services.close()
    finally:
        setup.concierge.store.close()


class _Line:
    """The caller's end of the line: one 20 ms frame per tick, speech or quiet, paced like a phone."""

    def __init__(self, client: AudioSocketClient, speed: float, idle: bytes = b"") -> None:
        self.client = client
        self.interval = FRAME_SECONDS / speed
        self.loop = asyncio.get_running_loop()
        self.start = self.loop.time()
        self.tick = 0
        self.idle = _frames(idle) or [bytes(FRAME_BYTES)]
        self.idle_at = 0

    async def send(self, frame: bytes) -> None:
        await self.client.send_audio(frame)
        self.tick += 1
        delay = self.start + self.tick * self.interval - self.loop.time()
        if delay > 0:
            await asyncio.sleep(delay)

    async def quiet(self) -> None:
        frame = self.idle[self.idle_at % len(self.idle)]
        self.idle_at += 1
        await self.send(frame)


def _line_after_last_turn(recording: Recording) -> bytes:
    """What the line carries when the caller is quiet: the recording after its last speech (its
    hiss or noise, or digital silence), when there is enough of it."""
    ends = [end for _, end in (*recording.turns, *recording.answers.values())] + [at for at, _ in recording.dtmf]
    tail = recording.segment(max(ends) + 0.3, len(recording.pcm) / 16000) if ends else b""
    if len(tail) < 0.5 * 16000:
        return b""
    speech = b"".join(recording.segment(*span) for span in recording.turns)
    return tail if _rms(tail) < 0.3 * _rms(speech) else b""  # 10 dB under the turns: noise, not more speech


def _rms(pcm: bytes) -> float:
    samples = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2").astype(np.float64)
    return float(np.sqrt(np.mean(samples**2))) if len(samples) else 0.0


def _frames(pcm: bytes) -> list[bytes]:
    frames = [pcm[i : i + FRAME_BYTES] for i in range(0, len(pcm), FRAME_BYTES)]
    return [f + bytes(FRAME_BYTES - len(f)) if len(f) < FRAME_BYTES else f for f in frames]


RESIDENT_LINES = {"no-answer": "no_answer", "busy": "busy"}
"""`--resident` values that are no recording: a phone that rings out, or is busy."""
MOVES_ON = frozenset({"voicemail", "no_answer", "busy"})
"""How an attempt ends when the next dial string is tried."""


@dataclass(frozen=True)
class ResidentAnswer:
    """How one dial attempt is answered: `resident` None never picks up; `expected` is the decision it
    must lead to, `attempt` how the attempt must end (`answered`, or one of MOVES_ON)."""

    resident: SimulatedResident | None
    expected: str | None = None
    path: Path | None = None
    attempt: str = "answered"


def load_resident(path: Path) -> ResidentAnswer:
    """A resident's recorded answer, with its sidecar (`dtmf` keys to press, `speaks_first`, `expected_decision`,
    `expected_attempt`); or `no-answer` / `busy`."""
    if str(path) in RESIDENT_LINES and not path.exists():
        line = RESIDENT_LINES[str(path)]
        return ResidentAnswer(SimulatedResident(line=line), "no_answer", None, line)  # type: ignore[arg-type]
    try:
        pcm = read_audio_file(path)
    except AudioFileError as error:
        raise UserError(f"--resident: {error} (or give no-answer or busy)") from None
    sidecar = path.with_suffix(".json")
    data: dict = {}
    if sidecar.is_file():
        try:
            data = json.loads(sidecar.read_text(encoding="utf-8"))
            digits = str(data.get("dtmf") or "")
            if any(d not in "0123456789*#" for d in digits):
                raise ValueError(f"dtmf {digits!r} is not keypad digits")
            attempt = str(data.get("expected_attempt") or "answered")
            if attempt != "answered" and attempt not in MOVES_ON:
                raise ValueError(f"expected_attempt {attempt!r} is not answered, {', '.join(sorted(MOVES_ON))}")
        except (ValueError, AttributeError) as error:
            raise UserError(f"{sidecar}: unreadable resident answer ({error})") from None
    resident = SimulatedResident(pcm, str(data.get("dtmf") or ""), speaks_first=bool(data.get("speaks_first")))
    return ResidentAnswer(resident, data.get("expected_decision"), path, str(data.get("expected_attempt") or "answered"))


def expected_visit(answers: list[ResidentAnswer]) -> tuple[str | None, list[str]]:
    """The decision a visit must reach when its attempts are answered so, in order, and how each
    attempt rung must end: up to the first one answered by a person, whose answer decides."""
    attempts: list[str] = []
    for answer in answers:
        attempts.append(answer.attempt)
        if answer.attempt not in MOVES_ON:
            return answer.expected, attempts
    return "no_answer", attempts


class Simulator:
    """A loopback AudioSocket server running the real call sessions, and callers that play recordings.
    With `resident`, a simulated Asterisk answers the Manager Interface and plays the resident."""

    def __init__(
        self, services: CallServices, speed: float = 1.0, wait: bool = True, on_event=None, record: Observer | None = None,
        resident: ResidentAnswer | None = None, directory=None, residents: Sequence[ResidentAnswer] = (),
        code: int | None = None,
    ) -> None:  # fmt: skip
        self.services = services
        self.code = code  # the condominium the calls are for, folded into their UUIDs (None: the default one)
        self.speed = speed
        self.wait = wait
        self.on_event = on_event
        self.record = record
        self.residents = list(residents) or ([resident] if resident is not None else [])  # one per dial attempt
        self.directory = directory
        self.calls: dict[str, CallReport] = {}
        self.server: AudioSocketServer | None = None
        self.asterisk: SimulatedAsterisk | None = None
        self._ami: AMIClient | None = None

    async def __aenter__(self) -> Simulator:
        self.server = AudioSocketServer(
            call_handler(self.services, self._observe), "127.0.0.1", 0,
            max_audio_speed=max(1.0, self.speed),  # the callers play at --speed: read as fast, never faster
            audio_burst_seconds=self.services.config.server.audio_burst_seconds,
        )  # fmt: skip
        await self.server.start()
        self.services.visits = None
        if self.residents:
            if self.directory is None:
                raise ValueError("simulating the resident needs the directory")
            self.asterisk = await SimulatedAsterisk(residents=[answer.resident for answer in self.residents]).start()
            self._ami = AMIClient("127.0.0.1", self.asterisk.port, "apoena", "simulated", ping_interval=None)
            dialing = Dialing(
                self._ami, self.server.port, fallback_dial=lambda apartment: f"Local/{apartment}@simulated", attempts=len(self.residents)
            )
            self.services.visits = ResidentLegs(self.services.config, self.directory, dialing)
        self.services.gate = Gate(self.services.config.gate, self._ami)
        return self

    async def __aexit__(self, *_: object) -> None:
        if self.server is not None:
            await self.server.close(5)
        if self.services.gate is not None:
            await self.services.gate.drain(10)
        if self._ami is not None:
            await self._ami.close()
        if self.asterisk is not None:
            await self.asterisk.stop()
        self.services.visits = None

    def _observe(self, event: CallEvent) -> None:
        if self.record is not None:
            self.record(event)
        report = self.calls.get(event.call_id)
        if report is None:
            return
        if isinstance(event, StateChanged):
            report.state = event.state
            if event.state == CallState.USER_TURN:
                report.listening += 1
        elif isinstance(event, Turn):
            report.turns.append(event)
        elif isinstance(event, VisitStarted | ResidentDialing | ResidentTurnHeard | VisitDecided | GateActed):
            _visit_report(report, event)
        elif isinstance(event, CallEnded):
            report.outcome = event.outcome.value
            report.ended.set()
        if self.on_event is not None:
            self.on_event(report, event)

    async def call(self, recording: Recording) -> CallReport:
        """Place one call and play `recording` into it; return when the call is over."""
        call_id = uuid.uuid4() if self.code is None else call_uuid(self.code)
        report = CallReport(recording, str(call_id))
        if self.residents:
            report.expected_decision, report.expected_attempts = expected_visit(self.residents)
        if self.asterisk is not None:
            self.asterisk.add_channel(f"SIM/visitor-{len(self.calls) + 1:04d}", APOENA_CALL=str(call_id))
        self.calls[report.call_id] = report
        assert self.server is not None
        connected = asyncio.get_running_loop().time()
        client = await AudioSocketClient.connect("127.0.0.1", self.server.port, call_id)
        listener = asyncio.create_task(self._listen(client, report, connected))
        try:
            await self._play(client, report, listener)
        finally:
            await client.close()
            await asyncio.wait_for(listener, 5)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(report.ended.wait(), 2)  # the server side records the end
        return report

    async def _listen(self, client: AudioSocketClient, report: CallReport, connected: float) -> None:
        while True:
            message = await client.receive()
            if isinstance(message, Audio):
                now = asyncio.get_running_loop().time()
                if report.frame_times is None:
                    report.first_audio_ms = (now - connected) * 1000
                    report.frame_times = (now, now, 1)
                else:
                    report.frame_times = (report.frame_times[0], now, report.frame_times[2] + 1)
                report.received += message.pcm
            elif isinstance(message, Hangup):
                return

    async def _play(self, client: AudioSocketClient, report: CallReport, listener: asyncio.Task) -> None:
        if self.wait and report.recording.reactive:
            report.mode = "turns"
            await self._play_turns(client, report, listener)
        else:
            report.mode = "stream" if self.wait else "no-wait"
            await self._stream(client, report, listener)

    # -- the reactive caller: one turn at a time ----------------------------------------------

    async def _play_turns(self, client: AudioSocketClient, report: CallReport, listener: asyncio.Task) -> None:
        recording = report.recording
        idle = recording.segment(*recording.idle) if recording.idle else _line_after_last_turn(recording)
        line = _Line(client, self.speed, idle)
        steps = script_of(recording)
        heard_from = 0  # the concierge's listening count when the caller last finished speaking
        for played in range(len(steps) + 1):
            answered = 0
            while True:
                if not await self._wait_for_turn(line, report, listener, heard_from, played):
                    return  # the concierge hung up
                reaction = self._reaction(report)
                if reaction is None or answered >= MAX_ANSWERS_IN_A_ROW:
                    break
                spoke_at = await self._give_answer(line, report, reaction, played)
                if spoke_at is None:
                    break  # nothing recorded to say: go on with the script
                heard_from, answered = spoke_at, answered + 1
            if played == len(steps):
                break
            step = steps[played]
            if isinstance(step, _Speech):
                heard_from = await self._say(line, report, step.start, step.end, step.dtmf)
            else:
                heard_from = await self._type(line, report, step.digits)
            report.script_played = played + 1
        tail = 0.0
        while not listener.done() and tail < TAIL_SECONDS:
            await line.quiet()
            if report.state == CallState.USER_TURN:
                tail += FRAME_SECONDS

    async def _wait_for_turn(
        self, line: _Line, report: CallReport, listener: asyncio.Task, heard_from: int, step: int
    ) -> bool:
        """Keep quiet until the concierge has answered and listens again; False if the call ended.
        If it still listens long after the caller spoke, without answering, the caller goes on."""
        steady = unheard = waited = 0.0
        while not listener.done():
            listening = report.state == CallState.USER_TURN
            steady = steady + FRAME_SECONDS if listening and report.listening > heard_from else 0.0
            unheard = unheard + FRAME_SECONDS if listening and report.listening == heard_from else 0.0
            if steady >= REACTION_SECONDS:
                return True
            if unheard >= UNHEARD_SECONDS or waited >= ANSWER_WAIT_SECONDS:
                report.unheard.append(step)
                return True
            await line.quiet()
            waited += FRAME_SECONDS
        return False

    def _reaction(self, report: CallReport) -> Answer | None:
        """A truthful visitor's answer to the concierge's latest reply, if it asks for one."""
        if report.recording.expected is None or not report.turns or report.turns[-1].index <= report.considered:
            return None
        latest = report.turns[-1]
        report.considered = latest.index
        script_done = report.script_played >= len(script_of(report.recording))
        return answer(latest.reply.mensagem, latest.reply.dados, report.recording.expected, report.recording.if_asked, script_done)

    async def _give_answer(self, line: _Line, report: CallReport, reaction: Answer, step: int) -> int | None:
        """Say or key the answer; the concierge's listening count when done, None if nothing was sent."""
        recording = report.recording
        entry = {"kind": reaction.kind, "after_turn": step, "reply_index": report.considered}
        entry["reply"] = report.turns[-1].reply.mensagem
        if reaction.kind == "keypad":
            entry.update(digits=reaction.digits, sent=True)
            report.answers.append(entry)
            return await self._type(line, report, reaction.digits)
        entry["text"] = reaction.text
        span = recording.answers.get(reaction.kind)
        entry["sent"] = span is not None
        report.answers.append(entry)
        if span is None:
            return None
        return await self._say(line, report, *span)

    async def _say(self, line: _Line, report: CallReport, start: float, end: float, dtmf: tuple = ()) -> int:
        """Play one stretch of speech from the recording, then the quiet that ends a turn."""
        recording = report.recording
        spans = [*recording.turns, *recording.answers.values()]
        before = max((e for _, e in spans if e <= start), default=0.0)  # never a piece of other speech
        begin = max(before, start - PRE_ROLL_SECONDS)
        after = min((s for s, _ in spans if s >= end), default=len(recording.pcm) / 16000)
        finish = min(after, end + POST_ROLL_SECONDS)
        keys = sorted(dtmf)
        heard_from = None  # the concierge's listening count when the last word was said
        for index, frame in enumerate(_frames(recording.segment(begin, finish))):
            await line.send(frame)
            if heard_from is None and begin + (index + 1) * FRAME_SECONDS >= end:
                heard_from = report.listening
            while keys and keys[0][0] <= begin + (index + 1) * FRAME_SECONDS:
                for digit in keys.pop(0)[1]:
                    await line.client.send_dtmf(digit)
        for _, digits in keys:
            for digit in digits:
                await line.client.send_dtmf(digit)
        heard_from = report.listening if heard_from is None else heard_from
        line.idle_at = 0  # the line noise after each turn starts alike
        silence = self.services.config.system.silence_threshold_seconds + AFTER_TURN_SECONDS - (finish - end)
        for _ in range(max(0, round(silence / FRAME_SECONDS))):
            await line.quiet()
        return heard_from

    async def _type(self, line: _Line, report: CallReport, digits: str) -> int:
        """Key digits on the keypad, a little apart, as AudioSocket DTMF."""
        for digit in digits:
            await line.client.send_dtmf(digit)
            for _ in range(round(KEY_SECONDS / FRAME_SECONDS)):
                await line.quiet()
        return report.listening

    # -- the recording as one stream ----------------------------------------------------------

    async def _stream(self, client: AudioSocketClient, report: CallReport, listener: asyncio.Task) -> None:
        recording = report.recording
        frames = _frames(recording.pcm)
        dtmf = list(recording.dtmf)
        silence = bytes(FRAME_BYTES)
        loop = asyncio.get_running_loop()
        start, tick, position, tail = loop.time(), 0, 0, 0.0
        interval = FRAME_SECONDS / self.speed
        while not listener.done():
            my_turn = not self.wait or report.state == CallState.USER_TURN
            if my_turn and position < len(frames):
                await client.send_audio(frames[position])
                position += 1
                while dtmf and dtmf[0][0] <= position * FRAME_SECONDS:
                    for digit in dtmf.pop(0)[1]:
                        await client.send_dtmf(digit)
            else:
                await client.send_audio(silence)
                if position >= len(frames) and (not self.wait or report.state == CallState.USER_TURN):
                    tail += FRAME_SECONDS
                    if tail >= TAIL_SECONDS:
                        return
            tick += 1
            delay = start + tick * interval - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)


def _visit_report(report: CallReport, event: object) -> None:
    """The visit part of the JSON report: the decision, the resident's turns, what the visitor was told."""
    visit = report.visit if report.visit is not None else {"decision": None, "resident_turns": [], "gate": []}
    report.visit = visit
    if isinstance(event, VisitStarted):
        visit["dial_strings"] = list(event.dial_strings)
    elif isinstance(event, ResidentTurnHeard):
        visit["resident_turns"].append(
            {"via": event.by, "transcript": event.heard, "answer": event.answer, "reply": event.reply, "stt_ms": round(event.stt_ms, 1),
             "leg_id": event.leg_id}
        )  # fmt: skip
    elif isinstance(event, VisitDecided):
        visit.update(
            decision=event.decision, reason=event.reason, via=event.by, decided_by=event.decided_by, decision_ms=event.decision_ms,
            asked_ms=event.asked_ms, ringing_ms=event.ringing_ms, attempts=[list(a) for a in event.attempts],
            visitor_turns_after=[{"reply": event.visitor_message}] if event.visitor_message else [],
        )  # fmt: skip
    elif isinstance(event, GateActed):
        visit["gate"].append({"action": event.action, "ok": event.ok, "detail": event.detail, "attempts": event.attempts})


def run_simulate(
    paths: list[Path],
    config_path: Path | None,
    directory_path: Path | None,
    speed: float,
    no_wait: bool,
    as_json: bool,
    out_dir: Path | None,
    record: Path | None = None,
    resident: list[Path] | None = None,
    resident_no_answer: bool = False,
    condominium: str | None = None,
) -> int:
    from rich.console import Console

    configure_logging(logging.WARNING)
    tune_for_real_time()
    if speed <= 0 or speed > 100:
        raise UserError("--speed must be between 0 and 100 (1 = real time)")
    if resident and resident_no_answer:
        raise UserError("--resident and --resident-no-answer exclude each other: use --resident no-answer as one of the attempts")
    code_for(load_config(config_path), condominium)  # an unknown --condominium is refused before any engine loads
    answers = [load_resident(path) for path in resident or []] or ([load_resident(Path("no-answer"))] if resident_no_answer else [])
    recordings = [load_recording(path) for path in find_recordings(paths)]
    console = Console(stderr=as_json)
    reports: list[CallReport | None] = [None] * len(recordings)
    groups = group_by_directory(recordings)  # one set of services per directory, in the order met
    with tempfile.TemporaryDirectory(prefix="apoena-simulate-") as scratch:
        records: CallRecords | None = None
        try:
            for directory, indices in groups.items():
                with contextlib.ExitStack() as stack:
                    with console.status("loading speech engines…"):
                        setup, services = stack.enter_context(simulation_services(config_path, directory or directory_path))
                    code = code_for(setup.config, condominium)
                    home = setup.directory
                    if setup.config.condominiums:  # calls are routed by their UUID, as `apoena serve` does
                        services.condominiums = Condominiums(services, setup.directory, directory or directory_path)
                        if code is not None:
                            home = services.condominiums.by_code[code].directory
                    if records is None:
                        records = CallRecords(record or Path(scratch) / "calls.db", setup.concierge.brain.name)
                    if len(groups) > 1:
                        console.print(f"[dim]directory {setup.config.directory.path if directory is None else directory}[/]", highlight=False)
                    chosen = [recordings[i] for i in indices]
                    done = asyncio.run(
                        _simulate(services, chosen, speed, not no_wait, console, records.observer, answers, home, code)
                    )
                    for index, report in zip(indices, done):
                        reports[index] = report
        finally:
            if records is not None:
                records.close()
    finished = [report for report in reports if report is not None]
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        for report in finished:
            if report.received:
                write_wav(out_dir / f"{report.recording.path.stem}.concierge.wav", bytes(report.received))
    if as_json:
        print(json.dumps(_summary(finished), ensure_ascii=False, indent=2))
    else:
        console.print(_table(finished))
    if record is not None:
        console.print(f"[dim]calls recorded in {record} — see them with `apoena calls --db {record}`[/]", highlight=False)
    return 0 if all(r.passed is not False and r.outcome != "error" for r in finished) else 1


async def _simulate(
    services: CallServices, recordings: list[Recording], speed: float, wait: bool, console, record: Observer | None = None,
    residents: Sequence[ResidentAnswer] = (), directory=None, code: int | None = None,
) -> list[CallReport]:  # fmt: skip
    def show(report: CallReport, event: CallEvent) -> None:
        if isinstance(event, Turn):
            d = event.reply.dados
            latency = "" if event.response_ms is None else f" · resposta {event.response_ms:.0f} ms"
            console.print(
                f"[dim]{report.recording.path.name} #{event.index}[/] [bold]visitante:[/] {event.transcript}\n"
                f"    [bold cyan]concierge:[/] {event.reply.mensagem}\n"
                f"    [dim]{d.intent_type.value} · {d.visitor_name or '—'} · ap {d.apartment_number or '—'} · "
                f"{d.resident_name or '—'} · stt {event.stt_ms:.0f} ms · brain {event.brain_ms:.1f} ms · "
                f"tts {event.tts_ms:.0f} ms{latency}[/]",
                highlight=False,
            )

        elif isinstance(event, ResidentTurnHeard):
            console.print(
                f"[dim]{report.recording.path.name} resident[/] [bold]morador:[/] {event.heard or '(silêncio)'} "
                f"[dim]({event.by}, {event.answer})[/]\n    [bold cyan]concierge:[/] "
                f"{event.reply or ('[dim](hangs up: a mailbox, not the resident)[/]' if event.answer == 'voicemail' else '—')}", highlight=False,
            )  # fmt: skip
        elif isinstance(event, ResidentDialing):
            console.print(f"[dim]{report.recording.path.name} resident[/] [bold]ringing[/] {event.dial}", highlight=False)
        elif isinstance(event, VisitDecided):
            tried = " · ".join(f"{dial} {how}" for dial, how, *_ in event.attempts)
            console.print(f"[dim]{report.recording.path.name} resident[/] [bold]attempts:[/] {tried or '—'}", highlight=False)
            console.print(
                f"[dim]{report.recording.path.name}[/] [bold]decision:[/] {event.decision} — {event.reason}"
                f"{'' if event.decision_ms is None else f' · {event.decision_ms / 1000:.1f} s'}\n"
                f"    [bold cyan]concierge → visitante:[/] {event.visitor_message or '—'}", highlight=False,
            )  # fmt: skip

    async with Simulator(services, speed, wait, show, record, directory=directory, residents=residents, code=code) as simulator:
        return [await simulator.call(recording) for recording in recordings]


def _latencies(reports: list[CallReport]) -> list[float]:
    return [t.response_ms for r in reports for t in r.turns if t.response_ms is not None]


def _summary(reports: list[CallReport]) -> dict:
    latencies = sorted(_latencies(reports))
    judged = [r for r in reports if r.passed is not None]
    return {
        "calls": [r.as_json() for r in reports],
        "summary": {
            "calls": len(reports),
            "passed": sum(1 for r in judged if r.passed),
            "judged": len(judged),
            "response_ms_p50": round(statistics.median(latencies), 1) if latencies else None,
            "response_ms_p95": round(latencies[min(len(latencies) - 1, round(0.95 * (len(latencies) - 1)))], 1) if latencies else None,
        },
    }


def _table(reports: list[CallReport]) -> object:
    from rich.table import Table

    table = Table(title="apoena simulate")
    for column in ("call", "turns", "outcome", "slots (intent · visitor · ap · resident)", "valid", "decision", "resp. p50", "result"):
        table.add_column(column)
    for report in reports:
        final = report.final
        d = final["dados"] if final else dict.fromkeys(SLOTS)
        slots = " · ".join(str(d.get(slot) or "—") for slot in SLOTS)
        latencies = [t.response_ms for t in report.turns if t.response_ms is not None]
        result = {None: "[dim]no expectations[/]", True: "[green]pass[/]", False: "[red]fail[/]"}[report.passed]
        if report.passed is False:
            result += "\n[red]" + "\n".join(report.mismatches) + "[/]"
        answered = f" ({len(report.answers)} ans.)" if report.answers else ""
        table.add_row(
            report.recording.path.name, f"{len(report.turns)}{answered}", report.outcome, slots,
            "yes" if final and final["valid_for_action"] else "no",
            (report.visit or {}).get("decision") or "—",
            f"{statistics.median(latencies):.0f} ms" if latencies else "—", result,
        )  # fmt: skip
    summary = _summary(reports)["summary"]
    table.caption = (
        f"{summary['passed']}/{summary['judged']} passed · response p50 {summary['response_ms_p50']} ms, "
        f"p95 {summary['response_ms_p95']} ms"
    )
    return table
