"""The VAD endpointer: caller audio in, turn events (speech started, paused, ended) out.

A small explicit state machine (QUIET -> STARTING -> SPEAKING <-> STOPPING) over webrtcvad
decisions on 20 ms frames at 8 kHz. Time is counted in audio (bytes fed), never in wall-clock
time, so replaying a call at any speed and in any chunking gives the same events. It does no
I/O: detecting that a phone stopped sending (DTX) is the caller's job; it reports that with
`feed_gap`, which counts as silence.

A call's first turn, when it is short (a bare "Boa noite"), waits a longer silence before it
ends, so the sentence that usually follows the greeting joins it in one turn.
"""

import enum
import math
from collections import deque
from dataclasses import dataclass

import webrtcvad
from pydantic import BaseModel, ConfigDict, Field, model_validator

from concierge.audio.pcm import (
    FRAME_BYTES,
    FRAME_SECONDS,
    SAMPLE_RATE,
    SAMPLE_WIDTH,
    duration_seconds,
)


class EndpointParams(BaseModel):
    """How speech is told apart from silence and where a turn ends."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    vad_aggressiveness: int = Field(
        2, ge=0, le=3, description="webrtcvad mode: 0 lets most audio count as speech, 3 the least."
    )
    start_speech_seconds: float = Field(
        0.1, gt=0, description="Consecutive voiced audio needed before speech counts as started."
    )
    pre_roll_seconds: float = Field(
        0.3, ge=0, description="Audio kept from before the start, so first syllables survive."
    )
    end_silence_seconds: float = Field(
        0.7, gt=0, description="Silence that ends a turn (config system.silence_threshold_seconds)."
    )
    first_pause_seconds: float = Field(
        0.25,
        gt=0,
        description="Silence after which a Paused event lets the caller start transcribing early.",
    )
    min_utterance_seconds: float = Field(
        0.2, ge=0, description="Shorter speech (first to last voiced frame) is discarded as noise."
    )
    max_utterance_seconds: float = Field(
        15.0, gt=0, description="An utterance this long (pre-roll included) is ended by force."
    )
    opening_max_speech_seconds: float = Field(
        1.2,
        ge=0,
        description="A call's first turn with this much speech or less (first to last voiced frame) is"
        " taken for a bare greeting ('Boa noite') and waits `opening_end_silence_seconds` for more.",
    )
    opening_end_silence_seconds: float = Field(
        1.8,
        gt=0,
        description="Silence that ends such a short first turn: people pause about a second after a"
        " greeting before saying why they rang. Never shorter than `end_silence_seconds`.",
    )

    @model_validator(mode="after")
    def _pause_comes_before_end(self) -> "EndpointParams":
        """Refuse a first pause that would come after the end of the turn."""
        if self.first_pause_seconds > self.end_silence_seconds:
            raise ValueError("first_pause_seconds must not exceed end_silence_seconds")
        return self


class State(enum.Enum):
    """Where the endpointer is in a turn."""

    QUIET = "quiet"
    STARTING = "starting"
    SPEAKING = "speaking"
    STOPPING = "stopping"


@dataclass(frozen=True)
class SpeechStarted:
    """Speech began (barge-in point). `at`: audio seconds fed when it was detected."""

    at: float


@dataclass(frozen=True)
class Paused:
    """The first `first_pause_seconds` of silence after speech.

    `pcm` is the utterance so far; if no `Resumed` follows, the `UtteranceEnded` carries
    exactly this audio, so a transcription started now can be kept.
    """

    at: float
    pcm: bytes


@dataclass(frozen=True)
class Resumed:
    """Speech came back after a `Paused`: a transcription started then is stale."""

    at: float


@dataclass(frozen=True)
class UtteranceEnded:
    """The turn is over.

    `pcm` runs from the pre-roll to `first_pause_seconds` after the last voiced frame (or to
    the cut, when `forced` by `max_utterance_seconds`). `silence_seconds`: how much silence
    had been heard after the last voiced frame when the end was detected. `speech_seconds`:
    from the first to the last voiced frame.
    """

    at: float
    pcm: bytes
    silence_seconds: float
    forced: bool = False
    speech_seconds: float = 0.0

    @property
    def duration(self) -> float:
        """Seconds of audio in `pcm`."""
        return duration_seconds(self.pcm)


@dataclass(frozen=True)
class SpeechDiscarded:
    """What started as speech was shorter than `min_utterance_seconds` (no `Paused` was sent)."""

    at: float


Event = SpeechStarted | Paused | Resumed | UtteranceEnded | SpeechDiscarded


def _frames_in(seconds: float) -> int:
    """Return how many 20 ms frames make `seconds`, to the nearest (halves round up)."""
    return math.floor(seconds / FRAME_SECONDS + 0.5)


def _frame_count(seconds: float) -> int:
    """Return how many 20 ms frames make `seconds`, at least one."""
    return max(1, _frames_in(seconds))


def _seconds(frame_count: int) -> float:
    """Return the audio time of `frame_count` frames, exact for whole milliseconds."""
    return frame_count * FRAME_BYTES / (SAMPLE_WIDTH * SAMPLE_RATE)


class Endpointer:
    """Feed caller audio, get turn events. One per call; not thread-safe."""

    def __init__(self, params: EndpointParams | None = None) -> None:
        self.params = params or EndpointParams()
        self._vad = webrtcvad.Vad(self.params.vad_aggressiveness)
        self._start_frames = _frame_count(self.params.start_speech_seconds)
        self._pre_roll_frames = _frames_in(self.params.pre_roll_seconds)
        self._pause_frames = _frame_count(self.params.first_pause_seconds)
        self._end_frames = _frame_count(self.params.end_silence_seconds)
        self._min_frames = _frames_in(self.params.min_utterance_seconds)
        self._max_frames = _frame_count(self.params.max_utterance_seconds)
        self._opening_speech_frames = _frames_in(self.params.opening_max_speech_seconds)
        self._opening_end_frames = max(self._end_frames, _frame_count(self.params.opening_end_silence_seconds))
        self._opening = True
        self._frames_done = 0
        self.reset()

    @property
    def state(self) -> State:
        """The current state."""
        return self._state

    @property
    def audio_seconds(self) -> float:
        """Audio time: whole frames fed (gaps included) since creation; `reset` keeps it."""
        return _seconds(self._frames_done)

    @property
    def in_opening(self) -> bool:
        """Whether the call's first turn is still to come (a short one then waits longer)."""
        return self._opening

    def end_opening(self) -> None:
        """The caller's first turn was taken: from now on every turn ends at `end_silence_seconds`."""
        self._opening = False

    def reset(self) -> None:
        """Forget any speech in progress and buffered bytes; go back to quiet."""
        self._pending = bytearray()
        self._to_quiet()

    def _to_quiet(self) -> None:
        """Drop the turn in progress and its pre-roll; keep buffered bytes and the clock."""
        self._state = State.QUIET
        self._history: deque[bytes] = deque(maxlen=self._pre_roll_frames + self._start_frames)
        self._onset = 0
        self._utterance: list[bytes] = []
        self._speech_start = 0
        self._last_voiced = 0
        self._paused = False

    def feed(self, pcm: bytes) -> list[Event]:
        """Take caller audio of any length (re-chunked into 20 ms frames); return events."""
        self._pending += pcm
        events: list[Event] = []
        while len(self._pending) >= FRAME_BYTES:
            frame = bytes(self._pending[:FRAME_BYTES])
            del self._pending[:FRAME_BYTES]
            events += self._step(frame, self._vad.is_speech(frame, SAMPLE_RATE))
        return events

    def feed_gap(self, seconds: float) -> list[Event]:
        """Count `seconds` with no audio received (DTX, network) as silence; return events."""
        silent = bytes(FRAME_BYTES)
        events: list[Event] = []
        for _ in range(_frames_in(seconds)):
            events += self._step(silent, False)
        return events

    def _step(self, frame: bytes, voiced: bool) -> list[Event]:
        """Advance the state machine by one frame."""
        self._frames_done += 1
        if self._state in (State.QUIET, State.STARTING):
            return self._step_quiet(frame, voiced)
        return self._step_speaking(frame, voiced)

    def _step_quiet(self, frame: bytes, voiced: bool) -> list[Event]:
        """Keep pre-roll; start speech after enough consecutive voiced frames."""
        self._history.append(frame)
        self._onset = self._onset + 1 if voiced else 0
        if self._onset < self._start_frames:
            self._state = State.STARTING if self._onset else State.QUIET
            return []
        self._utterance = list(self._history)
        self._speech_start = len(self._utterance) - self._start_frames
        self._last_voiced = len(self._utterance)
        self._history.clear()
        self._onset = 0
        self._state = State.SPEAKING
        return [SpeechStarted(self.audio_seconds)]

    def _step_speaking(self, frame: bytes, voiced: bool) -> list[Event]:
        """Track voiced and silent frames; pause, resume, end or force the end of the turn."""
        self._utterance.append(frame)
        events: list[Event] = []
        if voiced:
            self._last_voiced = len(self._utterance)
            self._state = State.SPEAKING
            if self._paused:
                self._paused = False
                events.append(Resumed(self.audio_seconds))
        else:
            self._state = State.STOPPING
            silent_frames = len(self._utterance) - self._last_voiced
            if silent_frames == self._pause_frames and self._long_enough():
                self._paused = True
                events.append(Paused(self.audio_seconds, b"".join(self._utterance)))
            if silent_frames >= self._silence_to_end():
                return events + [self._end_of_turn()]
        if len(self._utterance) >= self._max_frames:
            events.append(self._forced_end())
        return events

    def _silence_to_end(self) -> int:
        """Frames of silence that end the turn in progress: more after a short opening turn."""
        if self._opening and self._speech_frames() <= self._opening_speech_frames:
            return self._opening_end_frames
        return self._end_frames

    def _speech_frames(self) -> int:
        """Frames from the first to the last voiced frame of the turn in progress."""
        return self._last_voiced - self._speech_start

    def _long_enough(self) -> bool:
        """Whether the speech so far (first to last voiced frame) is worth transcribing."""
        return self._speech_frames() >= self._min_frames

    def _end_of_turn(self) -> UtteranceEnded | SpeechDiscarded:
        """Close the turn after enough silence; keep its silent tail as the next pre-roll."""
        long_enough = self._long_enough()
        silence = _seconds(len(self._utterance) - self._last_voiced)
        speech = _seconds(self._speech_frames())
        pcm = b"".join(self._utterance[: self._last_voiced + self._pause_frames])
        tail = self._utterance[self._last_voiced :]
        self._to_quiet()
        self._history.extend(tail)
        if not long_enough:
            return SpeechDiscarded(self.audio_seconds)
        return UtteranceEnded(self.audio_seconds, pcm, silence, speech_seconds=speech)

    def _forced_end(self) -> UtteranceEnded:
        """Cut an utterance that reached `max_utterance_seconds`."""
        silence = _seconds(len(self._utterance) - self._last_voiced)
        speech = _seconds(self._speech_frames())
        pcm = b"".join(self._utterance)
        self._to_quiet()
        return UtteranceEnded(self.audio_seconds, pcm, silence, forced=True, speech_seconds=speech)
