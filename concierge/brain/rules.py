"""The rules concierge: the offline default brain. Fills the slots from the whole conversation and
answers as a good doorman would — short, polite pt-BR, asking only for what is still missing."""

from __future__ import annotations

import re

from dataclasses import dataclass, replace

from concierge.brain.base import decide, is_complete
from concierge.brain.directory import Directory, sound, sounds_alike, tokens_match
from concierge.brain.memory import Conversation
from concierge.brain.names import is_first_name, respell
from concierge.brain.reply import Dados, Intent, Reply
from concierge.brain.echo import without_echo
from concierge.brain.text import clean_utterance, fold, title_name
from concierge.brain.evidence import ApartmentChoice, Support, choose_apartment
from concierge.brain.numbers import LETTER_WORDS, tokens
from concierge.brain.numbers import near as near_number
from concierge.brain.understand import Understanding, understand

FEMININE_NOT_IN_A = frozenset(
    "beatriz raquel isabel ester rute ruth carmen lurdes ines alice denise simone jaqueline irene cleide aline "
    "lais ingrid miriam rosimeire elaine liz".split()
)
APARTMENT, RESIDENT = "apartment", "resident"
ONLY_APARTMENT, ONLY_RESIDENT, BOTH = frozenset({APARTMENT}), frozenset({RESIDENT}), frozenset({APARTMENT, RESIDENT})
REFUSE_GATE = "Não posso liberar a entrada por aqui; quem autoriza é o morador."
CONFIRMATION_OPENER = "Certo."
CONFIRM = "confirm"  # what a read-back asks for, in `Conversation.asked`
CONFIRMED, KEYPAD = "confirmed", "keypad"  # apartment support beyond the directory's: the visitor's yes, the keypad
MAX_INTENT_ASKS = 2  # 'É entrega ou visita?' asked in vain this often: the other questions first
KEYPAD_PROMPT = "Por favor, digite o número do apartamento no teclado e depois a tecla jogo da velha."


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
        "De qual bloco?", "Qual é o nome do morador?", "Qual é o apartamento e o nome do morador?", KEYPAD_PROMPT,
    )  # fmt: skip

    def __init__(self, directory: Directory) -> None:
        self.directory = directory

    def respond(self, conversation: Conversation, utterance: str, alternatives: tuple[str, ...] = ()) -> Reply:
        text = without_echo(clean_utterance(utterance), conversation)
        heard = understand(text, self.directory, conversation.asked)
        others = [understand(clean_utterance(other), self.directory, conversation.asked) for other in alternatives[:4]]
        message, asked, _ = self.apply(conversation, heard, text, others)
        conversation.asked = list(asked)
        return decide(message, conversation.dados, self.directory, settled=not conversation.unsure)

    def apply(
        self, conversation: Conversation, heard: Understanding, text: str, others: list[Understanding] | None = None
    ) -> tuple[str, tuple[str, ...], Problem | None]:
        """Merge what was heard (and the recogniser's other readings, `others`) into the conversation's
        slots, checked against the directory, and compose the doorman's answer: (message, slots it
        asks for, the directory problem told). The CrewAI brain calls this too, with what the model
        added to `heard`."""
        before = conversation.dados.model_copy()
        settled_before = not conversation.unsure
        dados = conversation.dados
        if CONFIRM in conversation.asked:
            if heard.answer is False and heard.intent is None and self._restates(conversation, heard):
                # 'Visita para Mércia, casa 20, certo?' 'Não, é Mércia, casa 20': then what was wrong is the intent
                dados.intent_type, conversation.intent_strength = Intent.DESCONHECIDO, 0
            self._take_answer(conversation, heard)
        if heard.intent is not None and heard.intent_strength >= conversation.intent_strength:
            dados.intent_type, conversation.intent_strength = heard.intent, heard.intent_strength
        if heard.visitor_name and heard.answer is False and CONFIRM in conversation.asked and heard.resident is None and not heard.visitor_named_self:
            heard.resident, heard.visitor_name = heard.visitor_name, None  # 'Visita para Jandira…, certo?' 'Não, é a Rosângela Ferraz'
        if heard.visitor_name and self._names_resident_in_full(conversation, heard):
            heard.resident, heard.resident_mentions, heard.visitor_name = heard.visitor_name, [], None
        elif heard.visitor_name and self._is_resident_echo(conversation, heard):
            if heard.answer is False and CONFIRM in conversation.asked and heard.resident is None:
                heard.resident = heard.visitor_name  # 'Visita para Letícia…, certo?' 'Não, é o Otto Bauer': whom they came for
            heard.visitor_name = None  # the resident's own name, said again, is not the visitor's
        if self._own_name_instead(conversation, heard):
            heard.visitor_name = heard.bare_name
            if fold(heard.resident or "") == fold(heard.bare_name or ""):
                heard.resident, heard.resident_mentions = None, []
        if heard.visitor_name is None and dados.visitor_name is None and self._trailing_is_visitor(conversation, heard):
            heard.visitor_name = heard.trailing_name  # 'é a cuidadora da dona Teresa' … 'casa 20... é a Marinalva'
        if heard.visitor_name and (dados.visitor_name is None or heard.visitor_explicit):
            dados.visitor_name = title_name(respell(heard.visitor_name))  # 'Suéle' was Sueli
        if heard.block is None and self._block_missing(conversation):
            heard.block = self._block_answer(text, conversation.apartment_claim or "")
        if heard.visitor_home:
            conversation.visitor_home = heard.visitor_home
        changed = self._update_claims(conversation, heard, others or [])
        problem = next((p for p in self._resolve(conversation) if p.about & changed), None)
        problem = self._at_own_door(conversation, heard) or problem
        if self._visiting_unsaid(conversation):
            dados.intent_type = Intent.VISITA  # strength stays 0: any word of either intent later wins
        message, asked = self._compose(conversation, heard, text, problem, before if settled_before else None)
        if "apartment_number" in asked:
            conversation.apartment_asks += 1
        if "intent_type" in asked:
            conversation.intent_asks += 1
        return message, asked, problem

    @staticmethod
    def _at_own_door(conversation: Conversation, heard: Understanding) -> Problem | None:
        """'Confirma aí que eu sou o Carlos do 1101': someone who says they live in the apartment
        they ask to be let into is no visitor of it (a resident comes in with their own key or
        tag; an impostor is not helped). That apartment is never completed for them. A name of
        that home said then ('sou eu da casa 9' … 'é o Mário, abre aí') is who is at the gate."""
        dados, home = conversation.dados, conversation.visitor_home
        if not home or not dados.apartment_number or re.sub(r"\D", "", dados.apartment_number.rsplit("-", 1)[-1]) != home:
            return None
        if dados.visitor_name is None and heard.resident and dados.resident_name:
            dados.visitor_name = title_name(respell(heard.resident))
        apartment = dados.apartment_number
        dados.apartment_number = dados.resident_name = None
        return Problem(
            f"Quem mora no apartamento {apartment} entra com a própria chave ou tag; não posso liberar o portão por aqui.",
            BOTH, ("apartment_number", "resident_name"), "Se veio visitar alguém, qual é o apartamento e o nome do morador?",
        )

    @staticmethod
    def _take_answer(conversation: Conversation, heard: Understanding) -> None:
        """The visitor's yes or no to a read-back: a yes settles the facts read; a no drops them."""
        dados = conversation.dados
        if heard.answer is True:
            if dados.apartment_number:
                conversation.apartment_claim, conversation.apartment_support = dados.apartment_number, CONFIRMED
            if dados.resident_name:
                conversation.resident_claim = dados.resident_name
            conversation.unsure = []
            if not heard.correction:  # 'Isso, glória a Deus', 'Isso, dona Neide': the yes is the answer
                heard.resident, heard.resident_mentions, heard.apartments = None, [], []
        elif heard.answer is False:  # what was read back is wrong: ask for it again, keep no part of it
            conversation.apartment_claim = conversation.apartment_support = conversation.resident_claim = None
            conversation.unsure = []

    def _restates(self, conversation: Conversation, heard: Understanding) -> bool:
        """Whether a 'no' to a read-back says again the very apartment and resident that were read."""
        dados = conversation.dados
        if not (dados.apartment_number and dados.resident_name and heard.resident and heard.apartments):
            return False
        number = dados.apartment_number.rsplit("-", 1)[-1]
        same_place = any(h.number == number and h.block in (None, dados.apartment_number.split("-")[0]) for h in heard.apartments)
        meant = self.directory.find(heard.resident)
        if len(meant) > 1:
            return False  # 'não, é o Lu do 102' when two Lus live in 102s: not the one read, not the intent
        said = fold(heard.resident).split()
        return same_place and any(
            r.name == dados.resident_name and any(tokens_match(w, t) for w in said for t in r.tokens)
            for r in self.directory.find(heard.resident, dados.apartment_number)
        )  # the name itself said again, not a pet name that a table gives to one of several ('o Lu')

    def _update_claims(self, conversation: Conversation, heard: Understanding, others: list[Understanding]) -> frozenset[str]:
        """Record the apartment and resident the visitor named; return which of the two changed.

        The resident is read first: where they live vouches for an apartment reading. A reading
        the directory backs is never replaced by a weaker one (an unknown number, another reading
        of the audio) unless the visitor corrects themselves; a confirmed or keyed-in apartment
        only by a correction."""
        changed = set()
        if heard.resident is None:
            other = next((o for o in others if o.resident_mentions), None)
            if other is not None:  # the name is only in another reading of the audio: read it back
                heard.resident, heard.resident_mentions = other.resident, other.resident_mentions
                self._mark_unsure(conversation, "resident_name")
        if heard.resident is not None and self._keeps_resident(conversation, heard):
            heard.resident = None
        if heard.resident is not None:
            if fold(heard.resident) != fold(conversation.resident_claim or ""):
                changed.add(RESIDENT)
            conversation.resident_claim, conversation.resident_gender = heard.resident, heard.resident_gender
            if heard.resident_weak:  # heard among names nobody here has: read back before anyone is told
                self._mark_unsure(conversation, "resident_name")
        if heard.block is not None and not heard.apartments:
            self._take_block(conversation, heard.block)
        if conversation.block_claim and not any(h.block for h in heard.apartments):
            block = conversation.block_claim
            heard.apartments = [replace(h, block=block) if self._in_block(h.number, block) else h for h in heard.apartments]
        if heard.unsure_which and not heard.apartment_choices and conversation.apartment_support not in (CONFIRMED, KEYPAD):
            conversation.apartment_claim = conversation.apartment_support = None  # '… não sei, é uma das duas'
            changed.add(APARTMENT)
        if heard.apartment_choices:  # 'o 302 ou o 203': no apartment yet; the resident's name settles which
            conversation.apartment_choices = [f"{h.block}-{h.number}" if h.block else h.number for h in heard.apartment_choices]
            if conversation.apartment_support not in (CONFIRMED, KEYPAD):
                conversation.apartment_claim = conversation.apartment_support = None
            changed.add(APARTMENT)
        homes = {m.resident.apartment for m in heard.resident_mentions}
        if not homes and conversation.resident_claim:
            homes = {r.apartment for r in self.directory.find(conversation.resident_claim)}
        choice = choose_apartment(heard.apartments, self.directory, homes, [a for o in others for a in o.apartments])
        if choice is not None and self._replaces(conversation, choice, heard):
            if choice.value != conversation.apartment_claim:
                changed.add(APARTMENT)
            conversation.apartment_claim = choice.value
            conversation.apartment_support = KEYPAD if heard.keyed else choice.support.value
            unsure = set(conversation.unsure) - {"apartment_number"}
            conversation.unsure = sorted(unsure | ({"apartment_number"} if choice.unsure else set()))
        if conversation.resident_claim is None and self._single_resident_meant(conversation, heard):
            conversation.resident_claim = self.directory.residents_of(conversation.apartment_claim or "")[0].name
            changed.add(RESIDENT)
        return frozenset(changed)

    def _own_name_instead(self, conversation: Conversation, heard: Understanding) -> bool:
        """A bare name nobody here has, said after the visitor already named whom they came for
        ('Rosicleide Maranhão' … 'Wanderley'), or after their trade ('Carteiro Paulo'): the
        visitor's own name, not a second resident."""
        name, claim = heard.bare_name, conversation.resident_claim
        if name is None or heard.visitor_name or conversation.dados.visitor_name is not None:
            return False
        if claim is None:  # 'Para quem é a entrega no 2-1503?' 'Raul.': couriers answer with their own name
            apartment = conversation.apartment_claim
            return (
                "resident_name" in conversation.asked and apartment is not None and self.directory.has_apartment(apartment)
                and len(name.split()) == 1 and is_first_name(name) and not self.directory.find(name)
                and not self.directory.heard_in(name, apartment) and not self.directory.shortened_in(name, apartment)
            )  # fmt: skip
        first_claimed, first_said = fold(claim).split()[0], fold(name).split()[0]
        if first_claimed == first_said or sounds_alike(first_said, first_claimed):
            return False  # 'o Piotr' … 'Piotre Kovalski': the resident's name again, spelled by ear
        return heard.role_first or not (self.directory.find(name) or self.directory.heard_as(name))

    @staticmethod
    def _trailing_is_visitor(conversation: Conversation, heard: Understanding) -> bool:
        """A name of nobody here ending a turn, once whom they came for is known (said before or
        in that turn, and not that name): the visitor saying who they are."""
        name, claim = heard.trailing_name, heard.resident or conversation.resident_claim
        return bool(name and claim) and fold(name).split()[0] not in fold(claim or "").split()

    def _is_resident_echo(self, conversation: Conversation, heard: Understanding) -> bool:
        """A name given as the visitor's that is the resident's own ('Gabriela Lopes', 'É a Letícia
        Tanaka'), even misheard ('Edoardo Calil' for Eduardo Khalil), or any resident's full name
        given bare (Whisper, primed with the residents' names, writes one for a short turn it did
        not hear: 'Pedro Nogueira' for 'Cento e um'). Only 'meu nome é …' makes it the visitor's."""
        if heard.visitor_named_self or not heard.visitor_name:
            return False
        said = fold(heard.visitor_name).split()
        resident = fold(conversation.dados.resident_name or conversation.resident_claim or "").split()
        if resident and len(said) >= 2 and any(tokens_match("".join(said[:2]), r) for r in resident):
            return True  # 'Ed Valdo, Cavalcante' for Edvaldo Cavalcanti: one name the line split
        if resident and (" ".join(resident).startswith(" ".join(said)) or all(any(tokens_match(w, r) or sound(w) == sound(r) or (len(said) > 1 and sounds_alike(w, r)) for r in resident) for w in said)):
            return True
        if len(said) >= 2 and len(self.directory.heard_as(heard.visitor_name)) == 1:
            return True  # 'Piotre Kovalski' for Piotr Kowalski
        return len(said) >= 2 and any(m.start == 0 and m.end == len(said) and m.matched >= 2 for m in self.directory.scan(said, True))

    @staticmethod
    def _visiting_unsaid(conversation: Conversation) -> bool:
        """Asked 'entrega ou visita?', the visitor gave their own name and a resident's, and never a
        word of either intent: someone who introduces themselves to see a person by name is visiting."""
        dados = conversation.dados
        return (
            dados.intent_type == Intent.DESCONHECIDO and conversation.intent_strength == 0 and conversation.intent_asks >= 1
            and dados.visitor_name is not None and dados.resident_name is not None
        )  # fmt: skip

    def _names_resident_in_full(self, conversation: Conversation, heard: Understanding) -> bool:
        """'o Luiz, torre B' … 'Luiz Henrique, isso. Batista.': a fuller name of someone here, starting
        with the first name the visitor gave for the resident, says whom they came for, not who they
        are (it may well be someone else than the resident first matched)."""
        claim, said = fold(conversation.resident_claim or "").split(), fold(heard.visitor_name or "").split()
        if heard.visitor_named_self or len(said) < 2 or not claim or not tokens_match(said[0], claim[0]):
            return False
        return any(len(m.resident.tokens) >= 2 for m in self.directory.scan(said, True) if m.matched >= 2)

    def _keeps_resident(self, conversation: Conversation, heard: Understanding) -> bool:
        """A resident the directory knows is not replaced by a name it does not know ('neto da dona
        Rosa' after 'pra Iracema'), unless the visitor corrects themselves or was asked for it."""
        current = conversation.resident_claim
        if current is None or not (known := self.directory.find(current)):
            return False
        named = {m.resident for m in heard.resident_mentions}
        if len(known) == 1 and known[0] in named and len(named) > 1:
            return True  # 'seu Wei' … 'do seu Chen': the surname of the one already named, shared, says no more
        if heard.resident_of_relation:  # 'sou mãe do Bernardo, coleguinha dele': whose relative, not whom to visit
            return True
        if heard.resident_of_place and not heard.correction and named and all(r.apartment == known[0].apartment for r in named) and len(known) == 1:
            return True  # 'a Maria das Graças' … 'casa 3, do seu Geraldo': whose house it is, the same house
        if heard.visitor_name and not heard.resident_cued:  # 'Maria Aparecida, pode chamar de Cida': about the visitor
            return True
        if heard.correction or "resident_name" in conversation.asked:
            return False
        said = fold(heard.resident or "").split()
        if len(said) > 1 and said[0] == fold(current).split()[0]:
            return False  # 'a Naiara' … 'Naiara Costa, ela é minha prima': the same name in full, checked again
        return not heard.resident_mentions and not self.directory.find(heard.resident or "")

    @staticmethod
    def _replaces(conversation: Conversation, choice: ApartmentChoice, heard: Understanding) -> bool:
        current = conversation.apartment_support
        if conversation.apartment_claim is None or current is None or heard.keyed:
            return True
        if heard.correction:
            return True
        if current in (CONFIRMED, KEYPAD):
            return False
        backed = current in (Support.DIRECTORY, Support.NEAR, Support.RESIDENT)
        return not (backed and not choice.found)

    def _take_block(self, conversation: Conversation, block: str) -> None:
        """'É no bloco D': completes a number heard without its block, or waits for the number."""
        number = conversation.apartment_claim
        if number is not None and not self.directory.has_apartment(number) and self._in_block(number, block):
            key = self.directory.apartments_numbered(number, block)[0]
            conversation.apartment_claim = key
            conversation.apartment_support = Support.DIRECTORY.value
            if not key.startswith(f"{block.upper()}-"):  # 'bloco V' heard, and only B has that number: read back
                self._mark_unsure(conversation, "apartment_number")
        conversation.block_claim = block

    def _block_missing(self, conversation: Conversation) -> bool:
        """The number is known and lives in several blocks: only the block is missing (the keypad cannot say it)."""
        number = conversation.apartment_claim
        return number is not None and not self.directory.has_apartment(number) and len(self.directory.apartments_numbered(number)) > 1

    def _block_answer(self, text: str, number: str) -> str | None:
        """The block alone, answering 'de qual bloco?': 'B', 'é o bê', 'do 2' — one whose apartment `number` exists."""
        words = tokens(text)
        labels = [LETTER_WORDS.get(w, w).upper() for w in words if w in LETTER_WORDS or (len(w) == 1 and w.isalpha())]
        labels += [w for w in words if w.isdigit() and len(w) <= 2]
        fitting = [label for label in labels if self._in_block(number, label)]
        plain = [label for label in fitting if label not in ("E", "O", "A")]  # 'é', 'o', 'a' are words before they are blocks
        return (plain or fitting or [None])[-1]

    def _in_block(self, number: str, block: str) -> bool:
        """Whether `number` exists in `block`, or in the block a phone line turns it into ('V' for B)."""
        return len(self.directory.apartments_numbered(number, block)) == 1

    def _single_resident_meant(self, conversation: Conversation, heard: Understanding) -> bool:
        """'o morador do 501', or 'não sei o nome' when asked: the apartment's only resident is meant."""
        apartment = conversation.apartment_claim
        if not self.directory.has_apartment(apartment) or len(self.directory.residents_of(apartment or "")) != 1:
            return False
        return heard.about_the_resident or heard.dont_know

    def _resolve(self, conversation: Conversation) -> list[Problem]:
        """Set apartment and resident slots from what was claimed, checked against the directory.
        What the directory had to fill in over a conflicting claim is marked unsure (read back)."""
        dados = conversation.dados
        apartment, name = conversation.apartment_claim, conversation.resident_claim
        dados.apartment_number = dados.resident_name = None
        problems: list[Problem] = []
        everywhere = self.directory.find(name) if name else []
        if apartment is not None and not self.directory.has_apartment(apartment):
            keys = self.directory.apartments_numbered(apartment)
            homes = [r.apartment for r in everywhere if r.apartment in keys]
            guessed = {r.apartment for key in keys for r in self.directory.heard_in(name, key)} if name and not homes else set()
            if len(homes) == 1:
                apartment = homes[0]
            elif len(homes) > 1 and len(spelled := [r.apartment for r in self._spelled_as_said(everywhere, name or "") if r.apartment in keys]) == 1:  # '1204, da Giovanna': not Geovana of the other tower; read back
                apartment = spelled[0]
                self._mark_unsure(conversation, "apartment_number")
            elif len(keys) > 1 and len(guessed) == 1:  # '43' in blocks A-F, and a badly heard name of B-43's: read back
                apartment = guessed.pop()
                self._mark_unsure(conversation, "apartment_number")
            elif len(keys) > 1:
                problems.append(Problem(
                    f"Temos o apartamento {apartment} em mais de um bloco.", ONLY_APARTMENT,
                    ("apartment_number",), "De qual bloco?",
                ))  # fmt: skip
                apartment = None
            elif len(everywhere) == 1:
                self._mark_unsure(conversation, "apartment_number")
                apartment = None  # the resident's own apartment fills it below
            else:
                problems.append(Problem(f"Não encontrei o apartamento {apartment} aqui no condomínio.", ONLY_APARTMENT))
                apartment = None
        choices = conversation.apartment_choices if apartment is None else []
        if name is None:
            dados.apartment_number = apartment
            if choices:
                problems.append(Problem(
                    f"Entendi o apartamento {' ou '.join(choices)}.", BOTH, ("resident_name",), "Qual é o nome do morador?",
                ))  # fmt: skip
            return problems
        if choices and not everywhere:  # 'Mariaeduarda Fontes, casa 11... ou 17': a name heard badly, in one of them
            keys = {key for choice in choices for key in (self.directory.apartments_numbered(choice) or [choice])}
            everywhere = [r for key in sorted(keys) for r in self.directory.heard_in(name, key)]
        if choices and (among := [r for r in everywhere if self._one_of(r.apartment, choices)]):
            everywhere = among  # 'o 1302 ou o 1203' … 'Otávio': the one of them where an Otávio lives
            self._mark_unsure(conversation, "apartment_number")
        shown = title_name(name)
        if apartment is not None:
            here = self.directory.find(name, apartment)
            dados.apartment_number = apartment
            if len(here) > 1 and len(meant := self._of_gender(here, conversation.resident_gender)) == 1:
                dados.resident_name = meant[0].name  # 'o senhor Guimarães' of a couple: read back
                self._mark_unsure(conversation, "resident_name")
            elif len(here) == 1:
                dados.resident_name = here[0].name
            elif len(here) > 1:
                problems.append(Problem(
                    f"Há mais de um morador chamado {shown} no apartamento {apartment}.",
                    BOTH, ("resident_name",), "Qual é o nome completo?",
                ))  # fmt: skip
            elif conversation.apartment_support not in (CONFIRMED, KEYPAD) and (
                near := [r for r in everywhere if near_number(apartment, r.apartment)]
            ):
                if len(near) == 1:  # '614' heard, and the resident named lives in 604
                    dados.apartment_number, dados.resident_name = near[0].apartment, near[0].name
                    self._mark_unsure(conversation, "apartment_number")
            elif len(short := self.directory.shortened_in(name, apartment)) == 1:
                dados.resident_name = short[0].name  # 'a Lu' of the 202 is Lucineide: read it back
                self._mark_unsure(conversation, "resident_name")
            elif everywhere and conversation.apartment_support in (CONFIRMED, KEYPAD):
                # the keypad or a yes outweighs a name heard elsewhere in the directory: ask whom
                problems.append(Problem(f"Não encontrei {shown} no apartamento {apartment}.", ONLY_RESIDENT))
            elif everywhere:
                dados.apartment_number = None
                problems.append(Problem(
                    f"Não encontrei {shown} no apartamento {apartment}.",
                    BOTH, ("apartment_number", "resident_name"), "Pode confirmar o apartamento e o nome do morador?",
                ))  # fmt: skip
            elif len(heard := self.directory.heard_in(name, apartment)) == 1:
                dados.resident_name = heard[0].name  # a badly heard name of someone who lives there: read it back
                self._mark_unsure(conversation, "resident_name")
            else:
                problems.append(Problem(f"Não encontrei nenhum morador chamado {shown} no apartamento {apartment}.", BOTH))
            return problems
        if len(everywhere) > 1 and len(meant := self._of_gender(everywhere, conversation.resident_gender)) == 1:
            everywhere = meant
            self._mark_unsure(conversation, "resident_name")
        elif len(everywhere) > 1 and conversation.block_claim and len(
            in_block := [r for r in everywhere if r.apartment.startswith(f"{conversation.block_claim}-")]
        ) == 1:
            everywhere = in_block  # 'a Tais, do bloco A': the Thaís of block A, not the Taís of B; read back
            self._mark_unsure(conversation, "apartment_number")
        elif len(everywhere) > 1 and choices and len(spelled := self._spelled_as_said(everywhere, name)) == 1:
            everywhere = spelled  # 'o 1503 ou o 1504, da Kelly': Kelly Okada, not Keli Prado; read back
            self._mark_unsure(conversation, "resident_name")
        if len(everywhere) == 1:
            dados.resident_name = everywhere[0].name
            if not problems:
                dados.apartment_number = everywhere[0].apartment
        elif everywhere and not problems:
            problems.append(Problem(
                f"Temos mais de um morador chamado {shown}.",
                ONLY_RESIDENT, ("apartment_number",), "Qual é o número do apartamento?",
            ))  # fmt: skip
        elif len(heard := self.directory.heard_as(name)) == 1 and not problems:
            dados.resident_name, dados.apartment_number = heard[0].name, heard[0].apartment  # read back
            self._mark_unsure(conversation, "resident_name", "apartment_number")
        elif not everywhere:
            problems.append(Problem(f"Não encontrei nenhum morador chamado {shown}.", ONLY_RESIDENT))
        return problems

    @staticmethod
    def _spelled_as_said(residents: list, name: str) -> list:
        """The residents with a name word spelled exactly as the one said ('Kelly', not 'Keli')."""
        said = set(fold(name).split())
        return [r for r in residents if said & set(r.tokens)]

    @staticmethod
    def _one_of(apartment: str, choices: list[str]) -> bool:
        """Whether `apartment` ('A-203', '1-1503') is one of the choices ('A-203', '1503')."""
        return any(apartment == choice or ("-" not in choice and apartment.rsplit("-", 1)[-1] == choice) for choice in choices)

    @staticmethod
    def _of_gender(residents: list, gender: str | None) -> list:
        """The residents an honorific can mean: 'seu'/'senhor' not a first name ending in -a, and a
        first name ending in -o if only one has it; 'dona'/'senhora' the reverse. [] if it says nothing."""
        if gender is None:
            return []
        mine, other = ("o", "a") if gender == "m" else ("a", "o")
        endings = [fold(r.name).split()[0][-1:] for r in residents]
        surely = [r for r, end in zip(residents, endings, strict=True) if end == mine]
        if len(surely) == 1:
            return surely
        return [r for r, end in zip(residents, endings, strict=True) if end != other]

    @staticmethod
    def _mark_unsure(conversation: Conversation, *slots: str) -> None:
        """Slots to read back before the visit is valid (never a confirmed or keyed-in apartment)."""
        settled = conversation.apartment_support in (CONFIRMED, KEYPAD)
        conversation.unsure = sorted({*conversation.unsure, *(s for s in slots if not (settled and s == "apartment_number"))})

    def _compose(
        self, conversation: Conversation, heard: Understanding, text: str, problem: Problem | None, before: Dados | None
    ) -> tuple[str, tuple[str, ...]]:
        """The answer: a greeting back, a refusal, the directory's problem, then one question —
        or, with every slot filled, a read-back of what is unsure, or the confirmation."""
        dados = conversation.dados
        parts: list[str] = []
        if heard.greeting and conversation.visitor_turns() <= 1:
            parts.append(f"{heard.greeting}!")
        if heard.injection:
            parts.append(REFUSE_GATE)
        if is_complete(dados, self.directory):
            if conversation.unsure:
                parts.append(self._read_back(dados))
                return " ".join(parts), (CONFIRM,)
            done_before = before is not None and is_complete(before, self.directory) and before == dados
            parts.append(self.waiting(dados) if done_before else self._confirm(dados))
            return " ".join(parts), ()
        if heard.farewell and not heard.informative:
            return " ".join([*parts, "Tudo bem. Até logo!"]), ()
        if problem is not None:
            parts.append(problem.sentence)
        elif not text:
            parts.append("Desculpe, não ouvi.")
        elif not heard.informative and not heard.injection and not heard.greeting and heard.answer is None:
            parts.append("Preciso dessa informação para avisar o morador." if heard.dont_know else "Desculpe, não entendi.")
        if problem is not None and problem.question:
            question, asked = problem.question, problem.asks
        else:
            question, asked = self._question(dados, skip_intent=conversation.intent_asks >= MAX_INTENT_ASKS)
            if "apartment_number" in asked and heard.dont_know and "resident_name" in asked:
                question, asked = "Qual é o nome do morador?", ("resident_name",)  # no number known: a name will do
            elif "apartment_number" in asked and self._block_missing(conversation):
                question, asked = f"O apartamento {conversation.apartment_claim} é de qual bloco?", ("apartment_number",)
            elif "apartment_number" in asked and conversation.apartment_asks >= 2:
                question, asked = KEYPAD_PROMPT, ("apartment_number",)
        parts.append(question)
        return " ".join(parts), asked

    @staticmethod
    def _read_back(dados: Dados) -> str:
        """'Entrega para Joana Prado, no apartamento 604, certo?': the facts the visitor must confirm."""
        head = "Entrega" if dados.intent_type == Intent.ENTREGA else "Visita"
        return f"{head} para {dados.resident_name}, no apartamento {dados.apartment_number}, certo?"

    @staticmethod
    def _question(dados: Dados, skip_intent: bool = False) -> tuple[str, tuple[str, ...]]:
        """Ask for what is still missing, never for a slot already filled; the intent last once it
        was asked for in vain (`skip_intent`), so the call moves on."""
        missing = dados.missing()
        if skip_intent and "intent_type" in missing and len(missing) > 1:
            missing.remove("intent_type")
        if "intent_type" in missing:
            nothing_else = len(missing) == 4
            return ("É entrega ou visita?" if nothing_else else "É uma entrega ou uma visita?"), ("intent_type",)
        delivery = dados.intent_type == Intent.ENTREGA
        if "resident_name" in missing and "apartment_number" in missing:
            if dados.intent_type == Intent.DESCONHECIDO:
                return "Qual é o apartamento e o nome do morador?", ("apartment_number", "resident_name")
            if delivery:
                return "Para qual apartamento e para quem é a entrega?", ("apartment_number", "resident_name")
            return "Qual é o apartamento e quem você veio visitar?", ("apartment_number", "resident_name")
        if "resident_name" in missing:
            where = dados.apartment_number
            if dados.intent_type == Intent.DESCONHECIDO:
                return f"Qual é o nome do morador do apartamento {where}?", ("resident_name",)
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

