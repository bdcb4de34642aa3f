"""The rules concierge: the offline default brain. Fills the slots from the whole conversation and
answers as a good doorman would — short, polite pt-BR, asking only for what is still missing."""

from __future__ import annotations

from dataclasses import dataclass

from concierge.brain.base import decide, is_complete
from concierge.brain.directory import Directory
from concierge.brain.memory import Conversation
from concierge.brain.reply import Dados, Intent, Reply
from concierge.brain.text import clean_utterance, fold, title_name
from concierge.brain.understand import Understanding, understand

FEMININE_NOT_IN_A = frozenset(
    "beatriz raquel isabel ester rute ruth carmen lurdes ines alice denise simone jaqueline irene cleide aline "
    "lais ingrid miriam rosimeire elaine liz".split()
)
APARTMENT, RESIDENT = "apartment", "resident"
ONLY_APARTMENT, ONLY_RESIDENT, BOTH = frozenset({APARTMENT}), frozenset({RESIDENT}), frozenset({APARTMENT, RESIDENT})
REFUSE_GATE = "Não posso liberar a entrada por aqui; quem autoriza é o morador."
CONFIRMATION_OPENER = "Certo."


@dataclass(frozen=True)
class Problem:
    """Something the visitor said that does not fit the directory, to be told before the next question."""

    sentence: str
    about: frozenset[str]
    asks: tuple[str, ...] = ()
    question: str | None = None


class RulesBrain:
    """Deterministic concierge: pattern understanding + directory checks. No model, ~1 ms a turn."""

    name = "rules"
    phrases = (  # sentences said word for word, worth rendering to audio before the first call
        "Bom dia!", "Boa tarde!", "Boa noite!", "É entrega ou visita?", "É uma entrega ou uma visita?",
        "Para qual apartamento e para quem é a entrega?", "Qual é o apartamento e quem você veio visitar?",
        "Qual é o número do apartamento?", "Qual é o seu nome, por favor?", "Qual é o nome completo?",
        "Pode confirmar o apartamento e o nome do morador?", "Desculpe, não entendi.", "Desculpe, não ouvi.",
        "Preciso dessa informação para avisar o morador.", "Vou avisar a moradora.", "Vou avisar o morador.",
        "Aguarde um momento, por favor.", "Tudo bem.", "Até logo!", REFUSE_GATE, CONFIRMATION_OPENER,
    )  # fmt: skip

    def __init__(self, directory: Directory) -> None:
        self.directory = directory

    def respond(self, conversation: Conversation, utterance: str, alternatives: tuple[str, ...] = ()) -> Reply:
        text = clean_utterance(utterance)
        heard = understand(text, self.directory, conversation.asked)
        message, asked, _ = self.apply(conversation, heard, text)
        conversation.asked = list(asked)
        return decide(message, conversation.dados, self.directory)

    def apply(
        self, conversation: Conversation, heard: Understanding, text: str
    ) -> tuple[str, tuple[str, ...], Problem | None]:
        """Merge what was heard into the conversation's slots (checked against the directory) and
        compose the doorman's answer: (message, slots it asks for, the directory problem told).
        The CrewAI brain calls this too, with what the model added to `heard`."""
        before = conversation.dados.model_copy()
        dados = conversation.dados
        if heard.intent is not None:
            dados.intent_type = heard.intent
        if heard.visitor_name and (dados.visitor_name is None or heard.visitor_explicit):
            dados.visitor_name = title_name(heard.visitor_name)
        changed = self._update_claims(conversation, heard)
        problem = next((p for p in self._resolve(conversation) if p.about & changed), None)
        message, asked = self._compose(conversation, heard, text, problem, before)
        return message, asked, problem

    @staticmethod
    def _update_claims(conversation: Conversation, heard: Understanding) -> frozenset[str]:
        """Record the apartment and resident the visitor named; return which of the two changed."""
        changed = set()
        if heard.apartment is not None:
            if heard.apartment != conversation.apartment_claim:
                changed.add(APARTMENT)
            conversation.apartment_claim = heard.apartment
        if heard.resident is not None:
            if fold(heard.resident) != fold(conversation.resident_claim or ""):
                changed.add(RESIDENT)
            conversation.resident_claim = heard.resident
        return frozenset(changed)

    def _resolve(self, conversation: Conversation) -> list[Problem]:
        """Set apartment and resident slots from what was claimed, checked against the directory."""
        dados = conversation.dados
        apartment, name = conversation.apartment_claim, conversation.resident_claim
        dados.apartment_number = dados.resident_name = None
        problems: list[Problem] = []
        if apartment is not None and not self.directory.has_apartment(apartment):
            problems.append(Problem(f"Não encontrei o apartamento {apartment} aqui no condomínio.", ONLY_APARTMENT))
            apartment = None
        if name is None:
            dados.apartment_number = apartment
            return problems
        shown = title_name(name)
        if apartment is not None:
            here = self.directory.find(name, apartment)
            dados.apartment_number = apartment
            if len(here) == 1:
                dados.resident_name = here[0].name
            elif len(here) > 1:
                problems.append(Problem(
                    f"Há mais de um morador chamado {shown} no apartamento {apartment}.",
                    BOTH, ("resident_name",), "Qual é o nome completo?",
                ))  # fmt: skip
            elif self.directory.find(name):
                dados.apartment_number = None
                problems.append(Problem(
                    f"Não encontrei {shown} no apartamento {apartment}.",
                    BOTH, ("apartment_number", "resident_name"), "Pode confirmar o apartamento e o nome do morador?",
                ))  # fmt: skip
            else:
                problems.append(Problem(f"Não encontrei nenhum morador chamado {shown} no apartamento {apartment}.", BOTH))
            return problems
        everywhere = self.directory.find(name)
        if len(everywhere) == 1:
            dados.resident_name = everywhere[0].name
            if not problems:
                dados.apartment_number = everywhere[0].apartment
        elif everywhere and not problems:
            problems.append(Problem(
                f"Temos mais de um morador chamado {shown}.",
                ONLY_RESIDENT, ("apartment_number",), "Qual é o número do apartamento?",
            ))  # fmt: skip
        elif not everywhere:
            problems.append(Problem(f"Não encontrei nenhum morador chamado {shown}.", ONLY_RESIDENT))
        return problems

    def _compose(
        self, conversation: Conversation, heard: Understanding, text: str, problem: Problem | None, before: Dados
    ) -> tuple[str, tuple[str, ...]]:
        dados = conversation.dados
        parts: list[str] = []
        if heard.greeting and conversation.visitor_turns() <= 1:
            parts.append(f"{heard.greeting}!")
        if heard.injection:
            parts.append(REFUSE_GATE)
        if is_complete(dados, self.directory):
            parts.append(self.waiting(dados) if is_complete(before, self.directory) and before == dados else self._confirm(dados))
            return " ".join(parts), ()
        if heard.farewell and not heard.informative:
            return " ".join([*parts, "Tudo bem. Até logo!"]), ()
        if problem is not None:
            parts.append(problem.sentence)
        elif not text:
            parts.append("Desculpe, não ouvi.")
        elif not heard.informative and not heard.injection and not heard.greeting:
            parts.append("Preciso dessa informação para avisar o morador." if heard.dont_know else "Desculpe, não entendi.")
        if problem is not None and problem.question:
            question, asked = problem.question, problem.asks
        else:
            question, asked = self._question(dados)
        parts.append(question)
        return " ".join(parts), asked

    @staticmethod
    def _question(dados: Dados) -> tuple[str, tuple[str, ...]]:
        """Ask for what is still missing, never for a slot already filled."""
        missing = dados.missing()
        if "intent_type" in missing:
            nothing_else = len(missing) == 4
            return ("É entrega ou visita?" if nothing_else else "É uma entrega ou uma visita?"), ("intent_type",)
        delivery = dados.intent_type == Intent.ENTREGA
        if "resident_name" in missing and "apartment_number" in missing:
            if delivery:
                return "Para qual apartamento e para quem é a entrega?", ("apartment_number", "resident_name")
            return "Qual é o apartamento e quem você veio visitar?", ("apartment_number", "resident_name")
        if "resident_name" in missing:
            where = dados.apartment_number
            if delivery:
                return f"Para quem é a entrega no apartamento {where}?", ("resident_name",)
            return f"Quem você veio visitar no apartamento {where}?", ("resident_name",)
        if "apartment_number" in missing:
            return "Qual é o número do apartamento?", ("apartment_number",)
        return "Qual é o seu nome, por favor?", ("visitor_name",)

    @staticmethod
    def _confirm(dados: Dados) -> str:
        """The confirmation opens with a fixed word, pre-rendered, so the caller hears it at once
        while the sentence with the names (new to the synthesis cache) is still being made."""
        resident = dados.resident_name or ""
        notify = f"Vou avisar {resident_article(resident)}."
        if dados.intent_type == Intent.ENTREGA:
            head = f"Entrega para {resident}, apartamento {dados.apartment_number}."
        else:
            head = f"Visita de {dados.visitor_name} para {resident}, apartamento {dados.apartment_number}."
        return f"{CONFIRMATION_OPENER} {head} {notify} Aguarde um momento, por favor."

    @staticmethod
    def waiting(dados: Dados) -> str:
        """What the concierge says when the visit is already confirmed and the visitor speaks again."""
        return f"Já estou avisando {resident_article(dados.resident_name or '')}. Aguarde um momento, por favor."


def resident_article(name: str) -> str:
    """'a moradora' or 'o morador', guessed from the first name."""
    first = fold(name).split()[0] if fold(name) else ""
    feminine = first.endswith("a") or first in FEMININE_NOT_IN_A
    return "a moradora" if feminine else "o morador"
