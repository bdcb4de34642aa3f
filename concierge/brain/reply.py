"""The reply contract (the seed's): what the concierge says, the slots it knows, and what may happen next."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from concierge.config import CallState


class Intent(StrEnum):
    VISITA = "visita"
    ENTREGA = "entrega"
    DESCONHECIDO = "desconhecido"


class Dados(BaseModel):
    """The four slots the concierge fills from the conversation."""

    model_config = ConfigDict(extra="forbid")

    intent_type: Intent = Intent.DESCONHECIDO
    visitor_name: str | None = None
    apartment_number: str | None = None
    resident_name: str | None = None

    def missing(self) -> list[str]:
        """Names of the slots still empty, in the order the concierge asks for them."""
        empty = []
        if self.intent_type == Intent.DESCONHECIDO:
            empty.append("intent_type")
        if self.resident_name is None:
            empty.append("resident_name")
        if self.apartment_number is None:
            empty.append("apartment_number")
        if self.visitor_name is None:
            empty.append("visitor_name")
        return empty


class Reply(BaseModel):
    """One concierge turn: `mensagem` is spoken to the visitor; the rest drives the call."""

    model_config = ConfigDict(extra="forbid")

    mensagem: str = Field(min_length=1)
    dados: Dados
    valid_for_action: bool
    set_call_status: CallState
