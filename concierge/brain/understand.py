"""Read one visitor utterance (typed, transcribed or keyed) into what it says about the four slots.

Pure functions, no state: the rules brain merges an `Understanding` into the conversation.
Mechanisms for classes of phrasing, not sentences: word classes from the lexicon
(`concierge.brain.lexicon`), every reading of every number (`concierge.brain.numbers`), name
spans after self-introduction cues and past who the speaker is, and directory matches of
resident names. Which reading wins is decided with the directory (`concierge.brain.evidence`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from functools import cache

from rapidfuzz.distance import Levenshtein

from text_to_num import alpha2digit

from concierge.brain import lexicon, numbers
from concierge.brain.directory import PARTICLES, Directory, NameMention, sounds_alike, tokens_match
from concierge.brain.names import is_first_name
from concierge.brain.reply import Intent
from concierge.brain.text import fold


CAME_TO_DO = re.compile(r"\b(vim|venho|estou aqui pra|to aqui pra|tou aqui pra)\b")  # in person, with nothing to deliver
NEGATED_INTENT = re.compile(r"\bnao (e|eh|era|sou) (uma |de |pra |para )?(entrega|visita)\b")
INJECTION = re.compile(
    r"\b(ignor\w* (as |todas as |suas )?(instruc\w*|regras|ordens)|esquec\w* (as |suas )?(instruc\w*|regras)|"
    r"abr\w* (o |esse |este )?portao|abr\w* (a )?porta|libera\w* (a )?(entrada|porta|portao|acesso)|"
    r"(me )?deix\w* (eu )?entrar|pode entrar|desbloque\w*|autorizad[oa]|autorizacao|"
    r"modo (admin\w*|desenvolvedor|debug)|voce agora e|system prompt|prompt|valid for action|json|"
    r"sou o sindico|sou a sindica|(coloca|poe|bota|marca|registra|escreve|anota)( ai| la)? (que|como) (e|eh|se fosse) (uma )?(entrega|visita))\b"
)
ARRIVED = frozenset({"chegou", "ta", "esta", "veio", "chegando", "aqui"})
HONORIFICS = frozenset({"seu", "dona", "senhor", "senhora", "sr", "sra", "doutor", "doutora", "dr", "dra"})
FOREIGN_HONORIFICS = frozenset({"senor", "senora", "madame", "monsieur", "mrs", "mr", "miss", "ms", "mister", "madam"})
"""'pa la señora Gómez', 'madame Joseph', 'package for Mrs Haddad': a resident's name follows."""
PICKUP = re.compile(r"\b(pegar|buscar|retirar|recolher)\b")
RESIDENT_CUES_BEFORE_NAMES = frozenset({"para", "pra", "pro", "com"})  # 'é para a Renata' names a resident
SAINTS = frozenset({"sao", "santa", "santo", "nossa"})
CORRECTION = re.compile(r"\b(nao|digo|quer dizer|ou melhor|na verdade|desculp\w*|perdao|errei|corrigindo|me enganei)\b")
YES = re.compile(
    r"^(sim|isso|isso mesmo|isso ai|exato|exatamente|correto|certo|certinho|ta certo|esta certo|ta|positivo|confirmo|"
    r"confirmado|e sim|e isso|e esse|e essa|e ele|e ela|pode ser|pode|aham|uhum|perfeito|isso isso|sim senhor|"
    r"sim senhora|com certeza|ok|okay|beleza|certeza|tudo certo|e|eh|si|exacto|claro|yes|oui|wi)\b"  # 'wi': Haitian Creole
)
NO = re.compile(r"^(nao|negativo|errado|esta errado|ta errado|nada disso|nao e|nao nao|num (e|eh|era|foi|ta))\b")
THE_RESIDENT = re.compile(
    r"\b(morador|moradora|moradores|dono|dona|pessoa|moca|moco|rapaz|menina|menino|mulher|homem|senhora|senhor) d[oa] (apartamento |ap |apto |casa )?\d"
    r"|\b(o|a|com|pro|pra) (sindico|sindica|morador|moradora|proprietario|proprietaria|inquilino|inquilina|dono|dona)"
    r"(?= d[oa] (apartamento|ap|apto|casa|unidade|lote)\b| (ele|ela|que|mora|de la|pediu|chamou|sabe|ta|esta|mandou|falou|disse|agendou|marcou|solicitou|espera|aguarda)\b|$)"
)
"""The resident meant by their place, not their name: 'o morador do 501', 'falar com o síndico, ele mora
no 101', 'a dona do apartamento seis' (the apartment's only resident is meant)."""
INSTRUCTED = re.compile(r"\b(coloca|poe|bota|marca|registra|escreve|anota)( ai| la)? (que|como) (e|eh|se fosse) (uma )?(entrega|visita)\b")
"""Telling the concierge what to record ('coloca aí que é entrega'): no intent, and an order to the
machine (`INJECTION` holds the same phrase)."""
GREETING = re.compile(r"\b(bom dia|boa tarde|boa noite)\b")
FAREWELL = re.compile(
    r"\b(volto (mais tarde|depois|outra hora|amanha)|deixa pra la|desisto|tchau|ate logo|"
    r"(vou|eu) (ligar|ligo) (pra|para) (ele|ela)|(ele|ela) desce aqui|^(ah |ai )?esquece|(ja )?desceu pra pegar)\b"
)
DONT_KNOW = re.compile(
    r"\b(nao (sei|lembro|tenho certeza|tenho o nome|tem o nome|tem nome|consigo ler|da pra ler|da para ler|sei o nome)|"
    r"esqueci|apagad[oa]|ilegivel|sem nome|molhou|rasgou|"
    r"nome (d[oa] \w+ )?nao (saiu|veio|aparece|apareceu|consta|esta)|nao (saiu|veio|aparece|apareceu|consta) o nome)\b"
)
EXPLICIT_DELIVERY = re.compile(
    r"\b(entreg\w*|sedex|correios?|carteir[oa]|motoboy|moto boy|pedido|etiqueta|destinatari[oa]|registrada)\b"
)
"""Words only a delivery uses; 'trouxe', 'encomenda' or goods are also what a relative or a customer says."""
ERRAND = re.compile(r"\b(vim|venho|vou|to aqui pra|estou aqui pra|vim aqui pra)( so)? (buscar|pegar|retirar|recolher)\b|\bassinar\b")
"""The visitor's own errand in person: fetching something or someone, a paper to sign ('Desce alguém
pra pegar' is a courier asking, not an errand)."""
COLLECTING = re.compile(r"\b(coleta|devolucao|logistica reversa)\b")
"""A courier who comes to take a parcel away (a return): no delivery; in person, like an errand."""
DELIVERING = re.compile(r"\b(entreg\w*|encomendas?|pacotes?|pacotinho|sedex|vim (so )?deixar|trouxe|trazendo|vim trazer)\b")
"""Words of bringing something, which a service word ('técnico', 'montador') does not outweigh."""
VISIT_PERSON = re.compile(r"\b(vim|venho|viemos|viemo|vamos|vamo|to indo|quero|queria) (ver|ve|visitar)( (a|o|os|as|minha|meu|seu|sua|dona|seu))?\b")
"""Coming to see someone: a visit, whatever else they bring ('vim ver a dona Benedita, levar um bolo')."""
BRINGING_SOMEONE = re.compile(r"\b(trazendo|trouxe|vim trazer|to levando|vim deixar|deixando) (?:(a|o) (sua |seu |minha |meu )?(" + "|".join(
    "mae pai filho filha avo avo neto neta tia tio sogra sogro irma irmao esposa marido crianca criancas menino menina senhora senhor".split()
) + r")|(ela|ele|eles|elas))\b")
"""Bringing a person, not a parcel: a driver's 'tô trazendo a mãe da dona Fátima' is a visit."""
SOMEONE_HOME = re.compile(r"\b(t[áa]|est[áa]|estão|se encontra)( a[íi]| em casa)?\s*\?", re.IGNORECASE)  # 'A Ketlyn tá?' 

# Words that follow "sou o/a", "para a" … but are not people's names.
NOT_NAMES = (
    lexicon.words("not_names") | lexicon.words("interjections") | lexicon.words("roles") | lexicon.words("relations")
    | lexicon.words("delivery") | lexicon.words("visit") | lexicon.words("visit_explicit") | lexicon.words("brands")
    | lexicon.words("goods") | lexicon.words("services") | lexicon.words("service_companies")
    | frozenset(numbers.NUMBER_WORDS)
)  # fmt: skip
NUMBER_STOP_BEFORE = frozenset(
    "codigo pedido rastreio rastreamento cep placa vaga protocolo nota fiscal telefone celular zap whatsapp final senha "
    "cpf rg matricula as km troco passada passado ontem anteontem".split()
)
"""Words that make the number after them something else: 'código de retirada é 1 6 0 4', 'CEP 7 4 3 0…', 'placa PEX 1503', 'às 12:04',
'semana passada eu vim na 15' (where they went before)."""
PHONE_WORDS = frozenset({"telefone", "celular", "zap", "whatsapp"})
"""Of those, words that stop only a number right after them ('meu zap é 9 8…'): 'o zap fala A 102' reads an apartment."""
NUMBER_STOP_AFTER = frozenset(
    "reais real minutos minuto horas hora anos ano pessoas pessoa dias dia segundos caixas caixa pacotes itens "
    "volumes unidades andares andar vezes".split()
)
APARTMENT_CUES = frozenset({"apartamento", "apto", "ap", "apt", "unidade", "numero", "n", "casa", "sala", "lote", "apartment", "appartement", "departamento"})
PLACE_WORDS = APARTMENT_CUES | frozenset({"bloco", "torre", "quadra", "predio", "edificio"})
LABEL_CUES = frozenset("destinatario destinataria escrito dizendo consta".split())
WRITTEN_IN = frozenset("app aplicativo aqui etiqueta zap whatsapp nota pedido servico tela mensagem sistema convite".split())
"""Before 'tá'/'diz': where a name is read from ('no app tá Maria Fontes', 'a etiqueta diz …')."""
"""Before a name read off a label: 'destinatário: Oliveira Santos', 'tá escrito aqui SANTOS, GREICI K'."""
RESIDENT_CUES = frozenset(
    "para pra pro a o dona seu senhor senhora sr sra dr dra doutor doutora com ver visitar buscar pegar procurando "
    "morador moradora chamar avisar for pour pa".split()
) | LABEL_CUES | FOREIGN_HONORIFICS
SURNAME_CUES = frozenset({"senhor", "senhora", "sr", "sra", "seu", "dona", "familia", "doutor", "doutora", "dr", "dra"}) | FOREIGN_HONORIFICS
VISITOR_CUES: tuple[tuple[str, ...], ...] = (
    ("meu", "nome", "completo", "e"), ("meu", "nome", "mesmo", "e"), ("meu", "nome", "de", "verdade", "e"),
    ("meu", "nome", "verdadeiro", "e"), ("meu", "nome", "e"), ("o", "meu", "nome", "e"), ("meu", "nome"),
    ("me", "chamo"), ("me", "llamo"), ("my", "name", "is"), ("mwen", "se"), ("mwen", "rele"), ("mi", "nombre", "es"), ("je", "m appelle"), ("je", "mappelle"), ("je", "suis"), ("yo", "soy"), ("soy",), ("aqui", "quem", "fala", "e"),
    ("quem", "fala", "e"), ("quem", "ta", "falando", "e"), ("quem", "esta", "falando", "e"),
    ("quem", "ta", "chamando", "e"), ("quem", "esta", "chamando", "e"), ("aqui", "e", "o"), ("aqui", "e", "a"), ("eu", "sou", "o"), ("eu", "sou", "a"),
    ("sou", "eu", "mesma"), ("sou", "eu", "mesmo"), ("sou", "eu"),  # before ('sou',): 'sou eu, o Davi'
    ("sou", "o"), ("sou", "a"), ("eu", "sou"), ("sou",), ("fala", "o"), ("fala", "a"),
    ("que", "e", "o"), ("que", "e", "a"), ("que", "eh", "o"), ("que", "eh", "a"), ("que", "e"), ("que", "eh"),
    ("anunciar", "o"), ("anunciar", "a"), ("anuncia", "o"), ("anuncia", "a"), ("anunciar",), ("anuncia",),
)  # fmt: skip
SELF = frozenset({"eu", "mesma", "mesmo"})  # 'sou eu, a Patrícia': the name may follow a comma
WHEN_ASKED_VISITOR_CUES: tuple[tuple[str, ...], ...] = (
    ("o", "nome", "e"), ("nome", "e"), ("e", "o"), ("e", "a"),
    # someone answering for the one who came ('o nome dela é Zuleide, eu sou a filha', 'ela chama Zilda')
    ("o", "nome", "dela", "e"), ("nome", "dela", "e"), ("o", "nome", "dele", "e"), ("nome", "dele", "e"),
    ("ela", "se", "chama"), ("ele", "se", "chama"), ("ela", "chama"), ("ele", "chama"),
)  # fmt: skip
ANSWER_FILLERS = frozenset("e eh o a sou sua eu meu nome me chamo aqui fala quem dona seu senhor senhora".split())
_WORD = re.compile(r"\w+(?:[-']\w+)*|[.,;:!?]")


@dataclass(frozen=True)
class Word:
    text: str
    folded: str
    capitalized: bool
    clause_end: bool
    question: bool = False  # its clause ended with '?'


@dataclass(frozen=True)
class ApartmentHeard:
    """One reading of an apartment number in an utterance, before the directory is consulted."""

    number: str
    block: str | None
    prior: float  # from the number's shape and its cues (see `concierge.brain.numbers`)
    cued: bool  # 'apartamento 302', 'para o 302', 'do 302'
    negated: bool  # 'não é o 301'
    position: int  # token index: later readings are corrections ("é o 401… não, 402")


@dataclass
class Understanding:
    """What one utterance says. `None` means it said nothing about that slot."""

    intent: Intent | None = None
    intent_strength: int = 0
    visitor_name: str | None = None
    visitor_explicit: bool = False
    visitor_named_self: bool = False  # said with "meu nome é" or "me chamo"
    apartment: str | None = None
    apartments: list[ApartmentHeard] = field(default_factory=list)
    apartment_choices: list[ApartmentHeard] = field(default_factory=list)  # 'o 302 ou o 203': one of them, not known which
    unsure_which: bool = False  # 'não sei, é uma das duas': the apartment said before is not known after all
    block: str | None = None
    correction: bool = False
    answer: bool | None = None  # a yes (True) or no (False) to a read-back
    keyed: bool = False  # digits alone: typed on the keypad
    about_the_resident: bool = False  # 'o morador do 501': whoever lives there
    trailing_name: str | None = None  # a name alone ending the turn after other facts ('casa 20... é a Marinalva'), nobody's here
    bare_name: str | None = None  # the utterance is only a name ('Wanderley.', 'Carteiro Paulo.'), whoever's it is
    role_first: bool = False  # it opens with the speaker's trade ('Carteiro Paulo.')
    resident: str | None = None
    resident_mentions: list[NameMention] = field(default_factory=list)
    resident_cued: bool = False  # the resident's name came after 'para', 'ver', 'dona'…
    resident_of_relation: bool = False  # the resident was named as the visitor's relative's ('mãe do Bernardo')
    resident_of_place: bool = False  # named as whose home the place is ('casa 3, do seu Geraldo')
    visitor_home: str | None = None  # the apartment number the speaker says is theirs ('sou o Carlos do 1101', 'moro no 302')
    resident_gender: str | None = None  # "m" after 'seu'/'o senhor', "f" after 'dona'/'a senhora': who of a family is meant
    resident_weak: bool = False  # one name word, unasked and uncued ('Fula, Jorge.'), or beside name words nobody has ('Neste, José Antonio'): read back
    injection: bool = False
    greeting: str | None = None
    farewell: bool = False
    dont_know: bool = False

    @property
    def informative(self) -> bool:
        return any(v is not None for v in (self.intent, self.visitor_name, self.apartment, self.resident, self.block))


_SYLLABLES = re.compile(r"\b[^\W\d_]{1,4}(?:-[^\W\d_]{1,4})+\b")


def join_syllables(text: str) -> str:
    """A name said syllable by syllable ('Ro-sa Ma-ri-a', 'Wis-niew-ski') is one word; a cue the
    recogniser glued to a title ('Pradona Fátima', 'Proseu Jorge') is two again."""
    return _GLUED_CUE.sub(r"\1 \2", _SYLLABLES.sub(lambda m: m.group(0).replace("-", ""), text))


_GLUED_CUE = re.compile(r"\b(pr[ao]|para|da|do)(dona|seu|senhora|senhor)\b", re.IGNORECASE)


_SUFFIX_JR = re.compile(r"\b(JR|Jr|jr)\b\.?")
_SPOKEN_DOT = re.compile(r"\b([A-Z]) ponto\b")
_INITIAL_DOT = re.compile(r"(?<![\w-])(\w+ )?([A-Z])\. (?=[A-ZÀ-Ý])")
_CAPITALS = re.compile(r"\b[A-ZÀ-Ý]{2,}\b")
_SURNAME_FIRST = re.compile(r"\b([A-ZÀ-Ý]{2,}(?: [A-ZÀ-Ý]{2,})*), ([A-ZÀ-Ý]{2,}(?: [A-Z]\b)?)")
"""A label's 'SANTOS, GREICI K': surname first, in capitals, then the first name."""


def read_label(text: str, directory: Directory) -> str:
    """A name as a parcel label prints it, read aloud ('H. TANAKA', 'M. Aparecida Souza', 'LIMA JR',
    'Nóbrega, B ponto', 'SILVEIRA, PAULO'), written as speech writes names: first name first, 'Júnior' for 'JR', an initial with no full
    stop after it (a stop would end the clause between it and the name), and a word in capitals
    that is a resident's name word or a first name in title case; other capitals ('IBGE', 'SAMU')
    are an organisation's letters, no one's name, written small."""
    text = _SURNAME_FIRST.sub(r"\2 \1", _SPOKEN_DOT.sub(r"\1.", _SUFFIX_JR.sub("Júnior", text)))
    text = _INITIAL_DOT.sub(lambda m: m.group(0) if m.group(1) and fold(m.group(1).strip()) in PLACE_WORDS else (m.group(1) or "") + m.group(2) + " ", text)

    def case(match: re.Match[str]) -> str:
        word = match.group(0)
        named = directory.knows_word(fold(word)) or is_first_name(word)
        return word[:1] + word[1:].lower() if named else word.lower()

    return _CAPITALS.sub(case, text)


def understand(text: str, directory: Directory, asked: list[str] | tuple[str, ...] = ()) -> Understanding:
    """Extract intent, names and apartment from one utterance, given what was last asked."""
    text = read_label(join_syllables(text), directory)
    words = split_words(text)
    folded = " ".join(w.folded for w in words if w.folded)
    result = Understanding(
        intent=detect_intent(folded),
        injection=bool(INJECTION.search(folded)),
        farewell=bool(FAREWELL.search(folded)),
        dont_know=bool(DONT_KNOW.search(folded)),
    )
    if result.intent is None and SOMEONE_HOME.search(text):
        result.intent = Intent.VISITA  # asking whether someone is home: a visit (a hint only)
    if result.intent is None and "intent_type" in asked:
        result.intent = _one_of_the_two(folded)
    if result.intent is None:
        result.intent = _cut_intent_word(text)
    result.intent_strength = intent_strength(folded, result.intent)
    greeting = GREETING.search(folded)
    result.greeting = greeting.group(1).capitalize() if greeting else None
    cased = _is_cased(words)
    visitor_span, result.visitor_explicit = _visitor_span(words, cased, asked, directory)
    if visitor_span is not None:
        result.visitor_name = _name_text(words[visitor_span[0] : visitor_span[1]])
        lead = " ".join(w.folded for w in words[max(0, visitor_span[0] - 3) : visitor_span[0]])
        result.visitor_named_self = bool(re.search(r"(nome e|nome|chamo)$", lead))
    result.visitor_home = _own_home(words, visitor_span)
    result.apartments = apartment_readings(text)
    tokens = numbers.tokens(text)
    result.unsure_which = bool(UNSURE_WHICH.search(folded))
    result.apartments, result.apartment_choices = _either(result.apartments, tokens, result.unsure_which)
    result.apartment = result.apartments[0].number if result.apartments else None
    said_blocks = numbers.blocks(tokens)
    result.block = said_blocks[-1][0] if said_blocks else None
    result.correction = bool(CORRECTION.search(folded))
    result.answer = yes_or_no(folded)
    result.keyed = bool(re.fullmatch(r"[\d#*\s]+", text.strip())) and any(ch.isdigit() for ch in text)
    if result.keyed and not result.apartments:  # one key ('4#' for house 4) is an apartment too
        digits = re.sub(r"\D", "", text).lstrip("0") or "0"
        result.apartments = [ApartmentHeard(digits, None, 1.0, True, False, 0)]
        result.apartment = digits
    result.about_the_resident = bool(THE_RESIDENT.search(folded))
    _find_resident(result, words, cased, directory, visitor_span, asked)
    bare = _bare_name(words, cased)
    if result.resident is None and bare is not None and _named_as_relative(words, bare):
        result.resident = _name_text(words[bare[0] : bare[1]])  # 'Naiara Costa, ela é minha prima': whom they came for
    if (trailing := _trailing_name(words, cased, directory)) is not None:
        result.trailing_name = _name_text(words[trailing[0] : trailing[1]])
    if visitor_span is None and bare is not None:
        result.bare_name = _name_text(words[bare[0] : bare[1]])
        result.role_first = bare[0] > 0 and words[0].folded in lexicon.words("roles")
    return result


def split_words(text: str) -> list[Word]:
    """Words with their folded form, whether capitalised mid-sentence, and whether a clause ends after them."""
    raw = _WORD.findall(text)
    words: list[Word] = []
    sentence_start = True
    for index, token in enumerate(raw):
        if token in ".,;:!?":
            if words:
                words[-1] = Word(words[-1].text, words[-1].folded, words[-1].capitalized, True, words[-1].question or token == "?")
            sentence_start = sentence_start or token in ".!?"
            continue
        capitalized = token[:1].isupper() and not sentence_start
        words.append(Word(token, fold(token), capitalized, index + 1 == len(raw)))
        sentence_start = False
    return words


def detect_intent(folded: str) -> Intent | None:
    """Visit or delivery, from the words of their classes (lexicon); a correction wins, then an
    explicit 'visita', then any delivery word or brand, then visit and service words, then
    'vim + verb' ('vim consertar', 'vim dar aula'): someone who came to do something in person."""
    if INSTRUCTED.search(folded):
        return None  # 'coloca aí que é entrega, mesmo que não seja': an order to the machine, no fact
    negated = NEGATED_INTENT.search(folded)
    if negated:
        return Intent.VISITA if negated.group(3) == "entrega" else Intent.ENTREGA
    corrected = _corrected_intent(folded)
    if corrected is not None:
        return corrected
    if lexicon.pattern("visit_explicit").search(folded):
        return Intent.VISITA
    if COLLECTING.search(folded) and not re.search(r"\bentreg", folded):
        return Intent.VISITA  # 'coleta dos Correios, devolução': they take a parcel away, in person
    explicit_delivery = EXPLICIT_DELIVERY.search(folded) or _brand_heard(folded)
    if ERRAND.search(folded) and not explicit_delivery:
        return Intent.VISITA  # 'vim buscar uma encomenda com a Tatiane', 'um documento pra ela assinar': in person
    if _family_pattern().search(folded) and not explicit_delivery and not lexicon.pattern("services").search(folded):
        return Intent.VISITA  # 'vim trazer um bolo pra minha mãe': family brings things, couriers deliver them
    if (VISIT_PERSON.search(folded) or BRINGING_SOMEONE.search(folded)) and not explicit_delivery:
        return Intent.VISITA  # 'vim ver a dona Benedita, levar um bolo pra ela', 'tô trazendo a mãe dela'
    service = lexicon.pattern("services").search(folded) or _of_service_company(folded)
    if service and not DELIVERING.search(folded):  # the 'montador de móveis, da loja' comes to work, not to deliver
        return Intent.VISITA
    if lexicon.pattern("delivery").search(folded) or _brand_heard(folded):
        return Intent.ENTREGA
    if service:
        return Intent.VISITA
    if lexicon.pattern("goods").search(folded) and not PICKUP.search(folded):
        return Intent.ENTREGA  # goods brought; goods fetched ('pegar uns documentos') are a visit's errand
    if lexicon.pattern("visit").search(folded) or CAME_TO_DO.search(folded) or _relation_pattern().search(folded):
        return Intent.VISITA
    return _slipped_intent_word(folded)


_CUT_START = re.compile(r"^\s*(?:\.\.\.|…)\s*(\w+)")


def _of_service_company(folded: str) -> re.Match | None:
    """'o da Sky', 'sou da Vivo': a technician of a utility or a TV and internet company (never
    the bare word: 'claro!', 'eu vivo aqui')."""
    return _service_company_pattern().search(folded)


@cache
def _service_company_pattern() -> re.Pattern:
    companies = "|".join(sorted(map(re.escape, lexicon.words("service_companies")), key=len, reverse=True))
    return re.compile(rf"\b(?:da|do) (?:{companies})\b")


def _cut_intent_word(text: str) -> Intent | None:
    """'...trega pra torre 1': the end of 'entrega' or 'visita' after a cut start (a hint)."""
    cut = _CUT_START.match(text)
    word = fold(cut.group(1)) if cut else ""
    for intent, said in ANSWER_WORDS.items():
        if len(word) >= 3 and said.endswith(word) and word != said:
            return intent
    return None


def _slipped_intent_word(folded: str) -> Intent | None:
    """'Entreja para a Luciana': the word 'entrega' or 'visita' with one sound slipped on the line
    (a hint, strength 1: it keeps a visitor who then only gives their name from being taken for a visit)."""
    for word in folded.split():
        for intent, said in ANSWER_WORDS.items():
            if len(word) >= 6 and word[0] == said[0] and Levenshtein.distance(word, said, score_cutoff=1) <= 1:
                return intent
    return None


ANSWER_WORDS = {Intent.VISITA: "visita", Intent.ENTREGA: "entrega"}
ANSWER_SLIP, ANSWER_MARGIN = 0.5, 0.3


def _one_of_the_two(folded: str) -> Intent | None:
    """The answer to 'É entrega ou visita?' misheard ('É uma vida.'): a short reply with a word
    clearly nearer one of the two words than the other (a hint, strength 1)."""
    words = [w for w in folded.split() if len(w) >= 4]
    if not words or len(folded.split()) > 6:
        return None
    best: tuple[float, Intent] | None = None
    for word in words:
        near = sorted((Levenshtein.normalized_distance(word, said), intent) for intent, said in ANSWER_WORDS.items())
        if near[0][0] <= ANSWER_SLIP and near[1][0] - near[0][0] >= ANSWER_MARGIN and (best is None or near[0][0] < best[0]):
            best = near[0]
    return best[1] if best else None


def _corrected_intent(folded: str) -> Intent | None:
    """'É visita… quer dizer, entrega': both said, a correction between them: the later one."""
    said = sorted(
        [(m.start(), Intent.VISITA) for m in lexicon.pattern("visit_explicit").finditer(folded)]
        + [(m.start(), Intent.ENTREGA) for m in lexicon.pattern("delivery").finditer(folded)]
    )
    for (before_at, before), (after_at, after) in zip(said, said[1:]):
        if before != after and CORRECTION.search(folded[before_at:after_at]):
            return after
    return None


AFFILIATIONS = frozenset({"loja", "lavanderia", "pedido", "nota fiscal"})
"""Delivery words a worker who comes to work says too: where they come from ('o montador, da
loja'), the order they fit ('o pedido tá no nome dela')."""


def intent_strength(folded: str, intent: Intent | None) -> int:
    """How firmly the words say the intent: 3 a correction ('não é entrega'), 2 a word of the
    intent itself ('visita', a delivery word, a service), 1 a hint ('vim estudar', 'filha da')."""
    if intent is None:
        return 0
    if NEGATED_INTENT.search(folded) or _corrected_intent(folded) is not None:
        return 3
    strong = ("visit_explicit", "services") if intent == Intent.VISITA else ("delivery", "goods")
    if intent == Intent.VISITA and _of_service_company(folded):
        return 2
    if intent == Intent.ENTREGA and {m.group(0) for kind in strong for m in lexicon.pattern(kind).finditer(folded)} <= AFFILIATIONS:
        return 1  # 'eu sou o Raimundo, da loja': where they work, which a montador says too
    if intent == Intent.VISITA and (ERRAND.search(folded) or COLLECTING.search(folded)):
        return 2
    if any(lexicon.pattern(kind).search(folded) for kind in strong) or (intent == Intent.ENTREGA and _brand_heard(folded)):
        return 2
    if intent == Intent.VISITA and _family_pattern().search(folded):
        return 2  # 'sou a madrinha dele' after 'vim trazer o presente': family, not a courier
    return 1


def _brand_heard(folded: str) -> bool:
    """A delivery brand as a recogniser may spell it ('e-fold', 'Ifoote' for iFood), where a
    brand stands: after 'do'/'da' ('sou do …', 'pedido da …'); never a bare word, which is as
    likely a person's name ('Sheila' is one slip from 'Shein').
    One slip is allowed in a sound-alike key of a word, or of a short word joined to the next."""
    tokens = folded.split()
    keys = _brand_keys()
    for index, token in enumerate(tokens):
        if index == 0 or tokens[index - 1] not in {"do", "da"}:
            continue
        spans = [token] + ([token + tokens[index + 1]] if len(token) <= 2 and index + 1 < len(tokens) else [])
        for span in spans:
            if len(span) >= 4 and any(Levenshtein.distance(_sound_key(span), key, score_cutoff=1) <= 1 for key in keys if len(key) >= 4):
                return True
    return False


@cache
def _relation_pattern() -> re.Pattern[str]:
    """'filho do Antônio', 'amiga dela', 'sou a sobrinha': someone related to a resident."""
    relations = "|".join(sorted(lexicon.words("relations"), key=len, reverse=True))
    return re.compile(rf"\b({relations}) (do|da|de|dos|das|dele|dela)\b|\b(sou|somos) (o |a |os |as )?({relations})\b")


WORK_RELATIONS = frozenset({"chefe", "cliente", "funcionaria", "funcionario", "colega", "colegas", "socio", "socia", "paciente", "parceiro", "parceira", "ex"})


@cache
def _family_pattern() -> re.Pattern[str]:
    """'sou a madrinha dele', 'pra minha mãe': a relative or friend of the resident's, declared ('sou a
    irmã Zuleide' is a church title)."""
    family = "|".join(sorted(lexicon.words("relations") - WORK_RELATIONS, key=len, reverse=True))
    return re.compile(rf"\b(sou|somos) (o |a |os |as )?({family}) (do|da|de|dos|das|dele|dela)\b|\b(minha|meu|minhas|meus) ({family})\b")


def _sound_key(word: str) -> str:
    word = word.replace("ph", "f").replace("y", "i").replace("e", "i").replace("u", "o")
    word = re.sub(r"(.)\1", r"\1", word)
    return re.sub(r"[aeiou]+$", "", word) or word


@cache
def _brand_keys() -> tuple[str, ...]:
    return tuple(_sound_key(brand.replace(" ", "")) for brand in lexicon.words("brands"))


CORRECTION_WORDS = frozenset({"nao", "digo", "dizer", "melhor", "desculpa", "desculpe", "perdao", "errei", "alias"})
APARTMENT_LEAD_INS = frozenset({"o", "do", "no", "na", "pro", "pra", "para", "ao"})  # 'na 5': na casa 5


def yes_or_no(folded: str) -> bool | None:
    """A yes or a no at the start of an answer ('Sim, isso mesmo', 'Não, é o 302'), or None."""
    folded = re.sub(r"^(ah |ai |olha |entao |oi |opa |hum |uai |bah |oxe |amem |hai |sim sim )+", "", folded)
    if NO.match(folded):
        return False
    if YES.match(folded):
        return True
    return None


UNSURE_WHICH = re.compile(r"\b(uma das duas|um dos dois|nao sei qual|sei la qual|qual dos dois|qual das duas)\b")
"""The visitor does not know which of the numbers they said is the one."""
CONTRAST = frozenset({"mas", "falou", "disse", "diz", "dizendo", "falando", "fala", "escrito", "mandou"})
"""Between two numbers: two sources that disagree ('o zap fala A 102 e ela falou B 202')."""
REPORTED = CONTRAST | {"mostra", "mostrando"}
"""Right before a number: what a message says ('o zap diz 301'), so no phone number."""


def _either(
    apartments: list[ApartmentHeard], tokens: list[str], unsure: bool
) -> tuple[list[ApartmentHeard], list[ApartmentHeard]]:
    """'1.302 ou 1.203', 'casa 15 ou 16', '15 03? ou 15 04?', '302… não, 203, ou é 302', 'casa 16...
    não, 12?', 'o zap fala A 102, mas ela falou B 202', '… é uma das duas': numbers offered as
    alternatives, or from sources that disagree, name no apartment; they are (the other readings,
    the choices)."""
    best: dict[int, ApartmentHeard] = {}
    for heard in apartments:  # most likely first: one reading where each number starts
        if not heard.negated:
            best.setdefault(heard.position, heard)
    said = sorted(best.values(), key=lambda h: h.position)
    choices: dict[str, ApartmentHeard] = {}
    for first, second in zip(said, said[1:]):
        between = tokens[first.position + 1 : second.position]
        after = tokens[second.position + 1 : second.position + 3]
        either = "ou" in between and len(between) <= 6  # '1.302 ou 1.203'
        contrasted = any(w in CONTRAST for w in between) and len(between) <= 10  # 'o zap fala A 102, mas ela falou B 202'
        doubted = any(w in CORRECTION_WORDS for w in between) and "?" in after  # 'casa 16... não, 12?'
        if (either or contrasted or doubted or unsure) and first.number != second.number:
            choices.setdefault(first.number, first)
            choices.setdefault(second.number, second)
    if len(choices) < 2:
        return apartments, []
    block = next((h.block for h in choices.values() if h.block), None)  # 'bloco A, 302 ou 203': both in A
    at = {h.position for h in choices.values()}
    rest = [h for h in apartments if h.position not in at and h.number not in choices]
    return rest, [h if h.block else replace(h, block=block) for h in choices.values()]


def _phone_number(words: list[str], start: int) -> bool:
    """Whether the number at `start` is (part of) a phone number: 'meu zap é 9 8765 4321', 'liga
    no celular 1203' — a phone word at most two words before it or before the digits it continues."""
    at = start - 1
    while at >= 0 and (words[at].isdigit() or words[at] in {",", "-", "."}):
        at -= 1  # back over the digits said before it
    if at >= 0 and words[at] in REPORTED:
        return False  # 'o zap diz 301': what the message says
    return any(w in PHONE_WORDS for w in words[max(0, at - 1) : at + 1])


def apartment_readings(text: str) -> list[ApartmentHeard]:
    """Every way the utterance can be naming an apartment, most likely first.

    Quantities ('3 caixas'), block labels and a bare 'um' are skipped; a cue ('apartamento',
    'para o') and a later position (a self-correction) make a reading more likely."""
    words = numbers.tokens(text)
    said_blocks = numbers.blocks(words) + _letter_blocks(text, words)
    heard: list[ApartmentHeard] = []
    previous_end = None
    previous_block = None
    previous_value = ""
    for reading in numbers.readings(words):
        corrected = previous_end is not None and any(
            w in CORRECTION_WORDS for w in words[previous_end : reading.start]
        )
        if previous_end is not None and reading.start >= previous_end and len(reading.value) > len(previous_value) > 1:
            corrected = corrected or reading.value.endswith(previous_value)  # 'quinhentos e dois… mil quinhentos e dois'
        if previous_end is None or reading.start >= previous_end:
            previous_end, previous_value = reading.end, reading.value
        after = words[reading.end] if reading.end < len(words) else ""
        before = [w for w in words[max(0, reading.start - 3) : reading.start] if w not in ",-."]
        if after in NUMBER_STOP_AFTER:
            continue
        cued = bool(before) and (before[-1] in APARTMENT_CUES or before[-1] in APARTMENT_LEAD_INS)
        lead = [w for w in words[max(0, reading.start - 4) : reading.start] if w not in ",-.:"]
        if not cued and (any(w in NUMBER_STOP_BEFORE - PHONE_WORDS for w in lead) or _phone_number(words, reading.start)):
            continue  # an order code, a phone, a plate, a time: not where anyone lives
        lone = reading.end - reading.start == 1 and len(reading.value) == 1
        if lone and not (before and (before[-1] in APARTMENT_CUES or (words[reading.start].isdigit() and cued))):
            continue  # 'um pacote', 'duas caixas', a stray '1': one digit is an apartment only when called one
        clause = words[max(0, reading.start - 4) : reading.start]
        negated = "nao" in clause and not any(w in ",." for w in clause[clause.index("nao") + 1 :]) if "nao" in clause else False
        near = [(abs(index - reading.start), index > reading.start, label) for label, index in said_blocks if abs(index - reading.start) <= 6]
        block = min(near)[2] if near else None  # the nearest, one before the number first: 'A 102 e ela falou B 202'

        if block is None and corrected:
            block = previous_block  # 'bloco B, quarenta e três… não, trinta e quatro': the same block
        previous_block = block or previous_block
        prior = reading.prior + (0.25 if cued else 0.0) + (0.3 if corrected else 0.0) - (0.2 if len(reading.value) > 4 else 0.0)
        heard.append(ApartmentHeard(reading.value.lstrip("0") or "0", block, prior, cued, negated, reading.start))
    return sorted(heard, key=lambda h: (not h.negated, h.prior, h.position), reverse=True)


_LETTER_BESIDE_NUMBER = re.compile(
    r"\b([A-H])\s?-?\s?(\d{2,4})\b|\b(\d{2,4})\s?-?\s?([A-H])\b|\b(?:[Dd]o|[Nn]o|[Pp]ro|[Aa]o)\s([a-h])\s?-?\s?(\d{2,4})\b"
)


def _letter_blocks(text: str, words: list[str]) -> list[tuple[str, int]]:
    """A capital letter right beside a number is its block ('A 504', '302-B'), with the number's
    token index; so is a small one after a contraction that already holds the article ('do a 101')."""
    found = []
    for match in _LETTER_BESIDE_NUMBER.finditer(text):
        letter, number = next((match.group(i).upper(), match.group(j)) for i, j in ((1, 2), (4, 3), (5, 6)) if match.group(i))
        if number in words:
            found.append((letter, words.index(number)))
    return found


def _is_cased(words: list[Word]) -> bool:
    """Whether the text capitalises names (speech recognition does; some typists don't): a capital
    mid-sentence, or a capital at the start."""
    return any(word.capitalized for word in words) or bool(words and words[0].text[:1].isupper())


GLUED_PLACE = re.compile(r"(bloco|torre|quadra|apartamento|apto)\w{0,3}")
"""'Blococê': a block and its letter written as one word by the recogniser is no name."""


def _is_name_word(word: Word, cased: bool) -> bool:
    if word.folded in NOT_NAMES or word.folded.startswith(("ex-", "ex ")) or not word.text.replace("-", "").isalpha() or len(word.folded) < 2 or GLUED_PLACE.fullmatch(word.folded):
        return False
    return word.text[:1].isupper() or not cased


def _name_span(words: list[Word], start: int, cased: bool) -> tuple[int, int] | None:
    """The run of name words starting at `start` ('Carlos Pereira', 'Maria da Silva'), at most 4 words."""
    if start >= len(words) or not _is_name_word(words[start], cased):
        return None
    end = start + 1
    while end < len(words) and end - start < 5 and not words[end - 1].clause_end:
        word = words[end]
        if word.folded in PARTICLES and word.folded != "e" and end + 1 < len(words):
            nxt = words[end + 1]
            if cased and nxt.text[:1].isupper() and _is_name_word(nxt, cased):
                end += 2
                continue
            break
        if not _is_name_word(word, cased) or (not cased and end - start >= 3):
            break
        end += 1
    return start, end


def _visitor_span(
    words: list[Word], cased: bool, asked: list[str] | tuple[str, ...], directory: Directory
) -> tuple[tuple[int, int] | None, bool]:
    """Where the visitor says their own name, and whether they said it explicitly ('meu nome é …').

    A cue ('sou o', 'aqui é a', 'fala que é o') may be followed by who they are before the name:
    'sou a sobrinha dela, Marina', 'é o compadre do seu Zé, o Nestor', 'sou o carteiro, Luís'."""
    folded = [w.folded for w in words]
    cues = VISITOR_CUES + WHEN_ASKED_VISITOR_CUES if "visitor_name" in asked else VISITOR_CUES
    said: tuple[int, int] | None = None
    named = False  # said with 'nome' ('meu nome é'), more than 'sou o'
    for index in range(len(words)):
        for cue in cues:
            end = index + len(cue)
            if tuple(folded[index:end]) != cue or any(w.clause_end for w in words[index : end - 1]):
                continue  # 'Fala, o Toninho tá aí?' is a greeting, not 'fala o Toninho'
            if cue[0] == "e" and _someone_elses_relative(folded[max(0, index - 4) : index]):
                continue  # 'a mãe dele é a Érika': the host's name, not the visitor's
            if words[end - 1].clause_end and cue[-1] not in SELF and not (
                cue[-1] == "nome" and not words[end - 1].question and end < len(words) and words[end].capitalized
            ):
                continue  # but 'ah, meu nome, Maicon' names them; 'meu nome? precisa?', 'meu nome. Chama ela' do not
            article = (cue[-1] in SELF or cue[-1] == "e") and end < len(words) and folded[end] in {"a", "o"}
            start = end + 1 if article else end  # 'sou eu, a Patrícia', 'quem tá falando é a Thayná'
            span = _name_span(words, start, cased) or _name_after_who(words, start, cased)
            if span is None and ("nome" in cue or "chamo" in cue):
                span = _uncased_name(words, start)
            elif span is None and (small := _uncased_name(words, start)) and is_first_name(words[small[0]].text):
                span = small  # 'eu sou a duda, sobrinha dela': a first name, written small by the recogniser
            later = said is not None and span is not None and span[0] >= said[1]
            if span is not None and (said is None or (later and (_corrects(folded[said[1] : span[0]]) or ("nome" in cue and not named)))):
                # a later one wins after a correction ('Heitor… não, eu sou o Jorge') or as the real name
                # ('Sou o Magrão… meu nome mesmo é Anderson')
                said, named = _restated(words, span, cased), "nome" in cue
            break
    if said is not None:
        return _repaired(words, _corrected_name(words, said, cased), cased), True
    for index in range(len(words) - 3):  # 'avisa a Juliana que a Paula chegou'
        if folded[index] == "que" and folded[index + 1] in {"o", "a"}:
            span = _name_span(words, index + 2, cased)
            if span is not None and span[1] < len(words) and folded[span[1]] in ARRIVED:
                return span, True
    if (named_after := _name_then_meu_nome(words, cased)) is not None:
        return named_after, True
    opening = None if "resident_name" in asked else (_introduction(words, cased, directory) or _name_then_who(words, cased))
    if opening is not None:
        return opening, True
    if (of_company := _name_of_company(words, cased) or _trade_then_name(words, cased)) is not None:
        return of_company, True
    if "visitor_name" in asked:
        bare = _bare_name(words, cased)
        return (None if bare is not None and _named_as_relative(words, bare) else bare), False
    return None, False


LIVE_IN = re.compile(
    r"\b(?:moro n[oa]|sou (?:o |a )?morador[a]? d[oa]|sou eu d[oa]) (?:bloco |torre )?(?:[a-z] )?(?:apartamento |ap |apto |casa )?(\d+)\b"
)
HOME_WORDS = APARTMENT_CUES | {"bloco", "torre"}


def _own_home(words: list[Word], visitor_span: tuple[int, int] | None) -> str | None:
    """The apartment number the speaker says is their own: right after their name introduced with
    'sou' ('eu sou o Carlos do 1101', 'sou eu, o Davi, do A 302'; 'é a Lúcia, do 901' names whom
    they came for) or with 'moro no'/'sou morador do'/'sou eu da' ('eu moro no 302', 'sou eu da
    casa 9')."""
    folded = [w.folded for w in words]
    if visitor_span is not None and "sou" in folded[max(0, visitor_span[0] - 3) : visitor_span[0]]:  # not 'é a Lúcia, do 901'
        after = folded[visitor_span[1] : visitor_span[1] + 4]
        if after[:1] in (["do"], ["da"]):
            for place in after[1:]:  # 'do 1101', 'da casa 9', 'do A 302', 'do bloco B 302'
                if place.isdigit():
                    return place.lstrip("0") or "0"
                if place not in HOME_WORDS and not (len(place) == 1 and place.isalpha()):
                    break
    lives = LIVE_IN.search(" ".join(folded))
    return lives.group(1).lstrip("0") or "0" if lives else None


def _uncased_name(words: list[Word], start: int) -> tuple[int, int] | None:
    """'Meu nome é a talita.': after 'meu nome é' one word ending the clause is the name, written
    small or not (speech recognition does not always capitalise an unusual name)."""
    at = start + 1 if start < len(words) and words[start].folded in {"a", "o"} else start
    if at >= len(words) or len(words[at].folded) < 3 or not _is_name_word(words[at], cased=False):
        return None
    if words[at].folded in lexicon.words("relations") | lexicon.words("roles") | lexicon.words("interjections"):
        return None
    return (at, at + 1) if words[at].clause_end or at + 1 == len(words) else None


def _among_unknown_names(words: list[Word], mention: NameMention, cased: bool, directory: Directory, taken: set[int]) -> bool:
    """Whether the resident's name was heard among name words nobody here has: one right before
    it in the same name ('José Antonio' for Antônio Souza), or another name said for the resident
    in the same breath ('pra dona Neste, José Antonio'). A phone line garbled that turn."""
    before = mention.start - 1
    if cased and before >= 0 and not words[before].clause_end and before not in taken and _is_name_word(words[before], cased):
        if words[before].folded not in HONORIFICS and not directory.find(words[before].text):
            return True
    for index in range(1, len(words)):
        if index in taken or mention.start <= index < mention.end or words[index - 1].clause_end:
            continue  # 'A paz do Senhor! Somos…': a new sentence, not a name after a cue
        if not _after_resident_cue([w.folded for w in words], index):
            continue
        span = _name_span(words, index, cased)
        if span is not None and cased and not directory.find(" ".join(w.text for w in words[span[0] : span[1]])):
            return True
    return False


def _uncased_resident(words: list[Word], start: int, directory: Directory) -> tuple[int, int] | None:
    """'Encomenda para doblas britos.': words written small after a resident cue that the directory
    can hear as one resident's full name (`Directory.heard_as`, read back before it counts)."""
    end = start
    while end < len(words) and end - start < 3 and words[end].text.isalpha() and words[end].folded not in NOT_NAMES:
        end += 1
        if words[end - 1].clause_end:
            break
    return (start, end) if end - start >= 2 and len(directory.heard_as(" ".join(w.text for w in words[start:end]))) == 1 else None


def _merged_resident(words: list[Word], start: int, directory: Directory) -> tuple[tuple[int, int], str] | None:
    """'pro Jé fez som Lima': a name the recogniser broke into short words, joined again
    ('jefezsom'), that the directory hears as one resident's full name (read back before it counts)."""
    for size in (3, 2):
        piece = words[start : start + size]
        if len(piece) < size or any(len(w.folded) > 4 or not w.text.isalpha() or w.folded in NOT_NAMES for w in piece):
            continue
        if any(w.clause_end for w in piece[:-1]):
            continue
        end = start + size
        while end < len(words) and end - start < size + 2 and not words[end - 1].clause_end and _is_name_word(words[end], cased=False):
            end += 1
        if end == start + size:
            continue
        query = " ".join(["".join(w.folded for w in piece), *(w.text for w in words[start + size : end])])
        if len(directory.heard_as(query)) == 1:
            return (start, end), _name_text([Word(query, fold(query), True, False)])
    return None


def _corrected_name(words: list[Word], span: tuple[int, int], cased: bool) -> tuple[int, int]:
    """'Meu nome é Alemão, quer dizer, Vilmar': a name right after a correction replaces the one said."""
    for index in range(span[1], min(span[1] + 3, len(words))):
        if words[index].folded in CORRECTION_WORDS:
            again = _name_span(words, index + 1, cased)
            return again if again is not None else span
    return span


def _someone_elses_relative(before: list[str]) -> bool:
    """'a mãe dele', 'o pai da menina' just before 'é a …': a relative of someone else is being
    named ('sou a filha dela, é a Marina' is the speaker)."""
    relations = lexicon.words("relations")
    at = next((i for i, w in enumerate(before) if w in relations), None)
    return at is not None and "sou" not in before and any(w in {"dele", "dela", "do", "da"} for w in before[at + 1 :])


def _repaired(words: list[Word], span: tuple[int, int], cased: bool) -> tuple[int, int]:
    """'sou o Marcos... o Márcio, Márcio', 'sou a Rute... Ruth, desculpa': another name right after
    the first, said twice or with 'desculpa', replaces it (a slip of the tongue, repaired)."""
    at = span[1]
    if at >= len(words) or not words[at - 1].clause_end:
        return span
    at += words[at].folded in {"o", "a"}
    second = _name_span(words, at, cased) if at < len(words) else None
    if second is None or words[second[0]].folded == words[span[0]].folded:
        return span
    return second if _repairs([w.folded for w in words], second[0], second[1]) else span


def _repairs(folded: list[str], start: int, end: int) -> bool:
    """Whether the name at start:end is a repair of the one before it: said twice ('o Márcio,
    Márcio') or with 'desculpa'/'digo' right after it ('Sônia, desculpa')."""
    after = folded[end : end + 3]
    return _corrects(after[:2]) or [w for w in after if w not in CORRECTION_WORDS][:1] == [folded[start]]


def _corrects(between: list[str]) -> bool:
    """Whether the words between two introductions take the first back ('não', 'digo', 'aliás')."""
    return any(word in CORRECTION_WORDS for word in between)


RESTATE_FILLERS = frozenset({"tambem", "mesmo", "mesma", "ne", "viu"})


def _restated(words: list[Word], span: tuple[int, int], cased: bool) -> tuple[int, int]:
    """'Priscila, Priscila Duarte': a name said again at once, in full, is the name."""
    after = span[1]
    while after < len(words) and after - span[1] < 2 and words[after].folded in RESTATE_FILLERS and not words[after - 1].clause_end:
        after += 1  # 'Gustavo também, Gustavo Lemos', 'Rita mesmo, Rita Cássia'
    again = _name_span(words, after, cased) if after < len(words) and words[after - 1].clause_end else None
    if again is None:
        return span
    first, repeated = words[span[0]].folded, words[again[0]].folded
    if again[1] - again[0] > span[1] - span[0] and repeated == first:
        return again
    if span[1] - span[0] == 1 and len(repeated) > len(first) and repeated.startswith(first):
        return again  # 'sou o Ro… Robério': a false start
    return span


def _name_after_who(words: list[Word], start: int, cased: bool) -> tuple[int, int] | None:
    """After 'sou o': a relation or role, its owner, then the name: 'sobrinha dela, Marina',
    'genro do seu Carlos, o Fábio', 'carteiro Luís'."""
    who = (lexicon.words("relations") | lexicon.words("roles")) - HONORIFICS
    index = start + 1 if start < len(words) and words[start].folded in {"o", "a", "um", "uma"} else start
    if index < len(words) and words[index].folded in HONORIFICS and not words[index].clause_end:
        return _name_span(words, index + 1, cased)  # 'sou o senhor Armando Peixoto', 'sou a dona Iracema'
    if index >= len(words) or words[index].folded not in who:
        return None
    while index + 1 < len(words) and not words[index].clause_end and words[index + 1].folded in who:
        index += 1
    if not words[index].clause_end:
        span = _name_span(words, index + 1, cased)  # 'o carteiro Luís', 'a irmã Lurdes'
        if span is not None and (cased or words[index].folded in lexicon.words("roles")):
            return span
    if not cased and index + 2 < len(words) and words[index + 1].folded in {"dele", "dela"} and not words[index + 1].clause_end:
        return _name_span(words, index + 2, cased)  # 'sou o primo dela vinícius vim visitar': no comma to wait for
    limit, owner = index + 7, index + 1
    while index < len(words) and index < limit and not words[index].clause_end:
        index += 1  # past the owner: 'dela', 'do seu Carlos'
        if index < len(words) and words[index].folded == "que":
            return None  # 'é o filho dela que eu vim ver, o Vinícius': whom they came for, not their name
    named = {w.folded for w in words[owner : index + 1]}
    index += 1
    if index < len(words) and words[index].folded in {"o", "a", "e", "eh"}:
        index += 1
    span = _name_span(words, index, cased) if index < len(words) else None
    if span is not None and words[span[0]].folded in named:
        return None  # 'sou a diarista da dona Vânia, Vânia Moraes': the owner's name in full, not theirs
    return span


def _after_greetings(words: list[Word]) -> int:
    """The index of the first word after openers ('Oi, boa tarde, …', 'Ô, mano, …')."""
    openers = lexicon.words("interjections") | {"bom", "boa", "dia", "tarde", "noite"}
    start = 0
    while start < len(words) and words[start].folded in openers:
        start += 1
    return start


NAME_SAID_AFTER = (("meu", "nome"), ("e", "meu", "nome"), ("e", "o", "meu", "nome"), ("esse", "e", "meu", "nome"), ("e", "o", "nome"))


def _name_then_meu_nome(words: list[Word], cased: bool) -> tuple[int, int] | None:
    """'é Diego, meu nome', 'Diego é o meu nome': the name, then saying it is theirs, ending the turn."""
    folded = [w.folded for w in words]
    for tail in NAME_SAID_AFTER:
        end = len(words) - len(tail)
        if end < 1 or tuple(folded[end:]) != tail:
            continue
        start = end - 1
        while start > 0 and _is_name_word(words[start - 1], cased) and not words[start - 1].clause_end and end - start < 3:
            start -= 1
        span = _name_span(words, start, cased)
        if span is not None and span[1] == end:
            return span
    return None


def _name_then_who(words: list[Word], cased: bool) -> tuple[int, int] | None:
    """'Elton, sou entregador da loja': a name first, then 'sou …' saying who they are, or what they
    came to do ('Rayane. tô vindo ver a Clara')."""
    start = _after_greetings(words)
    span = _name_span(words, start, cased)
    if span is None or not words[span[1] - 1].clause_end or span[1] + 1 >= len(words):
        return None
    after = [w.folded for w in words[span[1] : span[1] + 2]]
    if is_first_name(words[span[0]].text) and after[0] in SPEAKER_VERBS | {"eu"} and (after[0] != "eu" or after[1] in SPEAKER_VERBS):
        return span  # 'Rayane. tô vindo ver a Clara', 'Uóshington. vim ver a Débora'
    return span if after[0] == "sou" or after == ["eu", "sou"] else None


COMPANIES = lexicon.words("brands") | lexicon.words("service_companies")


def _name_of_company(words: list[Word], cased: bool) -> tuple[int, int] | None:
    """'Robson da Loggi', 'Luan, da Loggi', 'Rafaela, da Total Express': a name opening a clause
    and then the company the speaker comes from is the speaker's own (not after 'pra', 'do')."""
    for start in range(len(words) - 2):
        if start and not words[start - 1].clause_end and words[start - 1].folded not in lexicon.words("interjections"):
            continue
        span = _name_span(words, start, cased)
        if span is None or span[1] + 1 >= len(words) or not (cased or is_first_name(words[start].text)) or len(words[start].folded) < 3:
            continue  # '...ga da shopee': the end of a cut-off 'entrega', no name
        if words[span[1]].folded in {"da", "do"} and words[span[1] + 1].folded in COMPANIES:
            return span
    return None


ADDRESSED_BY_TRADE = frozenset(
    "dona seu senhor senhora doutor doutora professor professora medico medica sindico sindica moca moco rapaz "
    "irma irmao padre pastor pastora freira".split()
)
"""Trades and titles a resident is called by too ('o doutor Paulo', 'a professora Sônia')."""


def _trade_then_name(words: list[Word], cased: bool) -> tuple[int, int] | None:
    """'polícia civil, investigador Borges', 'Carteiro Paulo.': a clause that opens with the
    speaker's trade and then a capitalised name names the speaker."""
    if not cased:
        return None
    trades = lexicon.words("roles") - ADDRESSED_BY_TRADE
    for start in range(len(words) - 1):
        if start and not words[start - 1].clause_end:
            continue
        if words[start].folded in trades and not words[start].clause_end and words[start + 1].text[:1].isupper():
            return _name_span(words, start + 1, cased)
    return None


SPEAKER_VERBS = frozenset("vim vou to tou estou trouxe trago queria quero preciso cheguei tenho".split())
"""After 'É o Rafa, …' these say the name was the speaker's own: 'vim buscar o Nando', 'trouxe…'."""


def _introduction(words: list[Word], cased: bool, directory: Directory) -> tuple[int, int] | None:
    """An opening 'É a Carla, amiga da Paula' or 'Aqui é o Jorge': the name of whoever is speaking,
    unless it is a resident's name said without saying who the speaker is. Later in the turn
    ('… o seu Benedito? É o Cícero, amigo dele') only with who they are."""
    opening = _after_greetings(words)
    for start in range(opening, len(words) - 1):
        if start > opening and not words[start - 1].clause_end:
            continue
        if (words[start].folded, words[start + 1].folded) not in {("e", "o"), ("e", "a"), ("eh", "o"), ("eh", "a")}:
            continue
        span = _name_span(words, start + 2, cased) or _name_after_who(words, start + 2, cased)
        if span is None:
            continue
        after = words[span[1]].folded if span[1] < len(words) else ""
        if words[span[1] - 1].clause_end and after in lexicon.words("relations") | lexicon.words("roles") | {"do", "da"} | SPEAKER_VERBS:
            return span  # 'É a Carla, amiga da Paula', 'É o Rafa, vim buscar o Nando
        if start == opening:
            names_a_place = after in {"do", "da", "no", "na"} or after.isdigit()
            named_resident = bool(directory.find(" ".join(w.text for w in words[span[0] : span[1]])))
            return None if named_resident and (names_a_place or span[1] < len(words) - 1) else span
    return None


def _bare_name(words: list[Word], cased: bool) -> tuple[int, int] | None:
    """A short answer that is just a name: 'Carlos Pereira.', 'É o Diego.'; one garbled
    lead-in word before a comma is skipped ('Soula, Marta Lópis.')."""
    skippable = (ANSWER_FILLERS | lexicon.words("roles") | lexicon.words("interjections")) - RESIDENT_CUES_BEFORE_NAMES
    start, before = 0, -1
    while start != before:  # 'precisa? é Adriano', 'casa 19, éé Greici': asides, fillers and a place, in any order
        before = start = _after_asides(words, start)
        while start < len(words) and (words[start].folded in skippable or HESITATION.fullmatch(words[start].folded)):
            start += 1
        start = _after_place(words, start)
    span = _name_span(words, start, cased)
    if span is not None and _called_out(words, span):
        return None  # 'Enzo, larga isso, menino!': a child told off at the gate, not the visitor's name
    if span is not None and words[span[1] - 1].clause_end and span[1] < len(words):
        following = _name_span(words, span[1], cased)
        if span[1] - span[0] == 1 and following is not None and following[1] - following[0] >= 2 and words[following[0]].folded != words[span[0]].folded:
            return following  # one garbled word, then the full name: 'Soula, Marta Lópis.'
        return _said_again(words, span, cased)  # 'Josias, sou do grupo de dominó dele.', 'Fernando Kruger, da Imobiliária Lar.'
    if len(words) - start <= 5:
        for first in (start, start + 1):
            span = _name_span(words, first, cased)
            if span is not None and (all(w.folded in NOT_NAMES for w in words[span[1] :]) or _spelled_after(words, span[1])):
                return _said_again(words, span, cased)
            if first >= len(words) or not words[first].clause_end:
                break
    return _name_said_last(words, cased)


def _spelled_after(words: list[Word], index: int) -> bool:
    """'Matheus com th', 'Kelly com K e Y': how the name is spelled, after it."""
    rest = [w.folded for w in words[index:]]
    return len(rest) >= 2 and rest[0] == "com" and all(len(w) <= 2 or w in numbers.NUMBER_WORDS for w in rest[1:])


def _said_again(words: list[Word], span: tuple[int, int], cased: bool) -> tuple[int, int]:
    """'Expedito. Ex-pe-di-to. Expedito Alves': the name said again, longer, is the name."""
    at = span[1]
    while at < len(words) and words[at - 1].clause_end:
        again = _name_span(words, at, cased)
        if again is None or words[again[0]].folded != words[span[0]].folded:
            break
        if again[1] - again[0] > span[1] - span[0]:
            span = again
        at = again[1]
    return span


def _name_said_last(words: list[Word], cased: bool) -> tuple[int, int] | None:
    """'a torre não veio no app... Thierry', 'bloco? não faço ideia. Igor': asked their name, the
    visitor says something else first; a known first name alone, last, after a clause, is it."""
    if len(words) < 2 or not words[-2].clause_end:
        return None
    last = words[-1]
    known = is_first_name(last.text) or (last.text[:1].isupper() and len(last.folded) >= 3)
    return (len(words) - 1, len(words)) if known and _is_name_word(last, cased) else None


RELATIVE_AFTER = re.compile(r"^(?:ela|ele) (?:e|eh) (?:a |o )?(?:minha|meu) (\w+)")


def _named_as_relative(words: list[Word], span: tuple[int, int]) -> bool:
    """'Naiara Costa, ela é minha prima': the name is the speaker's relative (whom they came for),
    not theirs."""
    after = " ".join(w.folded for w in words[span[1] : span[1] + 6])
    relation = RELATIVE_AFTER.match(after)
    return relation is not None and relation.group(1) in lexicon.words("relations")


def _trailing_name(words: list[Word], cased: bool, directory: Directory) -> tuple[int, int] | None:
    """'Tereza Bastos, casa 20... é a Marinalva', 'torre 2, moço. Kauê', 'D de dado. Zé Carlos':
    after other clauses, a last one that is only a name ('é a', 'sou o' before it at most) of
    nobody here. Whose it is depends on what the visitor already said (the rules decide)."""
    end = len(words)
    start = next((i for i in range(end - 2, -1, -1) if words[i].clause_end), None)
    if start is None or not cased:
        return None
    at = start + 1
    lead = [w.folded for w in words[at : at + 2]]
    at += 2 if lead in (["e", "a"], ["e", "o"], ["sou", "a"], ["sou", "o"]) else 1 if lead[:1] in (["e"], ["sou"]) else 0
    if not 1 <= end - at <= 2 or words[end - 1].question:
        return None
    if not all(w.text[:1].isupper() and _is_name_word(w, cased) and len(w.folded) >= 2 for w in words[at:end]):
        return None
    if not (is_first_name(words[at].text) or len(words[at].folded) >= 3) or any(directory.knows_word(w.folded) for w in words[at:end]):
        return None
    return at, end


CALLED = frozenset({"menino", "menina", "moleque", "crianca", "criatura"})  # not "filha": "Marina, filha dela" is who she is


def _called_out(words: list[Word], span: tuple[int, int]) -> bool:
    """A name then, in the same sentence, 'menino', 'menina'…: a child beside the visitor called to."""
    end = span[1]
    while end < len(words) and end - span[1] < 6:
        if words[end].folded in CALLED:
            return True
        if words[end].text[-1:] in "!?" or (end > span[1] and words[end - 1].clause_end and words[end - 1].question):
            break
        end += 1
    return False


HESITATION = re.compile(r"e+h*|a+h*|h+u+m+|u+m+|ta|tah|bom")
"""Sounds and words said while thinking, before a name: 'éé', 'ahh', 'hum', 'tá bom, Tais'."""


def _after_asides(words: list[Word], start: int) -> int:
    """Past the clauses an answer to 'Qual é o seu nome?' may open with before the name: questions
    back ('precisa de nome? pra quê? … é Adriano', 'meu nome? precisa? tá, Raí') and a number
    finishing the last answer ('101... é Nélson')."""
    while start < len(words):
        end = next((i for i in range(start, len(words)) if words[i].clause_end), len(words) - 1)
        clause = words[start : end + 1]
        if not (words[end].question or all(w.folded.isdigit() or w.folded in numbers.NUMBER_WORDS for w in clause)):
            return start
        start = end + 1
    return start


def _after_place(words: list[Word], start: int) -> int:
    """'torre 2. Ana Clara', 'casa 1. Caio': a place said first, finishing the last turn's answer,
    ends at its clause; the index after it (or `start` when the answer does not open with one)."""
    if start >= len(words) or words[start].folded not in APARTMENT_CUES | numbers.BLOCK_WORDS:
        return start
    for end in range(start + 1, min(start + 5, len(words))):
        word = words[end].folded
        if not (word.isdigit() or word in numbers.NUMBER_WORDS or word in numbers.LETTER_WORDS or len(word) == 1):
            return start
        if words[end].clause_end:
            return end + 1
    return start


def _name_text(words: list[Word]) -> str:
    return " ".join(w.text if w.folded in PARTICLES else w.text[:1].upper() + w.text[1:] for w in words)


def _find_resident(
    result: Understanding,
    words: list[Word],
    cased: bool,
    directory: Directory,
    visitor_span: tuple[int, int] | None,
    asked: list[str] | tuple[str, ...],
) -> None:
    """Fill `resident` with the name words said for the resident, and the directory places they match."""
    taken = set(range(*visitor_span)) if visitor_span else set()
    folded = [w.folded for w in words]
    if visitor_span and words[visitor_span[1] - 1].clause_end:  # 'o Tonhão. Antônio, no caso': the same person
        again = _name_span(words, visitor_span[1], cased)
        if again is not None and again[1] - again[0] == 1 and (again[1] >= len(words) or words[again[0]].clause_end):
            taken |= set(range(*again))
    taken |= _self_named(words, cased)  # 'Meu nome é Heitor… não, eu sou o Jorge': Heitor is no resident here
    taken |= _phrase_words(folded, lexicon.pattern("delivery"))  # 'Zé Delivery' is a shop, not a Zé
    cue_before = [i > 0 and folded[i - 1] in RESIDENT_CUES for i in range(len(words))]
    fuzzy = [(w.capitalized or cue_before[i]) and i not in taken for i, w in enumerate(words)]
    mentions = [
        m
        for m in _with_initials(directory.scan(folded, fuzzy), words)
        if not taken.intersection(range(m.start, m.end))
        and (m.first_name or _surname_called(words, m, cased) or _named_in_full(words, m, cased))
        and folded[m.start] not in NOT_NAMES
        and not (m.start > 0 and folded[m.start - 1] in SAINTS)  # 'Farmácia São João' is a shop
        and not (m.end - m.start == 1 and m.start > 0 and folded[m.start - 1] in {"das", "dos"})  # 'Solar das Rosas'
        and not _contradicted(m, words, cased)
        and not _denied(m, words)
        and not NOT_COMING.search(" ".join(folded[m.end : m.end + 14]))
    ]
    if len({m.resident for m in mentions}) > 1:  # 'a Sandra tá viajando, é o filho dela, o Vinícius'
        mentions = [m for m in mentions if not ABSENT.match(" ".join(folded[m.end : m.end + 3]))] or mentions
    if mentions:
        def strength(m: NameMention) -> tuple:
            cued = any(cue_before[i] for i in range(max(0, m.start - 1), m.start + 1))
            owner = _owned_by_relation(folded, m.start, m.end) and not m.start == 0
            return (not owner, m.matched, cued, m.first_name, m.exact)  # 'o filho do seu Giuseppe… o Enzo': Enzo

        top = max(strength(m) for m in mentions)
        best = [m for m in mentions if strength(m) == top]
        first = min(best, key=lambda m: m.start)
        chosen = [m for m in best if (m.start, m.end) == (first.start, first.end)]
        if len({m.resident for m in chosen}) > 1:  # 'Luciana … Farias': other words of one name settle it
            support = {m.resident: sum(1 for o in mentions if o.resident == m.resident and o.start != m.start) for m in chosen}
            most = max(support.values())
            if most and list(support.values()).count(most) == 1:
                chosen = [m for m in chosen if support[m.resident] == most]
        if (instead := _resident_corrected(words, mentions, first, cue_before)) is not None:
            first, chosen = instead, [m for m in mentions if (m.start, m.end) == (instead.start, instead.end)]
        result.resident = " ".join(w.text for w in words[first.start : first.end])
        result.resident_mentions = chosen
        # read back before anyone is told: a name said with no cue, unasked ('Fula, Jorge.'; a full name
        # Whisper copied from its prompt into noise: 'Water Valley, Letícia Nogueira'), or one word
        # that only a nickname or a slip ties to a resident ('eu sou a duda' is no Eduardo)
        uncued = not strength(first)[2] and "resident_name" not in asked
        slipped = first.matched < 2 and not first.exact
        result.resident_weak = uncued or slipped or _among_unknown_names(words, first, cased, directory, taken)
        result.resident_of_relation = _owned_by_relation(folded, first.start, first.end)
        result.resident_of_place = _owns_the_place(folded, first.start)
        result.resident_cued = strength(first)[2]
        result.resident_gender = _honorific_gender(folded[max(0, first.start - 2) : first.start])
        return
    for index in range(1, len(words)):
        if index not in taken and _after_resident_cue(folded, index):
            merged = _merged_resident(words, index, directory)
            span = merged[0] if merged else _name_span(words, index, cased) or _uncased_resident(words, index, directory)
            if span is not None and not merged:
                span = _restated(words, span, cased)  # 'pro senhor Di... Dimítri Bondarenco': a false start
                if span[1] - span[0] == 1 and len(words[span[0]].folded) <= 3 and words[span[0]].clause_end:
                    span = _name_span(words, span[1], cased) or span  # 'Ge... Jetúlio Amarau': begun, then said whole
            if span is not None and not taken.intersection(range(*span)):
                result.resident = merged[1] if merged else _name_text(words[span[0] : span[1]])
                return
    for index in range(1, len(words)) if cased else ():  # '…, 1503, Queiti Silva': a full name, garbled, after a place
        if index in taken or not words[index - 1].clause_end:
            continue
        span = _name_span(words, index, cased)
        if span is not None and span[1] - span[0] >= 2 and not taken.intersection(range(*span)):
            said = _name_text(words[span[0] : span[1]])
            unsure = words[span[1] - 1].question or any(w.folded in HARD_TO_SAY for w in words)
            if len(directory.heard_as(said)) == 1 or ("resident_name" in asked and unsure):  # 'começa com Z... Zang Uei?'
                result.resident, result.resident_weak = said, True  # read back before anyone is told
                return
    if "resident_name" in asked and result.visitor_name is None:
        span = _bare_name(words, cased)
        if span is not None:
            result.resident = _name_text(words[span[0] : span[1]])


HARD_TO_SAY = frozenset({"estrangeiro", "estrangeira", "escreve", "pronunciar", "falar", "comeca", "gringo", "gringa"})
"""A courier reading a name they cannot say ('é um nome estrangeiro, começa com Z... Zang Uei?')."""
MASCULINE = frozenset({"seu", "senhor", "sr", "doutor", "dr", "senor", "monsieur", "mr", "mister"})
FEMININE = frozenset({"dona", "senhora", "sra", "doutora", "dra", "senora", "madame", "mrs", "miss", "ms", "madam"})


def _honorific_gender(before: list[str]) -> str | None:
    """'pro senhor Guimarães' -> "m", 'da dona Guimarães' -> "f": the words just before a name."""
    if before and before[-1] in MASCULINE:
        return "m"
    if before and before[-1] in FEMININE:
        return "f"
    return None


ABSENT = re.compile(r"(ta|esta|tava|estava) viajando|nao (ta|esta|mora)|saiu|viajou|mudou|se mudou")
NOT_COMING = re.compile(r"\b(?:ele|ela) nao (?:pode|vai|conseguiu|deu pra) vir\b|\b(?:ele|ela) nao veio\b")
"""Said after a name in the same breath: that person is not the one at the gate, nor whom they came for ('o Pedro é meu irmão… ele não pôde vir')."""
"""Said right after a resident's name: not the one the visitor came for ('a Sandra tá viajando')."""


def _surname_called(words: list[Word], mention: NameMention, cased: bool) -> bool:
    """A surname alone counts after a title ('seu Rebouças', 'família Tanaka'), or capitalised
    after an article ('o Rebouças tá?', 'o Ferreira do 302', 'pros Nogueira do 504')."""
    before = words[mention.start - 1].folded if mention.start > 0 else ""
    if mention.start > 1 and before == "aqui" and words[mention.start - 2].folded in LABEL_CUES:
        before = "escrito"  # 'tá escrito aqui Santos'
    if before in SURNAME_CUES or before in LABEL_CUES:
        return True
    return cased and before in FAMILY_ARTICLES and words[mention.start].capitalized


def _named_in_full(words: list[Word], mention: NameMention, cased: bool) -> bool:
    """Two or more of one resident's name words said together, capitalised, count without a first
    name or a title: a label's 'Lima Júnior', 'H Tanaka', 'Greici Kelly Ferreira' (the first
    word garbled), 'destinatário: Oliveira Santos, Gabriel'."""
    return cased and mention.matched >= 2 and words[mention.start].text[:1].isupper()


def _initial(word: Word) -> str | None:
    """A capital letter said alone, as a label's initial ('H', 'M'); not the articles 'A', 'O', 'E'."""
    return word.folded if len(word.text) == 1 and word.text.isupper() and word.folded not in {"a", "e", "o"} else None


def _with_initials(mentions: list[NameMention], words: list[Word]) -> list[NameMention]:
    """A label's initial beside a resident's name words ('H Tanaka', 'Nóbrega, B', 'M Aparecida
    Souza', 'Greici K Santos') is one more word matched when it is the initial of one of their
    names; a resident with no name of that initial is no match for an initial before the words."""
    kept = []
    for mention in mentions:
        start, end = mention.start, mention.end
        said = [w.folded for w in words[start:end]]
        tokens = [t for t in mention.resident.tokens if not any(tokens_match(w, t) for w in said)]  # the names not said
        before = _initial(words[start - 1]) if start > 0 and not words[start - 1].clause_end else None
        if before is not None and start > 1 and words[start - 2].folded in PLACE_WORDS:
            before = None  # 'bloco B Ana Clara': a block letter
        last = end + 1 == len(words) or (end < len(words) and words[end].clause_end)
        after = _initial(words[end]) if end < len(words) and last else None
        if before is not None:
            if before not in {token[0] for token in tokens}:
                continue
            mention = replace(mention, start=start - 1, matched=mention.matched + 1)
        elif after is not None and after in {token[0] for token in tokens}:
            mention = replace(mention, end=end + 1, matched=mention.matched + 1)
        kept.append(mention)
    return kept


FAMILY_ARTICLES = frozenset({"o", "a", "do", "da", "pro", "pra", "os", "as", "pros", "pras", "aos", "los", "las"})
"""Before a capitalised surname alone: 'o Ferreira do 302', and a family: 'pros Nogueira', 'los Nakamura'."""


def _resident_corrected(words: list[Word], mentions: list[NameMention], first: NameMention, cue_before: list[bool]) -> NameMention | None:
    """'É pra dona Rosa… não, desculpa, … É pra dona Jandira': another resident, named with a cue
    after a correction, replaces the first ('… não o Carlos' takes one back instead); so does one
    repaired on the spot, said twice or with 'desculpa' ('a Sandra... Sônia, desculpa, Sônia')."""
    folded = [w.folded for w in words]

    later = [
        m for m in mentions
        if m.start >= first.end and m.resident != first.resident and (cue_before[m.start] or _repairs(folded, m.start, m.end))
        and (_corrects(folded[first.end : m.start]) or _repairs(folded, m.start, m.end)) and "nao" not in folded[max(first.end, m.start - 3) : m.start]
    ]  # fmt: skip
    return max(later, key=lambda m: m.start) if later else None


def _self_named(words: list[Word], cased: bool) -> set[int]:
    """Indexes of every name said right after 'meu nome é' / 'me chamo' (or 'sou o' before them),
    even one taken back."""
    folded = [w.folded for w in words]
    named: set[int] = set()
    for index in range(len(words)):
        for cue in (("meu", "nome", "e"), ("me", "chamo"), ("sou", "o"), ("sou", "a")):
            end = index + len(cue)
            if cue[0] == "sou" and "nome" not in folded[end:]:
                continue  # 'sou o Magrão… meu nome mesmo é Anderson': only when a real name follows
            if tuple(folded[index:end]) == cue and (span := _name_span(words, end, cased)) is not None:
                named |= set(range(*span))
    return named


def _phrase_words(folded: list[str], pattern: re.Pattern[str]) -> set[int]:
    """Indexes of the words inside multi-word matches of `pattern` in the folded words."""
    text, starts, position = "", [], 0
    for word in folded:
        starts.append(position)
        text += word + " "
        position += len(word) + 1
    covered: set[int] = set()
    for match in pattern.finditer(text):
        if " " in match.group(0):
            covered |= {i for i, at in enumerate(starts) if match.start() <= at < match.end()}
    return covered


def _owns_the_place(folded: list[str], start: int) -> bool:
    """Whether the name at `start` says whose home the place just given is: 'casa 3, do seu Geraldo',
    'o 302 da dona Neide'."""
    index = start - 1
    while index >= 0 and folded[index] in SURNAME_CUES:
        index -= 1
    if index < 1 or folded[index] not in {"do", "da"}:
        return False
    place = folded[index - 1]
    return place.isdigit() or place in numbers.NUMBER_WORDS or len(place) == 1 or bool(re.fullmatch(r"[a-z]?\d+[a-z]?", place))


def _owned_by_relation(folded: list[str], start: int, end: int | None = None) -> bool:
    """Whether the name at `start` is a relation of the visitor's or of someone's: 'mãe do Bernardo',
    'amiga da dona Rute', 'Heitor é o meu neto', 'meu neto Heitor'."""
    relations = lexicon.words("relations")
    index = start - 1
    while index >= 0 and folded[index] in SURNAME_CUES | {"o", "a"}:
        index -= 1
    if index >= 1 and folded[index] in {"do", "da", "de"} and folded[index - 1] in relations:
        return True
    if index >= 0 and folded[index] in relations:
        return True  # 'meu neto Heitor', 'mora com a mãe, a Eunice': someone's relative
    after = folded[end : (end or 0) + 4] if end is not None else []
    if len(after) >= 2 and after[0] in {"meu", "minha"} and after[1] in relations:
        return True  # 'a Cida, minha muié': the visitor's own relative
    return len(after) >= 3 and after[0] in {"e", "eh"} and any(w in relations for w in after[1:4]) and any(w in {"meu", "minha"} for w in after[1:3])


def _denied(mention: NameMention, words: list[Word]) -> bool:
    """'Não, Denise não', 'não é a Denise, é a Vânia': a name said to be not the one."""
    folded = [w.folded for w in words]
    after = (  # 'Denise não.', not 'Rosa… não, desculpa, …' (a repair, read by `_resident_corrected`)
        folded[mention.end : mention.end + 1] == ["nao"] and not words[mention.end - 1].clause_end
        and (mention.end + 1 == len(words) or words[mention.end].clause_end)
    )  # fmt: skip
    before = [w for w in folded[max(0, mention.start - 4) : mention.start] if w not in HONORIFICS and w not in {"a", "o"}]
    lead = words[max(0, mention.start - 4) : mention.start]
    return after or (before[-2:] in (["nao", "e"], ["nao", "eh"]) and not any(w.clause_end for w in lead))


def _contradicted(mention: NameMention, words: list[Word], cased: bool) -> bool:
    """'Camila Rezende' is not Camila Cardoso, nor 'Rosilene Farias' Luciana Faria: a name word said
    right after the match (or, for a surname alone, right before it) is none of the resident's."""
    if not cased:
        return False
    beside = []
    if mention.end < len(words) and not words[mention.end - 1].clause_end:
        beside.append(words[mention.end])
    if not mention.first_name and mention.start > 0 and not words[mention.start - 1].clause_end:
        beside.append(words[mention.start - 1])  # a surname alone: whose first name came before it?
    return any(
        word.text[:1].isupper() and _is_name_word(word, cased) and word.folded not in PARTICLES
        and not any(tokens_match(word.folded, known) or sounds_alike(word.folded, known) for known in mention.resident.tokens)
        for word in beside
    )


VISIT_VERBS = frozenset({"para", "pra", "pro", "com", "ver", "visitar", "buscar", "pegar", "chamar"})


def _after_resident_cue(folded: list[str], index: int) -> bool:
    """'para a X', 'falar com o X', 'dona X', 'seu X': a resident's name may start at `index`."""
    previous = folded[index - 1]
    if previous in {"a", "o"}:
        if index >= 2 and folded[index - 2] in VISIT_VERBS:
            return True
        index -= 1  # 'ver minha prima, a Juliana': the relative is named after the relation
        previous = folded[index - 1] if index >= 1 else ""
    if previous in lexicon.words("relations") and index >= 3:
        return folded[index - 2] in {"minha", "meu"} and folded[index - 3] in VISIT_VERBS - {"com"}  # 'ver meu tio Osvaldo'
    if previous in {"ta", "diz", "fala", "mostra"} and index >= 2 and folded[index - 2] in WRITTEN_IN:
        return True  # 'no app tá Mariaeduarda Fontes', 'na ordem de serviço tá: …', 'o zap diz …'
    if previous in {"da", "do"} and index >= 2 and (folded[index - 2].isdigit() or folded[index - 2] == "casa"):
        return True  # 'é o 102 da Mariaeduarda', '3 01, da Greici', 'vim na casa da Greici': whose the apartment is
    return previous in RESIDENT_CUES
