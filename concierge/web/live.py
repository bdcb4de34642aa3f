"""The calls in progress, kept from the call observer: state, conversation id and the transcript as
the seed's debug page showed it (visitor, concierge and system lines), each tagged with its node.

By default only this process's calls, in memory. With a shared Redis (`REDIS_URL`), each call is
also posted to a `LiveBoard` (`concierge.store.live`), so the page of any node shows every live
call of the central, and a dead node's calls leave the page by themselves (TTL + heartbeat).
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from concierge.call.events import CallEnded, CallEvent, CallStarted, DtmfReceived, StateChanged, Turn, TurnFailed
from concierge.call.visit import ResidentAnswered, ResidentDialing, ResidentTurnHeard, VisitDecided, VisitStarted
from concierge.store.live import LiveBoard, default_node

MAX_LINES_PER_CALL = 500  # a call is capped at max_transaction_time_seconds anyway; this bounds memory


@dataclass
class LiveCall:
    call_id: str
    conversation_id: str
    started_at: float
    node: str
    condominium: str = "default"
    state: str = "STANDBY"
    turn_count: int = 0
    last_response_ms: float | None = None
    lines: deque[dict[str, str]] = field(default_factory=lambda: deque(maxlen=MAX_LINES_PER_CALL))
    visit: dict[str, Any] | None = None  # waiting on a resident: status (calling, ringing, answered, decided), dialing, decision
    slots: dict[str, Any] | None = None  # the last reply's dados: intent_type, visitor_name, apartment_number, resident_name
    valid_for_action: bool = False  # the last reply's: the facts check out against the directory

    def add_line(self, role: str, text: str, event: str | None = None, **values: str) -> None:
        """A transcript line; a system line also names its `event` and `values`, so the page can say it in its own language."""
        line: dict[str, Any] = {"role": role, "text": text, "at": _iso(time.time())}
        if event is not None:
            line.update(event=event, values=values)
        self.lines.append(line)

    def as_json(self) -> dict[str, Any]:
        return {
            "call_id": self.call_id,
            "conversation_id": self.conversation_id,
            "node": self.node,
            "condominium": self.condominium,
            "started_at": _iso(self.started_at),
            "state": self.state,
            "turn_count": self.turn_count,
            "last_response_ms": None if self.last_response_ms is None else round(self.last_response_ms, 1),
            "lines": list(self.lines),
            "visit": self.visit,
            "slots": self.slots,
            "valid_for_action": self.valid_for_action,
        }


class LiveCalls:
    """Give `observer` to the call sessions; read `snapshot()` / `get()` on the same event loop
    (they answer from memory, also with a board: they never wait on the network)."""

    def __init__(self, greeting: str | None = None, node: str | None = None, board: LiveBoard | None = None) -> None:
        self.greeting = greeting
        self.board = board
        self.node = board.node if board is not None else node or default_node()
        self._calls: dict[str, LiveCall] = {}

    def __len__(self) -> int:
        """Calls in progress on this node."""
        return len(self._calls)

    def count_here(self, condominium: str | None = None) -> int:
        """Calls in progress on this node, of one condominium if given."""
        return sum(1 for call in self._calls.values() if condominium is None or call.condominium == condominium)

    def observer(self, event: CallEvent) -> None:
        if isinstance(event, CallStarted):
            call = self._calls[event.call_id] = LiveCall(event.call_id, event.conversation_id, event.at, self.node, event.condominium)
            greeting = event.greeting or self.greeting  # the condominium's own, as the caller heard it
            if greeting:
                call.add_line("concierge", greeting)
            self._post(call)
            return
        call = self._calls.get(event.call_id)
        if call is None:
            return
        if isinstance(event, CallEnded):
            del self._calls[event.call_id]
            if self.board is not None:
                self.board.remove(event.call_id)
            return
        if isinstance(event, StateChanged):
            call.state = event.state.value
        elif isinstance(event, DtmfReceived):
            call.add_line("system", f"keypad: {event.digit}", "keypad", digit=event.digit)
        elif isinstance(event, Turn):
            call.turn_count = event.index
            call.last_response_ms = event.response_ms
            call.add_line("visitor", event.transcript)
            call.add_line("concierge", event.reply.mensagem)
            call.slots = event.reply.dados.model_dump(mode="json")
            call.valid_for_action = event.reply.valid_for_action
        elif isinstance(event, TurnFailed):
            call.add_line("system", f"error: {event.error}", "error", error=event.error)
        elif isinstance(event, VisitStarted):
            call.visit = {"status": "calling", "since": _iso(event.at), "resident": event.facts.resident_name, "dialing": None, "decision": None}
            call.add_line("system", f"calling the resident {event.facts.resident_name}", "calling", resident=event.facts.resident_name)
        elif isinstance(event, ResidentDialing) and call.visit is not None:
            call.visit.update(status="ringing", dialing=event.dial)
            call.add_line("system", f"ringing {event.dial}", "ringing", dial=event.dial)
        elif isinstance(event, ResidentAnswered) and call.visit is not None:
            call.visit["status"] = "answered"
            call.add_line("system", "the resident answered", "answered")
        elif isinstance(event, ResidentTurnHeard):
            call.add_line("resident", event.heard if event.by != "silence" else "(silence)")
            call.add_line("concierge", event.reply)
        elif isinstance(event, VisitDecided):
            call.visit = {**(call.visit or {}), "status": "decided", "decision": event.decision, "via": event.by, "dialing": None}
            call.add_line("system", f"decision: {event.decision} ({event.reason})", "decided", decision=event.decision, reason=event.reason)
            if event.visitor_message:
                call.add_line("concierge", event.visitor_message)
        else:
            return
        self._post(call)

    def _post(self, call: LiveCall) -> None:
        if self.board is not None:
            self.board.put(call.call_id, call.as_json())

    def snapshot(self) -> list[dict[str, Any]]:
        """Every call in progress (of the whole central, with a board), oldest first, as JSON-ready dicts."""
        calls = self.board.entries() if self.board is not None else [call.as_json() for call in self._calls.values()]
        return sorted(calls, key=lambda call: call["started_at"])

    def waiting_on_resident(self, condominium: str | None = None) -> int:
        """Calls whose visit waits on a resident's decision (of the whole central, with a board; of one condominium if given)."""
        return sum(
            1 for call in self.snapshot()
            if call["visit"] is not None and call["visit"]["status"] != "decided" and condominium in (None, call.get("condominium", "default"))
        )  # fmt: skip

    def get(self, call_id: str) -> dict[str, Any] | None:
        if self.board is not None:
            return self.board.get(call_id)
        call = self._calls.get(call_id)
        return None if call is None else call.as_json()

    def close(self) -> None:
        """Take this node's calls off the shared board."""
        if self.board is not None:
            self.board.close()


def open_live_calls(greeting: str | None, redis_url: str | None, node: str | None = None) -> LiveCalls:
    """In-process live calls, or (with `redis_url`) shared through that Redis; an unreachable Redis
    is one clear line (LiveStateUnavailable, exit code 2)."""
    if not redis_url:
        return LiveCalls(greeting, node)
    return LiveCalls(greeting, board=LiveBoard(redis_url, node).start())


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="milliseconds")
