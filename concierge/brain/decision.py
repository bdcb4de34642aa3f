"""A resident's answer to "Posso liberar?", in pt-BR words or keypad digits: one `Answer`.

The words live in `data/decision.json` by class (authorize, deny, leave_at_gate,
resident_coming, question, voicemail), kept apart from the visitor's lexicon because a resident
answers a different question with different words. Reading is small and generic:

- a mailbox's greeting or the carrier's message ("deixe sua mensagem após o sinal", "fora da área
  de cobertura") is no person's answer: a voicemail phrase anywhere makes the whole of it
  `VOICEMAIL`, whatever else it says ("no momento não posso atender" is no refusal);
- the answer is cut into clauses (punctuation, "mas"); in each, phrases of every class match
  as whole words, longest first ("pode mandar embora" is a refusal, "pode repetir" a question);
- a negator up to three words before a yes, or a trailing "não" right after it ("pode subir
  não"), makes it a no; a negator that negates nothing is itself a no. Negation always wins;
- the most specific outcome decides: leave at the gate, then resident coming down; a yes and a
  no together are asked again (never taken as a yes); then yes or no; then a question.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from pathlib import Path

from concierge.brain.text import fold

DECISION_FILE = Path(__file__).with_name("data") / "decision.json"
NEGATION_REACH = 3
"""How many words before a yes a negator still reaches: 'não é pra liberar'."""
_CLAUSE_BREAK = re.compile(r"[,.;:!?…]+|\s(?:mas|porem|porém)\s", re.IGNORECASE)


class Answer(StrEnum):
    """What the resident meant."""

    AUTHORIZE = "authorize"
    DENY = "deny"
    LEAVE_AT_GATE = "leave_at_gate"
    RESIDENT_COMING = "resident_coming"
    QUESTION = "question"
    VOICEMAIL = "voicemail"  # a mailbox or the carrier answered, not a person
    UNCLEAR = "unclear"


KEYPAD = {"1": Answer.AUTHORIZE, "2": Answer.DENY}
"""The digits the prompt offers: "tecle 1 para sim e 2 para não"."""

_CLASSES = ("authorize", "deny", "leave_at_gate", "resident_coming", "question")


@dataclass(frozen=True)
class _Match:
    kind: str
    start: int
    end: int


@cache
def _data() -> dict:
    return json.loads(DECISION_FILE.read_text(encoding="utf-8"))


@cache
def _phrases() -> tuple[tuple[tuple[str, ...], str], ...]:
    """Every phrase of every class as folded words, longest first."""
    phrases = {tuple(fold(p).split()): kind for kind in _CLASSES for p in _data()[kind]}
    return tuple(sorted(phrases.items(), key=lambda item: len(item[0]), reverse=True))


@cache
def _voicemail_phrases() -> tuple[tuple[str, ...], ...]:
    return tuple(tuple(fold(p).split()) for p in _data()["voicemail"])


@cache
def _negators() -> frozenset[str]:
    return frozenset(fold(w) for w in _data()["negators"])


def read_keypad(digit: str) -> Answer:
    """A DTMF digit: 1 is yes, 2 is no, anything else is not understood."""
    return KEYPAD.get(digit, Answer.UNCLEAR)


def read_answer(text: str) -> Answer:
    """What a resident's spoken (transcribed) answer means."""
    if is_voicemail(text):
        return Answer.VOICEMAIL
    signals: set[Answer] = set()
    for clause in _CLAUSE_BREAK.split(text):
        signals |= _clause_signals(fold(clause).split())
    for answer in (Answer.LEAVE_AT_GATE, Answer.RESIDENT_COMING):
        if answer in signals:
            return answer
    if {Answer.AUTHORIZE, Answer.DENY} <= signals:
        return Answer.UNCLEAR
    for answer in (Answer.DENY, Answer.AUTHORIZE, Answer.QUESTION):
        if answer in signals:
            return answer
    return Answer.UNCLEAR


def is_voicemail(text: str) -> bool:
    """Whether `text` holds a phrase only a mailbox or a carrier's recording says."""
    words = fold(text).split()
    return any(
        tuple(words[start : start + len(phrase)]) == phrase
        for phrase in _voicemail_phrases()
        for start in range(len(words) - len(phrase) + 1)
    )


def _clause_signals(words: list[str]) -> set[Answer]:
    if not words:
        return set()
    digit = _keypad_digit(words)
    if digit:
        return {read_keypad(digit)}
    matches = _matches(words)
    covered = {i for m in matches if m.kind != "deny" for i in range(m.start, m.end)}
    negators = [i for i, w in enumerate(words) if w in _negators() and i not in covered]
    used: set[int] = {i for m in matches if m.kind == "deny" for i in range(m.start, m.end)}
    signals: set[Answer] = set()
    for match in matches:
        negated_by = _negator_of(match, words, negators)
        if negated_by is not None:
            used.add(negated_by)
            if match.kind == "authorize":
                signals.add(Answer.DENY)
            continue  # a negated delivery or coming-down wish says nothing either way
        signals.add(Answer(match.kind))
    if any(i not in used for i in negators):
        signals.add(Answer.DENY)
    return signals


def _keypad_digit(words: list[str]) -> str | None:
    """'1', 'um', 'tecla um' -> '1': a clause that is only a keypad digit, said aloud."""
    keypad = {fold(w) for w in _data()["keypad"]}
    rest = [w for w in words if w not in keypad]
    return _data()["keypad_digits"].get(rest[0]) if len(rest) == 1 else None


def _matches(words: list[str]) -> list[_Match]:
    """Non-overlapping phrase matches, longest phrase first at each position."""
    matches: list[_Match] = []
    taken: set[int] = set()
    for phrase, kind in _phrases():
        size = len(phrase)
        for start in range(len(words) - size + 1):
            span = range(start, start + size)
            if tuple(words[start : start + size]) == phrase and not taken.intersection(span):
                matches.append(_Match(kind, start, start + size))
                taken.update(span)
    return sorted(matches, key=lambda m: m.start)


def _negator_of(match: _Match, words: list[str], negators: list[int]) -> int | None:
    """The negator that turns this match around: shortly before it, or a 'não' right after it ending the clause."""
    if match.kind in ("deny", "question"):
        return None
    before = [i for i in negators if match.start - NEGATION_REACH <= i < match.start]
    if before:
        return before[-1]
    after = match.end
    if after == len(words) - 1 and after in negators:
        return after
    return None
