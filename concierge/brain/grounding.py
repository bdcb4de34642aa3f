"""Hold what a language model proposes to what the visitor really said and to the directory.

A model may only point at things the visitor said: a visitor name made of words the visitor
spoke, an apartment number the visitor spoke (as any reading of their words gives it), a
resident the visitor named — taken in the visitor's own words, so an ambiguous "Maria" stays
ambiguous however sure the model is. What it cannot point at is dropped. Also here: the slots
schema the model must follow, and the directory facts a turn's prompt carries. Pure functions;
no model, no CrewAI. Whether a grounded slot is then used at all is the CrewAI brain's rule
(`concierge.brain.crew`): it may fill a gap or break a tie, never overturn the rules reading.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from concierge.brain import numbers
from concierge.brain.directory import PARTICLES, Directory, Resident, tokens_match
from concierge.brain.reply import Dados, Intent
from concierge.brain.text import fold, title_name
from concierge.brain.understand import (
    NOT_NAMES, ApartmentHeard, Understanding, Word, apartment_readings, split_words, understand,
)  # fmt: skip

# Words a model writes when it fills a slot from a prompt's example instead of from the visitor.
PLACEHOLDERS = frozenset(
    "fulano fulana cicrano cicrana ciclano ciclana sicrano sicrana beltrano beltrana doe exemplo example "
    "placeholder xxx null none nulo nula undefined desconhecido desconhecida".split()
)


class ModelSlots(BaseModel):
    """The four slots as a model proposes them: checked by the functions below, never trusted.
    A reply in the seed's shape (`{"mensagem": …, "dados": {…}}`) is read for its `dados`; any
    other key (a sentence, `valid_for_action`, …) is ignored."""

    intent_type: Literal["visita", "entrega", "desconhecido"] = Field(
        "desconhecido", description="entrega: brings something; visita: comes to see someone"
    )
    visitor_name: str | None = Field(None, description="the visitor's name, as the visitor said it")
    apartment_number: str | int | None = Field(None, description="the apartment number the visitor said")
    resident_name: str | None = Field(None, description="the resident's name, as in the directory")

    @model_validator(mode="before")
    @classmethod
    def _unwrap_dados(cls, value: Any) -> Any:
        if isinstance(value, dict) and isinstance(value.get("dados"), dict):
            return value["dados"]
        return value


class ModelAnswer(ModelSlots):
    """The schema a model's raw answer is checked against before it is read as `ModelSlots`:
    the slots, or the seed's shape with them under `dados` (a schema checker keeps only the keys
    its schema names)."""

    dados: dict[str, Any] | None = None


@dataclass(frozen=True)
class SaidLine:
    """One visitor line split into words (numbers in words made digits), as `understand` reads it."""

    text: str
    words: tuple[Word, ...]

    @property
    def folded(self) -> list[str]:
        return [word.folded for word in self.words]


@dataclass(frozen=True)
class Said:
    """Everything the visitor said in this conversation; the current line is the last."""

    lines: tuple[SaidLine, ...]

    @property
    def now(self) -> SaidLine:
        return self.lines[-1]

    def numbers(self, lines: tuple[SaidLine, ...] | None = None) -> set[str]:
        """Numbers spoken, as apartment numbers are written: every reading the number reader
        gives ('300 de 16' -> 316, 300, 16) and the words made digits ('cento e quatro' -> 104)."""
        found = set()
        for line in self.lines if lines is None else lines:
            found |= {reading.number.upper() for reading in apartment_readings(line.text)}
            found |= {
                (word.folded.lstrip("0") or "0").upper() if word.folded.isdigit() else word.folded.upper()
                for word in line.words
                if any(ch.isdigit() for ch in word.folded)
            }
        return found

    def blocks(self, lines: tuple[SaidLine, ...] | None = None) -> set[str]:
        """Block or tower labels spoken ('bloco B' -> 'B')."""
        scope = self.lines if lines is None else lines
        return {label for line in scope for label, _ in numbers.blocks(numbers.tokens(line.text))}


@dataclass(frozen=True)
class Proposal:
    """The slot values a model proposed that survive grounding; `None` = nothing usable for that slot.
    `resident` is in the visitor's own words; `apartment` is a reading of a number they said."""

    intent: Intent | None = None
    visitor_name: str | None = None
    apartment: ApartmentHeard | None = None
    resident: str | None = None

    def as_reading(self, directory: Directory) -> Understanding:
        """The proposal's apartment and resident as one more reading of the turn, the shape the
        rules brain takes the recogniser's other readings in (they count only where the directory
        backs them, lose to the turn's own reading, and are read back to the visitor)."""
        reading = Understanding(apartments=[self.apartment] if self.apartment else [])
        if self.resident:
            words = fold(self.resident).split()
            mentions = [m for m in directory.scan(words, fuzzy=True) if m.start == 0 and m.end == len(words)]
            if mentions:
                reading.resident, reading.resident_mentions = self.resident, mentions
        return reading


def hear(texts: list[str]) -> Said:
    return Said(tuple(SaidLine(text, tuple(split_words(text))) for text in texts))


def ground(
    proposed: ModelSlots,
    said: Said,
    known: Dados,
    claims: tuple[str | None, str | None],
    directory: Directory,
    asked: list[str] | tuple[str, ...] = (),
) -> Proposal:
    """Keep only the proposed slots the visitor's words support. `claims` is the apartment and
    resident the visitor named before; a change to something known must be said in the current line."""
    apartment_claim, resident_claim = claims
    apartment = ground_apartment(proposed.apartment_number, said, (known.apartment_number, apartment_claim))
    return Proposal(
        intent=ground_intent(proposed.intent_type, said, known.intent_type),
        visitor_name=ground_visitor(proposed.visitor_name, said, known.visitor_name, directory, asked),
        apartment=apartment,
        resident=ground_resident(
            proposed.resident_name, said, known.resident_name, resident_claim, directory,
            (apartment.number if apartment else None) or known.apartment_number or apartment_claim, asked,
        ),
    )  # fmt: skip


def ground_intent(proposed: str, said: Said, known: Intent) -> Intent | None:
    """A first intent the model read from the visitor's words. Changing a known one takes the
    visitor's own cue words (`understand`), so a model alone never turns a delivery into a visit."""
    intent = Intent(proposed)
    if intent == Intent.DESCONHECIDO or known != Intent.DESCONHECIDO:
        return None
    has_content = any(word.isalpha() and word not in NOT_NAMES for line in said.lines for word in line.folded)
    return intent if has_content else None


def ground_visitor(
    proposed: str | None, said: Said, known: str | None, directory: Directory, asked: list[str] | tuple[str, ...]
) -> str | None:
    """The visitor's name, if every word of it was spoken, it is not a placeholder or a common
    word, and — when it is a resident's name — the visitor said it as their own."""
    name = tidy_name(proposed)
    if name is None or (known is not None and fold(name) == fold(known)):
        return None
    scope = said.lines if known is None else (said.now,)
    if not spoken(name, scope) or all(word in NOT_NAMES for word in fold(name).split()):
        return None
    if directory.find(name) and not _introduced_as_visitor(name, said, directory, asked):
        return None
    return title_name(name)


def ground_apartment(value: str | int | None, said: Said, known: tuple[str | None, str | None]) -> ApartmentHeard | None:
    """A reading of an apartment number the visitor spoke (a new claim must be in the current
    line), weighed as the visitor's own words were; its block counts only if the visitor said it."""
    proposed = model_apartment(value)
    if proposed is None:
        return None
    scope = (said.now,) if any(k is not None for k in known) else said.lines
    if proposed.number not in said.numbers(scope):
        return None
    block = proposed.block if proposed.block in said.blocks() else None
    if any(k is not None and _number_part(k) == proposed.number and (block is None or k.upper().startswith(block)) for k in known):
        return None
    priors = [h.prior for line in scope for h in apartment_readings(line.text) if h.number.upper() == proposed.number]
    return ApartmentHeard(proposed.number, block, max(priors, default=0.5), True, False, 0)


def ground_resident(
    proposed: str | None,
    said: Said,
    known: str | None,
    claim: str | None,
    directory: Directory,
    apartment: str | None,
    asked: list[str] | tuple[str, ...],
) -> str | None:
    """The visitor's own words that name the resident the model means ('Joana' for 'Joana Prado'),
    so the directory, not the model, decides who that is; where the visitor named them more than
    one way, the words that name them alone ('Farias' after 'Luciana…'). A name not in the
    directory counts only if the visitor said it (so the concierge can say it was not found)."""
    name = tidy_name(proposed)
    if name is None or _is_placeholder(name) or (known is not None and fold(name) == fold(known)):
        return None
    meant = set(directory.find(name, apartment) or directory.find(name))
    if known is not None and meant == {r for r in directory.residents if r.name == known}:
        return None
    scope = said.lines if claim is None else (said.now,)
    found = [
        words
        for line in reversed(scope)
        for words in _resident_words(line, meant, directory, asked if line is said.now else ())
    ]
    if found:
        return min(found, key=lambda words: len(directory.find(words, apartment) or directory.find(words)) or 99)
    return name if not meant and spoken(name, scope) and fold(name) != fold(claim or "") else None


def model_apartment(value: str | int | None) -> ApartmentHeard | None:
    """The apartment a model wrote: '104', 104, 'apto 104', 'cento e quatro', 'B-1204'."""
    if value is None or isinstance(value, bool):
        return None
    text = str(value).strip()
    if not text or len(text) > 40:
        return None
    keyed = re.fullmatch(r"([A-Za-z0-9]{1,3})-(\d{1,5})", text)
    if keyed:
        return ApartmentHeard(keyed.group(2).lstrip("0") or "0", keyed.group(1).upper(), 1.0, True, False, 0)
    readings = apartment_readings(text)
    if not readings:
        return None
    best = readings[0]
    said_blocks = numbers.blocks(numbers.tokens(text))
    block = best.block or (said_blocks[0][0] if said_blocks else None)
    return ApartmentHeard(best.number.upper(), block.upper() if block else None, best.prior, True, False, 0)


def _number_part(key: str) -> str:
    return key.upper().rsplit("-", 1)[-1].lstrip("0") or "0"


def tidy_name(value: str | None) -> str | None:
    """A name as a model wrote it, without punctuation; None when it is not a short name."""
    if not value:
        return None
    words = re.sub(r"[^\w\s'-]", " ", value).split()
    if not words or len(words) > 6 or sum(map(len, words)) > 60 or any(ch.isdigit() for ch in "".join(words)):
        return None
    return " ".join(words)


def spoken(name: str, lines: tuple[SaidLine, ...]) -> bool:
    """Whether every word of `name` (particles aside) was said, allowing speech-recognition slips."""
    wanted = [word for word in fold(name).split() if word not in PARTICLES]
    heard = {word for line in lines for word in line.folded}
    return bool(wanted) and not _is_placeholder(name) and all(any(tokens_match(h, w) for h in heard) for w in wanted)


def _is_placeholder(name: str) -> bool:
    return any(word in PLACEHOLDERS for word in fold(name).split())


def _introduced_as_visitor(name: str, said: Said, directory: Directory, asked: list[str] | tuple[str, ...]) -> bool:
    wanted = set(fold(name).split()) - PARTICLES
    for line in said.lines:
        own = understand(line.text, directory, asked if line is said.now else ()).visitor_name
        if own and wanted <= set(fold(own).split()):
            return True
    return False


def _resident_words(
    line: SaidLine, meant: set[Resident], directory: Directory, asked: list[str] | tuple[str, ...]
) -> list[str]:
    """Where the visitor named one of `meant` in `line` (not as their own name), in their words."""
    folded = line.folded
    mentions = [
        m for m in directory.scan(folded, fuzzy=True) if m.resident in meant and folded[m.start] not in NOT_NAMES
    ]
    if not mentions:
        return []
    own_name = understand(line.text, directory, asked).visitor_name
    own = set(fold(own_name).split()) if own_name else set()
    return [
        " ".join(word.text for word in line.words[mention.start : mention.end])
        for mention in sorted(mentions, key=lambda m: m.rank, reverse=True)
        if not set(folded[mention.start : mention.end]) <= own
    ]


# -- directory facts for the prompt -----------------------------------------


def facts(said: Said, dados: Dados, directory: Directory, limit: int = 8) -> list[str]:
    """What the directory says about the apartments and residents the visitor mentioned."""
    apartments: list[str] = []
    missing: list[str] = []
    for number in sorted(said.numbers()):
        keys = directory.apartments_numbered(number)
        if keys:
            apartments += keys
        elif 2 <= len(number) <= 5:
            missing.append(f"Não existe apartamento {number} no condomínio.")
    for line in said.lines:
        folded = line.folded
        for mention in directory.scan(folded, fuzzy=True):
            if folded[mention.start] not in NOT_NAMES:
                apartments.append(mention.resident.apartment)
    if dados.apartment_number:
        apartments.append(dados.apartment_number)
    unique = list(dict.fromkeys(apartments))[:limit]
    lines = [describe_apartment(number, directory) for number in unique] + missing[:2]
    return lines or ["O visitante ainda não citou nenhum morador nem apartamento do cadastro."]


def describe_apartment(number: str, directory: Directory) -> str:
    residents = directory.residents_of(number)
    if not residents:
        return f"Não existe apartamento {number} no condomínio."
    return f"Apartamento {number.upper()}: {', '.join(r.name for r in residents)}."
