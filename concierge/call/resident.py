"""The resident leg's dialog as a pure state machine: what to say, the resident's turns, one decision.

No I/O and no audio: the caller (the visit orchestration) plays the prompts it gets back —
`Say` is text to synthesize, `PlayVisitorName` is the visitor's own recorded voice saying their
name — and feeds in what the resident did: `hear(text)`, `press(digit)`, `silence()`,
`hung_up()`, or `unreachable()` when the call never connected. Once `done`, `decision` is one of
`Decision` and `visitor_message` is what to tell the visitor. Only a resident's yes is
`AUTHORIZED`; anything unclear ends without entry.

A mailbox or the carrier's recording is no resident: words only they say, or a monologue heard
before anything the resident said was understood (`hear(text, monologue=True)`: one unbroken stretch of
speech that never paused for the question), end the leg at once with `voicemail` set, nothing
said into it, so the visit can try the next dial string.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from concierge.brain.decision import Answer, read_answer, read_keypad
from concierge.brain.reply import Intent
from concierge.brain.rules import resident_article

DEFAULT_CONDOMINIUM = "Condomínio Apoena"
ASK = "Posso liberar? Diga sim ou não, ou tecle 1 para sim e 2 para não."
ASK_AGAIN = "Desculpe, não entendi. " + ASK
MAX_UNCLEAR = 2
"""Not understood twice (the question is asked again once): the leg ends without entry."""
MAX_QUESTIONS = 2
"""The facts are repeated this many times; further questions count as not understood."""


class Decision(StrEnum):
    AUTHORIZED = "authorized"
    DENIED = "denied"
    LEAVE_AT_GATE = "leave_at_gate"
    RESIDENT_COMING = "resident_coming"
    NO_ANSWER = "no_answer"


@dataclass(frozen=True)
class Say:
    text: str


@dataclass(frozen=True)
class PlayVisitorName:
    """Play the visitor's own recording of their name."""


Prompt = Say | PlayVisitorName


@dataclass(frozen=True)
class ResidentTurn:
    """One thing the resident did, and how it was read: for the records and the page."""

    by: Literal["voice", "keypad", "silence"]
    heard: str
    answer: Answer


@dataclass(frozen=True)
class VisitFacts:
    """What the visitor leg established (the directory vouched for resident and apartment)."""

    intent: Intent
    visitor_name: str
    resident_name: str
    apartment: str
    visitor_name_audio: bool = False
    company: str | None = None


_BY_ANSWER = {
    Answer.AUTHORIZE: Decision.AUTHORIZED,
    Answer.DENY: Decision.DENIED,
    Answer.LEAVE_AT_GATE: Decision.LEAVE_AT_GATE,
    Answer.RESIDENT_COMING: Decision.RESIDENT_COMING,
}
_TO_RESIDENT = {
    Decision.AUTHORIZED: "Certo, vou liberar a entrada. Obrigado!",
    Decision.DENIED: "Certo, a entrada não será liberada. Obrigado!",
    Decision.LEAVE_AT_GATE: "Certo, vou pedir para deixar na portaria. Obrigado!",
    Decision.RESIDENT_COMING: "Certo, vou pedir para aguardar. Obrigado!",
    Decision.NO_ANSWER: "Não consegui entender. A entrada não será liberada. Obrigado!",
}


class ResidentDialog:
    """One resident's leg of a visit, from the opening line to a decision."""

    def __init__(self, facts: VisitFacts, condominium: str = DEFAULT_CONDOMINIUM) -> None:
        self.facts = facts
        self.condominium = condominium
        self.decision: Decision | None = None
        self.by: Literal["voice", "keypad"] | None = None
        self.voicemail = False  # a mailbox or the carrier answered: nobody was asked
        self.resident_hung_up = False  # the line closed before a decision
        self.turns: list[ResidentTurn] = []
        self._unclear = 0
        self._questions = 0

    @property
    def done(self) -> bool:
        return self.decision is not None

    def start(self) -> tuple[Prompt, ...]:
        """The opening: who is at the gate, their recorded name, the question."""
        return (Say(f"Olá, aqui é a portaria do {self.condominium}. {self._facts_line()}"), *self._name_and_ask())

    def hear(self, text: str, monologue: bool = False) -> tuple[Prompt, ...]:
        """The resident spoke (a transcript); returns what to say next. `monologue`: it was one long
        unbroken stretch of speech; before any answer, that is a recording talking, not a person."""
        answer = read_answer(text)
        if monologue and not self._answered():
            answer = Answer.VOICEMAIL
        return self._answer(ResidentTurn("voice", text, answer))

    def press(self, digit: str) -> tuple[Prompt, ...]:
        """The resident pressed a key; returns what to say next."""
        return self._answer(ResidentTurn("keypad", digit, read_keypad(digit)))

    def silence(self) -> tuple[Prompt, ...]:
        """The resident said nothing for the listening time."""
        return self._answer(ResidentTurn("silence", "", Answer.UNCLEAR))

    def hung_up(self) -> None:
        """The resident's line closed; without a decision yet, nobody said yes."""
        if not self.done:
            self.resident_hung_up = True
            self.decision = Decision.NO_ANSWER

    def unreachable(self) -> None:
        """The call never connected (no answer, busy, congestion, every dial string tried)."""
        self.hung_up()

    @property
    def visitor_message(self) -> str:
        """What the visitor is told once the leg has ended."""
        who = resident_article(self.facts.resident_name)
        match self.decision:
            case Decision.AUTHORIZED:
                return f"{who.capitalize()} autorizou. Pode entrar."
            case Decision.LEAVE_AT_GATE:
                thing = " a encomenda" if self.facts.intent == Intent.ENTREGA else ""
                return f"{who.capitalize()} pediu para deixar na portaria. Pode deixar{thing} na portaria, por favor."
            case Decision.RESIDENT_COMING:
                return f"{who.capitalize()} já vai descer. Aguarde um momento, por favor."
            case Decision.DENIED:
                return f"Sinto muito, {who} não autorizou a entrada. Obrigado e tenha um bom dia."
            case Decision.NO_ANSWER:
                return f"Não consegui falar com {who}. Sinto muito, não posso liberar a entrada agora."
        raise RuntimeError("the resident has not decided yet")

    def _answer(self, turn: ResidentTurn) -> tuple[Prompt, ...]:
        if self.done:
            return ()
        self.turns.append(turn)
        answer, by = turn.answer, "keypad" if turn.by == "keypad" else "voice"
        if answer is Answer.VOICEMAIL:
            self.voicemail, self.decision = True, Decision.NO_ANSWER
            return ()  # nothing is left in a mailbox: the leg is hung up
        if answer in _BY_ANSWER:
            return self._decide(_BY_ANSWER[answer], by)
        if answer is Answer.QUESTION and self._questions < MAX_QUESTIONS:
            self._questions += 1
            return (Say(self._facts_line()), *self._name_and_ask())
        self._unclear += 1
        if self._unclear >= MAX_UNCLEAR:
            return self._decide(Decision.NO_ANSWER, by)
        return (Say(ASK_AGAIN),)

    def _answered(self) -> bool:
        """Whether anything the resident said or keyed has been understood yet (an answer or a question)."""
        return any(turn.answer is not Answer.UNCLEAR for turn in self.turns)

    def _decide(self, decision: Decision, by: Literal["voice", "keypad"]) -> tuple[Prompt, ...]:
        self.decision = decision
        self.by = None if decision is Decision.NO_ANSWER else by  # nobody decided: no entry by default
        return (Say(_TO_RESIDENT[decision]),)

    def _facts_line(self) -> str:
        facts = self.facts
        if facts.intent == Intent.ENTREGA:
            what = f"uma entrega {_from(facts.company)}" if facts.company else "uma entrega"
            return f"{facts.visitor_name} está no portão com {what}."
        return f"{facts.visitor_name} está no portão para uma visita."

    def _name_and_ask(self) -> tuple[Prompt, ...]:
        return (PlayVisitorName(), Say(ASK)) if self.facts.visitor_name_audio else (Say(ASK),)


def _from(company: str) -> str:
    """'dos Correios', 'do iFood', 'da Amazon': the contraction Portuguese uses before a company."""
    plural = company.endswith("s") and company[:1].isupper()
    feminine = company.lower().endswith("a") or company.lower() in {"amazon", "shopee", "shein"}
    return f"{'dos' if plural else 'da' if feminine else 'do'} {company}"
