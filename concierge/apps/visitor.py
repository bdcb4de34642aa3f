"""A truthful simulated visitor: how a scripted caller answers the concierge's read-backs and keypad requests.

Recorded and typed dialogs are scripts: the visitor's turns in order, written without knowing
when the concierge will stop to check what it heard. When the concierge reads facts back
("Apartamento 604, do Otávio Reis, certo?") or asks for the keypad, the simulated visitor
answers as a person who knows the truth would — "sim" when the read-back is right, "não" with
the right apartment when it is wrong, the apartment's digits on the keypad — and then goes on
with the script. `apoena simulate` and the dialog tests share this one policy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rapidfuzz import fuzz

from concierge.brain.names import same_name
from concierge.brain.reply import Dados
from concierge.brain.text import fold

KEYPAD = re.compile(r"\bdigite\b")
SLOTS = ("intent_type", "visitor_name", "apartment_number", "resident_name")
QUESTIONS = {  # what a question asks for -> the kind of answer, once the script has run out
    "block": re.compile(r"\bqual bloco\b"),
    "intent": re.compile(r"\bentrega ou (uma )?visita\b"),
    "name": re.compile(r"\bseu nome\b"),
    "where": re.compile(r"\bqual e o (numero do )?apartamento|\bpara qual apartamento|\bpara quem\b|\bquem voce veio visitar|\bnome do morador|\bconfirmar o apartamento"),
}
ANSWER_KINDS = ("yes", "no", *QUESTIONS)


@dataclass(frozen=True)
class Answer:
    """What the visitor does instead of the next scripted turn: say `text`, or key `digits`."""

    text: str = ""
    digits: str = ""
    kind: str = "yes"  # "yes" | "no" | "keypad"


def same_slot(slot: str, want: object, got: object) -> bool:
    """Whether a slot value is right. A visitor's name is right when a listener would hear it so:
    spelled as speech recognition spells it ('Pedro Enrique' for 'Pedro Henrique'), or with the
    same sounds ('Suely' for 'Sueli')."""
    if slot == "visitor_name" and isinstance(want, str) and isinstance(got, str):
        return fuzz.ratio(fold(want), fold(got)) >= 85 or same_name(want, got)
    return want == got


def asks_to_confirm(message: str) -> bool:
    """A read-back ends with "…, certo?"."""
    return message.rstrip().endswith("?") and fold(message).endswith("certo")


def asks_for_keypad(message: str) -> bool:
    return bool(KEYPAD.search(fold(message)))


def answer(
    message: str, dados: Dados, expected: dict, if_asked: dict | None = None, script_done: bool = False
) -> Answer | None:
    """The visitor's answer to a read-back or a keypad request; None when the script goes on.

    Once the script has run out (`script_done`), a question the visitor has an answer for in
    `if_asked` ("intent", "name", "block", "where": see `question_answers`) is answered too, as a
    person still at the gate would; dialogs without those keys end where their script ends."""
    if_asked = if_asked or {}
    apartment = expected.get("apartment_number")
    if asks_for_keypad(message) and apartment:
        digits = if_asked.get("keypad") or re.sub(r"\D", "", str(apartment))
        return Answer(digits=f"{digits}#", kind="keypad")
    if not asks_to_confirm(message):
        folded = fold(message)
        kind = next((kind for kind, asked in QUESTIONS.items() if asked.search(folded) and if_asked.get(kind)), None)
        return Answer(text=if_asked[kind], kind=kind) if script_done and kind else None
    got = dados.model_dump(mode="json")
    read_back = ("intent_type", "apartment_number", "resident_name")  # what "Entrega para R, no apartamento A, certo?" says
    wrong = [s for s in read_back if s in expected and got.get(s) is not None and not same_slot(s, expected[s], got[s])]
    kind = "no" if wrong or expected.get("valid_for_action") is False else "yes"  # a visit that must not happen is never confirmed
    return Answer(text=spoken_answers(expected, if_asked)[kind], kind=kind)


def spoken_answers(expected: dict, if_asked: dict | None = None) -> dict[str, str]:
    """What the visitor says to a read-back: {"yes": …, "no": …} (recorded calls render both)."""
    if_asked = if_asked or {}
    apartment = expected.get("apartment_number")
    correction = if_asked.get("confirm_no") or (f"Não, é o apartamento {apartment}." if apartment else "Não.")
    return {"yes": if_asked.get("confirm_yes") or "Sim.", "no": correction}


def question_answers(expected: dict) -> dict[str, str]:
    """What a truthful visitor says when asked again for what the script already said, in plain
    words: {"intent", "name", "block", "where"} for the facts `expected` holds. Only the visitor's
    own facts: a visit that must not happen gets no apartment-and-resident answer."""
    said: dict[str, str] = {}
    intent = expected.get("intent_type")
    if intent in ("entrega", "visita"):
        said["intent"] = "É uma entrega." if intent == "entrega" else "É uma visita."
    if expected.get("visitor_name"):
        said["name"] = f"Meu nome é {expected['visitor_name']}."
    apartment, resident = expected.get("apartment_number"), expected.get("resident_name")
    if expected.get("valid_for_action") and apartment and resident:
        block, _, number = str(apartment).rpartition("-")
        where = f"bloco {block}, apartamento {number}" if block else f"apartamento {number}"
        said["where"] = f"É para {resident}, {where}."
        if block:
            said["block"] = f"Bloco {block}."
    return said
