"""Hold what a language model proposes to what the visitor really said and to the directory.

A model may only point at things the visitor said: a visitor name made of words the visitor
spoke, an apartment number the visitor spoke, a resident the visitor named — taken in the
visitor's own words, so an ambiguous "Maria" stays ambiguous however sure the model is. What
it cannot point at is dropped. Also here: the reply schema the model must follow, the directory
facts a turn's prompt carries, and the checks that decide whether the model's sentence may be
spoken. Pure functions; no model, no CrewAI.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, Field

from concierge.brain.directory import PARTICLES, Directory, Resident, tokens_match
from concierge.brain.reply import Dados, Intent
from concierge.brain.text import fold, title_name
from concierge.brain.understand import NOT_NAMES, Word, digits_from_words, find_apartment, split_words, understand

# Words a model writes when it fills a slot from a prompt's example instead of from the visitor.
PLACEHOLDERS = frozenset(
    "fulano fulana cicrano cicrana ciclano ciclana sicrano sicrana beltrano beltrana doe exemplo example "
    "placeholder xxx null none nulo nula undefined desconhecido desconhecida".split()
)
ASKS = {
    "intent_type": re.compile(r"entrega ou (uma )?visita|visita ou (uma )?entrega"),
    "apartment_number": re.compile(
        r"qual (e )?o (numero do )?apartamento|(para |em )?qual apartamento|que apartamento|numero do apartamento|"
        r"confirmar o apartamento"
    ),
    "resident_name": re.compile(
        r"para quem|quem (voce )?(veio|vem|quer|gostaria de) (visitar|ver|falar)|nome d[oa] morador|"
        r"qual (e )?(o |a )?(morador|moradora)|nome completo|com quem (voce )?(quer|deseja|gostaria)"
    ),
    "visitor_name": re.compile(r"seu nome|como (voce )?se chama|quem (e|fala) (voce|ai)|com quem eu falo"),
}
GATE_OPENED = re.compile(
    r"portao (esta |ja esta |foi )?(aberto|liberado)|pode (entrar|subir|passar|seguir)|"
    r"(entrada|acesso) (esta |foi )?(liberad[oa]|autorizad[oa])|liberei|abri o portao|"
    r"vou (abrir|liberar)|estou (abrindo|liberando)|esta autorizad[oa]"
)
MAX_SENTENCE = 300


class ModelDados(BaseModel):
    """The slots as a model proposes them: checked by the functions below, never trusted."""

    intent_type: Literal["visita", "entrega", "desconhecido"] = Field(
        "desconhecido", description="entrega: brings something; visita: comes to see someone"
    )
    visitor_name: str | None = Field(None, description="the visitor's name, as the visitor said it")
    apartment_number: str | int | None = Field(None, description="the apartment number the visitor said")
    resident_name: str | None = Field(None, description="the resident's name, as in the directory")


class ModelReply(BaseModel):
    """What the model must answer. Anything else it adds (valid_for_action, …) is ignored."""

    mensagem: str = Field(min_length=1, max_length=1000, description="what to say to the visitor, in pt-BR")
    dados: ModelDados


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
        """Numbers spoken ('cento e quatro' -> '104'), as apartment numbers are written."""
        return {
            (word.folded.lstrip("0") or "0").upper() if word.folded.isdigit() else word.folded.upper()
            for line in (self.lines if lines is None else lines)
            for word in line.words
            if any(ch.isdigit() for ch in word.folded)
        }


@dataclass(frozen=True)
class Proposal:
    """The slot changes a model proposed that survive grounding; `None` = nothing new for that slot."""

    intent: Intent | None = None
    visitor_name: str | None = None
    apartment: str | None = None
    resident: str | None = None


def hear(texts: list[str]) -> Said:
    return Said(tuple(SaidLine(text, tuple(split_words(digits_from_words(text)))) for text in texts))


def ground(
    proposed: ModelDados,
    said: Said,
    known: Dados,
    claims: tuple[str | None, str | None],
    directory: Directory,
    asked: list[str] | tuple[str, ...] = (),
) -> Proposal:
    """Keep only the proposed changes the visitor's words support. `claims` is the apartment and
    resident the visitor named before; a change to something known must be said in the current line."""
    apartment_claim, resident_claim = claims
    apartment = ground_apartment(proposed.apartment_number, said, (known.apartment_number, apartment_claim))
    return Proposal(
        intent=ground_intent(proposed.intent_type, said, known.intent_type),
        visitor_name=ground_visitor(proposed.visitor_name, said, known.visitor_name, directory, asked),
        apartment=apartment,
        resident=ground_resident(
            proposed.resident_name, said, known.resident_name, resident_claim, directory,
            apartment or known.apartment_number or apartment_claim, asked,
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


def ground_apartment(value: str | int | None, said: Said, known: tuple[str | None, str | None]) -> str | None:
    """An apartment number the visitor spoke (a new claim must be in the current line)."""
    number = apartment_of(value)
    if number is None or number in known:
        return None
    claimed = any(k is not None for k in known)
    return number if number in said.numbers((said.now,) if claimed else None) else None


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
    so the directory, not the model, decides who that is. A name not in the directory counts
    only if the visitor said it (so the concierge can say it was not found)."""
    name = tidy_name(proposed)
    if name is None or _is_placeholder(name) or (known is not None and fold(name) == fold(known)):
        return None
    meant = set(directory.find(name, apartment) or directory.find(name))
    if known is not None and meant == {r for r in directory.residents if r.name == known}:
        return None
    scope = said.lines if claim is None else (said.now,)
    for line in reversed(scope):
        words = _resident_words(line, meant, directory, asked if line is said.now else ())
        if words is not None:
            return words
    return name if not meant and spoken(name, scope) and fold(name) != fold(claim or "") else None


def apartment_of(value: str | int | None) -> str | None:
    """'104', 104, 'apto 104', 'cento e quatro' -> '104'."""
    if value is None or isinstance(value, bool):
        return None
    text = str(value).strip()
    found = find_apartment(split_words(digits_from_words(text)))
    if found is not None:
        return found.upper()
    compact = text.upper()
    if compact.isdigit():
        return compact.lstrip("0") or "0"
    if 0 < len(compact) <= 16 and compact.replace("-", "").isalnum() and any(ch.isdigit() for ch in compact):
        return compact
    return None


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
) -> str | None:
    """Where the visitor named one of `meant` in `line` (not as their own name), in their words."""
    folded = line.folded
    mentions = [
        m for m in directory.scan(folded, fuzzy=True) if m.resident in meant and folded[m.start] not in NOT_NAMES
    ]
    if not mentions:
        return None
    own_name = understand(line.text, directory, asked).visitor_name
    own = set(fold(own_name).split()) if own_name else set()
    for mention in sorted(mentions, key=lambda m: m.rank, reverse=True):
        if not set(folded[mention.start : mention.end]) <= own:
            return " ".join(word.text for word in line.words[mention.start : mention.end])
    return None


# -- the model's sentence -------------------------------------------------------------------


def asked_slots(message: str) -> list[str]:
    """The slots a sentence asks for."""
    folded = fold(message)
    return [slot for slot, pattern in ASKS.items() if pattern.search(folded)]


def why_not_spoken(
    message: str, proposed: ModelDados, dados: Dados, complete: bool, said: Said, directory: Directory
) -> str | None:
    """Why the model's sentence must not be said to the visitor, or None when it may."""
    folded = fold(message)
    if len(message) > MAX_SENTENCE or not re.search(r"[a-z]{2}", folded) or re.search(r"[<>{}\[\]]", message):
        return "not a short plain sentence"
    if any(word in PLACEHOLDERS for word in folded.split()):
        return "a placeholder name"
    if GATE_OPENED.search(folded):
        return "it says the way is open"
    filled = {slot for slot, value in dados.model_dump().items() if value not in (None, Intent.DESCONHECIDO)}
    reasked = filled.intersection(asked_slots(message))
    if reasked:
        return f"it asks again for {', '.join(sorted(reasked))}"
    if not complete and "?" not in message:
        return "it asks nothing though slots are missing"
    allowed = said.numbers() | {dados.apartment_number or ""}
    stray = {number.lstrip("0") or "0" for number in re.findall(r"\d+", message)} - allowed
    if stray:
        return f"it mentions {', '.join(sorted(stray))}, which the visitor did not say"
    return _disagreement(proposed, dados, directory)


def _disagreement(proposed: ModelDados, dados: Dados, directory: Directory) -> str | None:
    """Which slot the model asserted differently from what code kept (its sentence may say it)."""
    if proposed.intent_type != Intent.DESCONHECIDO and proposed.intent_type != dados.intent_type:
        return "intent_type"
    if proposed.visitor_name and fold(proposed.visitor_name) != fold(dados.visitor_name or ""):
        return "visitor_name"
    apartment = apartment_of(proposed.apartment_number)
    if proposed.apartment_number is not None and apartment != dados.apartment_number:
        return "apartment_number"
    if proposed.resident_name and fold(proposed.resident_name) != fold(dados.resident_name or ""):
        meant = directory.find(proposed.resident_name, dados.apartment_number)
        if [r.name for r in meant] != [dados.resident_name]:
            return "resident_name"
    return None


# -- directory facts for the prompt and the look-up tool -----------------------------------------


def facts(said: Said, dados: Dados, directory: Directory, limit: int = 8) -> list[str]:
    """What the directory says about the apartments and residents the visitor mentioned."""
    apartments: list[str] = []
    missing: list[str] = []
    for number in sorted(said.numbers()):
        if directory.has_apartment(number):
            apartments.append(number)
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


def lookup(query: str, directory: Directory, limit: int = 8) -> str:
    """The look-up tool's answer: an apartment's residents, or where residents with a name live."""
    number = apartment_of(query) if any(ch.isdigit() for ch in query) else None
    if number is not None:
        return describe_apartment(number, directory)
    found = directory.find(query)[:limit]
    if not found:
        return f"Nenhum morador chamado {query.strip()!r} no cadastro."
    return " ".join(f"{r.name} mora no apartamento {r.apartment}." for r in found)
