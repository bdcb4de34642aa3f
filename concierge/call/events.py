"""What a call reports while it runs: for the simulator's live view, call records and the web page."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from concierge.brain.reply import Reply
from concierge.config import CallState


class Outcome(StrEnum):
    COMPLETED = "completed"
    CALLER_HUNG_UP = "caller_hung_up"
    TIMED_OUT = "timed_out"
    NO_INPUT = "no_input"  # the caller said nothing through the prompts; we said goodbye and hung up
    ERROR = "error"


@dataclass(frozen=True)
class CallStarted:
    call_id: str
    conversation_id: str
    at: float = field(default_factory=time.time)
    condominium: str = "default"  # the id of the condominium the call belongs to
    greeting: str = ""  # what the caller was greeted with (its condominium's greeting)


@dataclass(frozen=True)
class StateChanged:
    call_id: str
    state: CallState


@dataclass(frozen=True)
class DtmfReceived:
    call_id: str
    digit: str


@dataclass(frozen=True)
class Turn:
    """One visitor turn and the concierge's answer, with what each stage cost."""

    call_id: str
    index: int
    source: str  # "speech" or "dtmf"
    transcript: str
    reply: Reply
    stt_ms: float
    brain_ms: float
    tts_ms: float
    response_ms: float | None  # end of the caller's speech -> first byte of our reply audio
    speculative: bool = False  # the transcript was started in the pause, before the turn ended


@dataclass(frozen=True)
class TurnFailed:
    """A turn the concierge could not answer (an engine failed); it apologised and listens again."""

    call_id: str
    error: str


@dataclass(frozen=True)
class VisitorNameHeard:
    """The visitor's own voice in the turn where their name was first given or changed.

    A name speech recognition cannot spell can still be played to the resident. `pcm` is that
    whole turn's audio (s16le mono at `sample_rate`); `turn` is the `Turn.index` it belongs to.
    """

    call_id: str
    turn: int
    visitor_name: str
    pcm: bytes = field(repr=False)
    sample_rate: int = 8000

    @property
    def seconds(self) -> float:
        return len(self.pcm) / (2 * self.sample_rate)


@dataclass(frozen=True)
class CallEnded:
    call_id: str
    outcome: Outcome
    reason: str = ""
    at: float = field(default_factory=time.time)


CallEvent = CallStarted | StateChanged | DtmfReceived | Turn | TurnFailed | VisitorNameHeard | CallEnded
Observer = Callable[[CallEvent], None]
