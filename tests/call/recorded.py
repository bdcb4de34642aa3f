"""Events of made-up calls to feed call records with, without running a call (shared by the
records tests and the processes they start as other nodes)."""

from __future__ import annotations

import uuid
from pathlib import Path

from concierge.brain.reply import Dados, Intent, Reply
from concierge.call.events import CallEnded, CallStarted, Outcome, Turn, VisitorNameHeard
from concierge.config import CallState

ROOT = Path(__file__).resolve().parent.parent.parent


def reply(mensagem: str = "Qual é o seu nome?", **dados: str) -> Reply:
    return Reply(mensagem=mensagem, dados=Dados(**dados), valid_for_action=False, set_call_status=CallState.USER_TURN)


def play_call(records, started: float, outcome: Outcome | None = Outcome.COMPLETED, turns: int = 1) -> str:
    """Feed the events of one finished call (or one still open, with outcome None) to the records."""
    call_id = str(uuid.uuid4())
    records.observer(CallStarted(call_id, call_id, at=started))
    for index in range(1, turns + 1):
        records.observer(Turn(call_id, index, "speech", f"fala {index}", reply(intent_type=Intent.ENTREGA), 300, 1, 50, 400.0 + index))
    if outcome is not None:
        records.observer(CallEnded(call_id, outcome, "test", at=started + 20))
    return call_id


def name_heard(call_id: str, turn: int, name: str, seconds: float = 1.5) -> VisitorNameHeard:
    pcm = (bytes(range(256)) * (int(seconds * 16000) // 256 + 1))[: int(seconds * 16000)]
    return VisitorNameHeard(call_id, turn, name, pcm)
