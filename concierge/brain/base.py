"""The `Brain` protocol every concierge implements, and the one place `valid_for_action` is decided."""

from __future__ import annotations

from typing import Protocol

from concierge.brain.directory import Directory
from concierge.brain.memory import Conversation
from concierge.brain.reply import Dados, Intent, Reply
from concierge.config import CallState


class Brain(Protocol):
    """Decides what the concierge says next. Updates `conversation.dados` and its notes in place."""

    name: str

    def respond(self, conversation: Conversation, utterance: str, alternatives: tuple[str, ...] = ()) -> Reply:
        """Answer `utterance`; `alternatives` are other readings of the same audio (speech N-best)."""
        ...


def is_complete(dados: Dados, directory: Directory) -> bool:
    """All four slots filled, and the resident really lives in that apartment."""
    return (
        dados.intent_type != Intent.DESCONHECIDO
        and bool(dados.visitor_name)
        and directory.lives_in(dados.resident_name, dados.apartment_number)
    )


def decide(mensagem: str, dados: Dados, directory: Directory, settled: bool = True) -> Reply:
    """The reply with `valid_for_action` and `set_call_status` computed by code, never by a model.
    `settled`: nothing heard is still waiting to be read back to the visitor."""
    valid = settled and is_complete(dados, directory)
    return Reply(
        mensagem=mensagem,
        dados=dados.model_copy(),
        valid_for_action=valid,
        set_call_status=CallState.WAITING if valid else CallState.USER_TURN,
    )
