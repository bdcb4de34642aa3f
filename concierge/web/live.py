"""The calls in progress in this process, kept in memory from the call observer: state, conversation
id and the transcript as the seed's debug page showed it (visitor, concierge and system lines)."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from concierge.call.events import CallEnded, CallEvent, CallStarted, DtmfReceived, StateChanged, Turn, TurnFailed
from concierge.call.visit import ResidentAnswered, ResidentDialing, ResidentTurnHeard, VisitDecided, VisitStarted

MAX_LINES_PER_CALL = 500  # a call is capped at max_transaction_time_seconds anyway; this bounds memory


@dataclass
class LiveCall:
    call_id: str
    conversation_id: str
    started_at: float
    state: str = "STANDBY"
    turn_count: int = 0
    last_response_ms: float | None = None
    lines: deque[dict[str, str]] = field(default_factory=lambda: deque(maxlen=MAX_LINES_PER_CALL))
    visit: dict[str, Any] | None = None  # waiting on a resident: status (calling, ringing, answered, decided), dialing, decision

    def add_line(self, role: str, text: str) -> None:
        self.lines.append({"role": role, "text": text, "at": _iso(time.time())})

    def as_json(self) -> dict[str, Any]:
        return {
            "call_id": self.call_id,
            "conversation_id": self.conversation_id,
            "started_at": _iso(self.started_at),
            "state": self.state,
            "turn_count": self.turn_count,
            "last_response_ms": None if self.last_response_ms is None else round(self.last_response_ms, 1),
            "lines": list(self.lines),
            "visit": self.visit,
        }


class LiveCalls:
    """Give `observer` to the call sessions; read `snapshot()` / `get()` on the same event loop."""

    def __init__(self, greeting: str | None = None) -> None:
        self.greeting = greeting
        self._calls: dict[str, LiveCall] = {}

    def __len__(self) -> int:
        return len(self._calls)

    def observer(self, event: CallEvent) -> None:
        if isinstance(event, CallStarted):
            call = self._calls[event.call_id] = LiveCall(event.call_id, event.conversation_id, event.at)
            if self.greeting:
                call.add_line("concierge", self.greeting)
            return
        call = self._calls.get(event.call_id)
        if call is None:
            return
        if isinstance(event, StateChanged):
            call.state = event.state.value
        elif isinstance(event, DtmfReceived):
            call.add_line("system", f"keypad: {event.digit}")
        elif isinstance(event, Turn):
            call.turn_count = event.index
            call.last_response_ms = event.response_ms
            call.add_line("visitor", event.transcript)
            call.add_line("concierge", event.reply.mensagem)
        elif isinstance(event, TurnFailed):
            call.add_line("system", f"error: {event.error}")
        elif isinstance(event, VisitStarted):
            call.visit = {"status": "calling", "since": _iso(event.at), "resident": event.facts.resident_name, "dialing": None, "decision": None}
            call.add_line("system", f"calling the resident {event.facts.resident_name}")
        elif isinstance(event, ResidentDialing) and call.visit is not None:
            call.visit.update(status="ringing", dialing=event.dial)
            call.add_line("system", f"ringing {event.dial}")
        elif isinstance(event, ResidentAnswered) and call.visit is not None:
            call.visit["status"] = "answered"
            call.add_line("system", "the resident answered")
        elif isinstance(event, ResidentTurnHeard):
            call.add_line("resident", event.heard if event.by != "silence" else "(silence)")
            call.add_line("concierge", event.reply)
        elif isinstance(event, VisitDecided):
            call.visit = {**(call.visit or {}), "status": "decided", "decision": event.decision, "via": event.by, "dialing": None}
            call.add_line("system", f"decision: {event.decision} ({event.reason})")
            if event.visitor_message:
                call.add_line("concierge", event.visitor_message)
        elif isinstance(event, CallEnded):
            del self._calls[event.call_id]

    def snapshot(self) -> list[dict[str, Any]]:
        """Every call in progress, oldest first, as JSON-ready dicts."""
        return [call.as_json() for call in sorted(self._calls.values(), key=lambda call: call.started_at)]

    def waiting_on_resident(self) -> int:
        """Calls whose visit waits on a resident's decision."""
        return sum(1 for call in self._calls.values() if call.visit is not None and call.visit["status"] != "decided")

    def get(self, call_id: str) -> dict[str, Any] | None:
        call = self._calls.get(call_id)
        return None if call is None else call.as_json()


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="milliseconds")
