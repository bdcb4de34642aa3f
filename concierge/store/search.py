"""What the page and the API search call records by, as SQL both databases run alike.

`CallSearch` holds the filters (condominium, when the call started, apartment, a name, the
resident's decision, an ended outcome) and the page (`limit`, `offset`); `where()` turns them into
one WHERE clause over `calls` joined with `visits`, with `?` placeholders. Names are compared
folded (`fold`: lowercase, no accents, single spaces) against `calls.search_names`, which the
records keep folded the same way, so "otavio" finds "Otávio" in SQLite and PostgreSQL alike
(SQLite's own lower() knows only ASCII).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any


def fold(text: str) -> str:
    """`text` as search compares it: lowercase, accents off ("Otávio  Reis" -> "otavio reis")."""
    decomposed = unicodedata.normalize("NFKD", text)
    return " ".join("".join(char for char in decomposed if not unicodedata.combining(char)).casefold().split())


def search_names(*names: str | None) -> str:
    """The `calls.search_names` value for these names: each folded, one a line."""
    return "\n".join(fold(name) for name in names if name and fold(name))


def apartment_key(apartment: str | None) -> str:
    """An apartment as stored and searched: its letters and digits, uppercase ("ap. 104-b" -> "104B")."""
    text = (apartment or "").upper()
    for prefix in ("APARTAMENTO", "APTO", "AP"):
        if text.lstrip().startswith(prefix):
            text = text.lstrip()[len(prefix) :]
            break
    return "".join(char for char in text if char.isalnum())


@dataclass(frozen=True)
class CallSearch:
    """Filters and a page of call records; None (or "") means "any"."""

    limit: int = 20
    offset: int = 0
    since: float | None = None  # started at or after (Unix seconds)
    until: float | None = None  # started before
    ended_since: float | None = None  # ended at or after (Unix seconds): ended calls only
    outcome: str | None = None  # an ended call's outcome (the caller tells live from interrupted)
    condominium: str | None = None
    apartment: str | None = None
    name: str | None = None  # part of the visitor's or the resident's name
    decision: str | None = None  # the resident's decision

    def where(self) -> tuple[str, list[Any]]:
        """The WHERE clause (over `calls` LEFT JOIN `visits`) and its parameters; `outcome` here
        means an ended outcome: ask for `calls.outcome IS NULL` yourself for live or interrupted calls."""
        clauses: list[str] = ["1 = 1"]
        params: list[Any] = []
        if self.since is not None:
            clauses.append("calls.started_at >= ?")
            params.append(self.since)
        if self.until is not None:
            clauses.append("calls.started_at < ?")
            params.append(self.until)
        if self.ended_since is not None:
            clauses.append("calls.ended_at >= ?")
            params.append(self.ended_since)
        if self.condominium:
            clauses.append("calls.condominium = ?")
            params.append(self.condominium)
        if self.outcome:
            clauses.append("calls.outcome = ?")
            params.append(self.outcome)
        if self.apartment and apartment_key(self.apartment):
            clauses.append("calls.apartment = ?")
            params.append(apartment_key(self.apartment))
        if self.name and fold(self.name):
            clauses.append("calls.search_names LIKE ? ESCAPE '\\'")
            params.append(f"%{_like_escaped(fold(self.name))}%")
        if self.decision:
            clauses.append("visits.decision = ?")
            params.append(self.decision)
        return " AND ".join(clauses), params


def _like_escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
