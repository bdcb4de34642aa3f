"""A resident's answer to "Posso liberar?", in pt-BR words or keypad digits: one `Answer`.

The words live in `data/decision.json` by class (authorize, deny, leave_at_gate,
resident_coming, question, voicemail), kept apart from the visitor's lexicon because a resident
answers a different question with different words. Reading is small and generic:

- a mailbox's greeting or the carrier's message ("deixe sua mensagem após o sinal", "fora da área
  de cobertura") is no person's answer: a voicemail phrase anywhere makes the whole of it
  `VOICEMAIL`, whatever else it says ("no momento não posso atender" is no refusal);
- the answer is cut into clauses (punctuation, "mas"); in each, phrases of every class match
  as whole words, longest first ("pode mandar embora" is a refusal, "pode repetir" a question);
- "pode" alone is a yes only when nothing but fillers follows it: "pode falar", "pode deixar",
  "pode recusar", "pode colocar na caixa" say what the verb says, not yes;
- a clause asked back ("Subir?", "Liberar? Liberar nada!", "Sim? Quem fala?") echoes the
  question: its yes is no yes;
- "tá bom", "ok", "beleza" are a yes only when the whole answer is such words, yes words and
  fillers ("Tá bom, obrigada pela ligação" is no yes); a hedge ("acho que pode", "pode, mas só se
  for o Carlos") takes the yes out;
- leaving a delivery is a leave verb and a place ("larga aí na portaria", "bota no armário",
  "deixa com o seu Zé", "deixa aí que eu pego") before any verb of coming up;
- a negator up to three words before a yes, or a trailing "não" right after it ("pode subir
  não"), makes it a no; a negator that negates nothing is itself a no. Negation always wins;
- the most specific outcome decides: leave at the gate, then resident coming down. A yes and a
  no together are a yes only when the last clause that decides anything insists on it ("Não,
  pode subir sim"); otherwise that clause says which ("Sim… não, espera. Não, não deixa" is a
  no; "Não, pode subir" is asked again: one comma from "Não pode subir"). A last clause that
  asks ("Pode… quem é?", "Não pedi nada… de onde é?") is a question; then no, yes, a question.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from enum import StrEnum
from functools import cache, lru_cache
from pathlib import Path

from concierge.brain.text import fold

DECISION_FILE = Path(__file__).with_name("data") / "decision.json"
NEGATION_REACH = 3
"""How many words before a yes a negator still reaches: 'não é pra liberar'."""


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
AGAIN = (("de", "novo"), ("outra", "vez"))
MAYBE_NUM = frozenset({"um", "hum"})  # 'um pode subir' may be 'num pode subir': no yes
KEYPAD_FILLERS = frozenset({"o", "a", "ja", "numero", "botao"})  # 'apertei o 2 já'
REPORTING = frozenset({"fala", "falar", "diz", "dizer", "avisa", "avisar", "explica", "responde"})  # 'fala que eu não posso atender'
CONDITION_AFTER = re.compile(r"^(?:(?:ele|ela|o|a|nao|voce|vc)\s+)?\w+r\b")  # 'se for', 'se ele tiver', 'se não for'
NOT_CONDITION_BEFORE = frozenset({"pode", "pra", "para", "vai", "ele", "ela", "voce", "vc", "que", "nao"})  # 'pode se identificar'
STATEMENT_NO = "statement_no"  # a 'não' that negates something else than letting in ('não conheço pelo nome')
STATEMENT_FILLERS = frozenset({"mesmo", "mesma", "senhor", "senhora", "nada", "moco", "moca", "ne"})
HESITATION = frozenset({"espera", "pera", "perai", "calma"})  # 'sim… não, espera': the 'não' stops to think, it refuses nothing
WAIT_VERBS = frozenset({"esperar", "espera", "aguardar", "aguarda", "aguarde"})  # 'deixa ele esperar aí': the visitor, not a parcel
"""The digits the prompt offers: "tecle 1 para sim e 2 para não"."""

_CLASSES = ("authorize", "deny", "leave_at_gate", "resident_coming", "question", "acknowledge", "neutral", "identity")
_DECIDING = (Answer.AUTHORIZE, Answer.DENY, Answer.QUESTION)
_CLAUSE = re.compile(r"(.*?)([,.;:!?…]+|\s(?:mas|porem|porém)\s|$)", re.IGNORECASE | re.DOTALL)
_AFTER_PODE = frozenset({"pode", "sim", "ue", "uai", "oxe", "ne", "viu", "ta", "moco", "moca", "so", "claro", "entao", "ai"})
_FILLERS = frozenset({"ne", "entao", "ai", "viu", "moco", "moca", "obrigado", "obrigada", "e", "eh", "ah", "oi", "sim", "pode", "ta", "uai", "ue", "oxe", "bah", "valeu", "tmj", "tche", "so"})
_LAUGH = re.compile(r"(?:h[aeiu]){2,}h?|k{3,}|(?:rs){2,}")
_YES_VERBS = frozenset({"subir", "sobe", "suba", "entrar", "entra", "passar", "passa", "liberar", "libera"})
PERMISSION_WORDS = _YES_VERBS | frozenset(
    "pode podem deixa deixar deixo abre abra abrir abro manda mandar autorizo autoriza autorizar quero precisa".split()
)  # 'não pode', 'não deixa', 'não é pra subir': a refusal of the visit itself
_COMPANIONS = frozenset({"o", "a", "seu", "dona", "ele", "ela", "voces", "vcs", "voce"})
_ABOUT_THE_VISIT = re.compile(
    r"^(que|quem|qual|quais|onde|como|quando)\b|^(de|da|do) (onde|que|qual|quem)\b|\be (do|da|de|dos|das)\b|\b(pra|para) mim\b|\bou\b"
    r"|^e (o|a) \w+|\bde que$"  # 'é o Carlos da academia?', 'Fernanda de quê?'
    r"|\b(ele|ela|encomenda|entrega|pacote|cracha|uniforme|empresa|loja|documento|identidade)\b"
)


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
def _phrases_of(kind: str) -> tuple[tuple[str, ...], ...]:
    """A class's phrases ('voicemail', 'hedges') as folded words."""
    return tuple(tuple(fold(p).split()) for p in _data()[kind])


@cache
def _words_of(kind: str) -> frozenset[str]:
    """A class of single words ('negators', 'keypad', 'leave_verbs', 'leave_places'), folded."""
    return frozenset(fold(w) for w in _data()[kind])


def read_keypad(digit: str) -> Answer:
    """A DTMF digit: 1 is yes, 2 is no, anything else is not understood."""
    return KEYPAD.get(digit, Answer.UNCLEAR)


def read_answer(text: str) -> Answer:
    """What a resident's spoken (transcribed) answer means."""
    if is_voicemail(text):
        return Answer.VOICEMAIL
    said = _after_hesitation([(_spoken(_unglued(fold(words).split())), "?" in end) for words, end in _clauses(_cut_no(text))])
    clauses = [_clause_signals(words, asked) for words, asked in said]
    conditioned = [_conditional(words) for words, _ in said]
    for index, signals in enumerate(clauses):
        if conditioned[index]:  # 'se for o Carlos pode, se não for não': Apoena cannot check the condition
            signals.discard(Answer.DENY)
            signals.discard(STATEMENT_NO)
    if _picked_up_late(said):
        return Answer.UNCLEAR
    if _ironic(said):
        return Answer.UNCLEAR  # 'Ah, claro, vou abrir pro vendedor de panela às onze da noite, né.'
    words = [w for clause, _ in said for w in clause]
    hedged = _contains(words, _phrases_of("hedges")) or any(conditioned)
    identified = any("identity" in signals for signals in clauses)
    for index, signals in enumerate(clauses):
        signals.discard("identity")
        bare = all(w in _FILLERS or w in _ack_words() for w in said[index][0])
        if identified and bare:  # 'Sim, sou eu.': a yes to 'is it you?', not to letting anyone in
            signals.discard(Answer.AUTHORIZE)
        if index == 0 and _cut_at_start(text) and not _insists(said[0][0]):
            signals.discard(Answer.AUTHORIZE)  # '...de subir': the lost start may have been 'não po-'
        if index == len(clauses) - 1 and _cut_at_end(text) and not _insists(said[index][0]):
            signals.discard(Answer.AUTHORIZE)  # 'pode...', 'pode su-': the lost end may have been '… não'
    for signals in clauses:
        if hedged:
            signals.discard(Answer.AUTHORIZE)
        if "acknowledge" in signals:  # 'tá bom': a yes only when nothing else is said
            signals.discard("acknowledge")
            if not hedged and all(w in _FILLERS or w in _ack_words() for w in words):
                signals.add(Answer.AUTHORIZE)
    _settle_statements(clauses, said)
    signals = set().union(*clauses) if clauses else set()
    for answer in (Answer.LEAVE_AT_GATE, Answer.RESIDENT_COMING):
        if answer in signals:
            return answer
    refused = max((i for i, clause in enumerate(clauses) if Answer.DENY in clause), default=None)
    after_no = [] if refused is None else [w for words, _ in said[refused + 1 :] for w in words]
    if refused is not None and _contains(after_no, _phrases_of("hedges")):
        return Answer.UNCLEAR  # 'Sim… não… sei lá': a hedge after the last no, they do not know yet
    deciding = [index for index, clause in enumerate(clauses) if clause & set(_DECIDING)]
    last = clauses[deciding[-1]] if deciding else set()
    if {Answer.AUTHORIZE, Answer.DENY} <= signals:  # a yes only when the last words insist on it
        assert refused is not None
        if last == {Answer.AUTHORIZE} and _insists(after_no):
            return Answer.AUTHORIZE  # 'Não, pode subir sim', 'Pode. Não! Espera… pode, pode sim', '…mas pode liberar, pode liberar'
        return Answer.DENY if Answer.DENY in last else Answer.QUESTION if Answer.QUESTION in last else Answer.UNCLEAR
    if Answer.QUESTION in last and Answer.AUTHORIZE not in last:
        return Answer.QUESTION  # 'Pode… quem é?', 'Não pedi nada… de onde é?': they want to know first
    for answer in (Answer.DENY, Answer.AUTHORIZE, Answer.QUESTION):
        if answer in signals:
            return answer
    return Answer.UNCLEAR


def _settle_statements(clauses: list[set], said: list[tuple[list[str], bool]]) -> None:
    """A 'não' that negates something else ('não conheço pelo nome, mas é o pedreiro…, pode
    liberar', 'nem reconheci a voz, é o meu primo, pode subir', 'não é pra mim, mas pode abrir')
    gives way to a plain yes said after it, last, with a verb of letting in; otherwise it is a no."""
    last = max((i for i, c in enumerate(clauses) if c & set(_DECIDING)), default=None)
    stated = [i for i, c in enumerate(clauses) if STATEMENT_NO in c]
    gives_way = (
        last is not None and clauses[last] == {Answer.AUTHORIZE} and not said[last][1] and stated and stated[-1] < last
        and any(w in _YES_VERBS or w in ("pode", "abre", "abrir", "manda") for w in said[last][0])
    )  # fmt: skip
    for index in stated:
        clauses[index].discard(STATEMENT_NO)
        if not gives_way:
            clauses[index].add(Answer.DENY)


def _after_hesitation(said: list[tuple[list[str], bool]]) -> list[tuple[list[str], bool]]:
    """'Sim… não, espera': a bare 'não' followed by 'espera'/'pera'/'calma' stops to think; it
    takes back what was said before it and refuses nothing itself. What follows it decides
    ('… não, espera. Não, não deixa' is a no; '… não, espera' alone decides nothing)."""
    for index in range(len(said) - 1, -1, -1):
        words = said[index][0]
        if words[:1] == ["nao"] and words[1:2] and words[1] in HESITATION:
            rest = words[2:]
        elif words and set(words) == {"nao"} and index + 1 < len(said) and said[index + 1][0][:1] and said[index + 1][0][0] in HESITATION:
            index += 1
            rest = said[index][0][1:]
        else:
            continue
        rest = rest[1:] if rest[:1] == ["ai"] else rest  # 'pera aí'
        return ([(rest, said[index][1])] if rest else []) + said[index + 1 :]
    return said


def _conditional(words: list[str]) -> bool:
    """A condition Apoena cannot check: 'se for o Carlos', 'só deixa subir se ele tiver com a nota',
    'se não for, não' — not a reflexive 'se' ('pode se identificar', 'não se preocupa')."""
    return any(
        word == "se" and (index == 0 or words[index - 1] not in NOT_CONDITION_BEFORE)
        and CONDITION_AFTER.match(" ".join(words[index + 1 : index + 3])) is not None
        for index, word in enumerate(words)
    )  # fmt: skip


_CUT_NO = re.compile(r"^(\s*(?:\.\.\.|…)\s*)ão\b", re.IGNORECASE)
_SHORT_NO = re.compile(r"\bnã\b", re.IGNORECASE)


def _cut_no(text: str) -> str:
    """'...ão conheço', 'nã': a 'não' whose first or last sound the line lost is still a 'não'
    (read before folding: folded, 'nã' would be 'na')."""
    return _SHORT_NO.sub("não", _CUT_NO.sub(r"\1não", text))


@cache
def _spoken_forms() -> dict[str, tuple[str, ...]]:
    return {fold(heard): tuple(fold(meant).split()) for heard, meant in _data()["spoken_forms"].items()}


def _spoken(words: list[str]) -> list[str]:
    """Words as a phone line and a region write them, read as the words ('podi' -> 'pode', 'nam' -> 'nao')."""
    forms = _spoken_forms()
    return [part for word in words if not _LAUGH.fullmatch(word) for part in forms.get(word, (word,))]  # 'hahaha' says nothing


def _clauses(text: str) -> list[tuple[str, str]]:
    """(words, what ended them) for each clause: cut at punctuation and at 'mas'/'porém'."""
    return [(m.group(1), m.group(2)) for m in _CLAUSE.finditer(text) if m.group(1).strip()]


@cache
def _ack_words() -> frozenset[str]:
    return frozenset(w for phrase in _data()["acknowledge"] for w in fold(phrase).split())


def _contains(words: list[str], phrases: tuple[tuple[str, ...], ...]) -> bool:
    """Whether one of `phrases` stands in `words`, as whole words."""
    return any(
        tuple(words[start : start + len(phrase)]) == phrase
        for phrase in phrases
        for start in range(len(words) - len(phrase) + 1)
    )


def is_voicemail(text: str) -> bool:
    """Whether `text` holds a phrase only a mailbox or a carrier's recording says — not as words
    the resident gives us to pass on ('fala que eu não posso atender agora')."""
    words = fold(text).split()
    return any(
        tuple(words[start : start + len(phrase)]) == phrase and not _reported(words[max(0, start - 6) : start])
        for phrase in _phrases_of("voicemail")
        for start in range(len(words) - len(phrase) + 1)
    )


def _reported(before: list[str]) -> bool:
    """'fala que eu …', 'diz pra ele que …': what follows is a message for the visitor."""
    return "que" in before and any(w in REPORTING for w in before[: before.index("que")])


def _clause_signals(words: list[str], asked: bool = False) -> set:
    if not words:
        return set()
    digit = _keypad_digit(words)
    if digit:
        return {read_keypad(digit)}
    if set(words) == {"no"}:
        return {Answer.DENY}  # 'No, thank you.', 'No, no.': Portuguese 'no' never stands alone
    if _leaves_it(words):
        return {Answer.LEAVE_AT_GATE}
    matches = _matches(words)
    matches = sorted(matches + [  # 'pode' alone (or before a filler) is a yes; 'pode falar' is not
        _Match("authorize", i, i + 1) for i, w in enumerate(words)
        if w == "pode" and (i + 1 == len(words) or words[i + 1] in _AFTER_PODE) and not _in_match(i, matches)
    ], key=lambda m: m.start)  # fmt: skip
    if asked and _contains(words, AGAIN):
        return {Answer.QUESTION}  # 'pode falar de novo o nome?'; 'esqueceu a chave de novo' asks nothing
    if asked:  # 'Subir?', 'Sim? Quem fala?': the question said back is no yes ('por que não?' is one)
        matches = [m for m in matches if m.kind != "authorize" or words[m.start : m.end] == ["por", "que", "nao"]]
        if all(m.kind in ("neutral", "identity") for m in matches) and _asks_about_the_visit(words):
            return {Answer.QUESTION}  # 'Que loja?', 'É do iFood?', 'Técnico da Vivo ou da Claro?'; not 'Tá chovendo aí?'
    matches = [m for m in matches if not (m.kind == "authorize" and m.start and words[m.start - 1] in MAYBE_NUM)]
    covered = {i for m in matches if m.kind != "deny" for i in range(m.start, m.end)}
    negators = [i for i, w in enumerate(words) if w in _words_of("negators") and i not in covered]
    used: set[int] = {i for m in matches if m.kind == "deny" for i in range(m.start, m.end)}
    signals: set[Answer] = set()
    for match in matches:
        negated_by = _negator_of(match, words, negators)
        if negated_by is not None:
            used.add(negated_by)
            if match.end < len(words) and match.end in negators and negated_by < match.start:
                used.add(match.end)  # 'não desço não': the second 'não' says the first again
            if match.kind in ("authorize", "acknowledge"):
                signals.add(Answer.DENY)
            continue  # a negated delivery or coming-down wish says nothing either way
        if match.kind != "neutral":
            signals.add(match.kind if match.kind in ("acknowledge", "identity") else Answer(match.kind))
    stated = [m for m in matches if m.kind == "deny" and _states(words[m.start : m.end])]
    if stated and len(stated) == sum(m.kind == "deny" for m in matches):
        signals.discard(Answer.DENY)  # only 'não conheço', 'não é pra mim', 'não pedi nada': about something else
        signals.add(STATEMENT_NO)
    unused = [i for i in negators if i not in used]
    echo = [i for i in unused if i == len(words) - 1 and any(j < i for j in negators)]  # 'não conheço pelo nome não'
    rest = [i for i in unused if i not in echo]
    if rest and Answer.DENY not in signals and all(_says_something(words[i + 1 :]) for i in rest):
        signals.add(STATEMENT_NO)  # 'não conheço pelo nome', 'nem reconheci a voz': about something else
    elif rest or (echo and STATEMENT_NO not in signals):
        signals.add(Answer.DENY)
    return signals


def _states(phrase: list[str]) -> bool:
    """A refusal phrase that negates something else than letting in ('não conheço', 'não pedi
    nada', 'não é pra mim'), not 'não pode', 'não deixa', 'não libera'."""
    return len(phrase) >= 2 and phrase[0] in _words_of("negators") and not PERMISSION_WORDS.intersection(phrase[1:])


def _says_something(after: list[str]) -> bool:
    """Whether the words after a negator say what it negates ('não conheço pelo nome', 'não é pra
    mim'), not only fillers or more negators ('não, não', 'não tá')."""
    return any(w not in _FILLERS and w not in _words_of("negators") and w not in STATEMENT_FILLERS for w in after)


def _insists(words: list[str]) -> bool:
    """A yes said twice over: with 'sim' ('pode subir sim', 'pode sim', 'libera sim') or repeated
    ('pode, pode subir', 'pode liberar, pode liberar'). After a 'não' only such a yes is taken as
    the answer: a bare 'Não, pode subir' is one comma away from 'Não pode subir', the recogniser's
    guess."""
    yeses = [m for m in _matches(words) if m.kind == "authorize"]
    alone = [i for i, w in enumerate(words) if w in ("pode", "1") and not _in_match(i, yeses)]  # 'pode, pode subir', '1, pode subir'
    others = len(alone) + sum(words[m.start : m.end] != ["sim"] for m in yeses)  # yeses besides a bare 'sim'
    return others >= 2 or (others == 1 and "sim" in words)


def _cut_at_end(text: str) -> bool:
    """The recogniser lost the answer's last words: it ends with an ellipsis or a cut word ('pode su-')."""
    return text.rstrip().endswith(("...", "…", "-"))


def _picked_up_late(said: list[tuple[list[str], bool]]) -> bool:
    """The answer ends with 'alô?' after other words: those were said in the room (a TV, a child
    called to dinner) before the resident spoke to us."""
    return len(said) > 1 and said[-1][1] and bool(said[-1][0]) and all(w in {"alo", "oi", "ola"} for w in said[-1][0])


def _ironic(said: list[tuple[list[str], bool]]) -> bool:
    """'Ah, claro, … né': a mock yes, opened with 'ah, claro' and closed with a 'né' — never taken
    for a yes (asked again)."""
    words = [w for clause, _ in said for w in clause]
    return words[:2] == ["ah", "claro"] and words[-1:] == ["ne"] and len(words) > 4


def _cut_at_start(text: str) -> bool:
    """The recogniser lost the answer's first words: it begins with an ellipsis ('...de subir')."""
    return text.lstrip().startswith(("...", "…"))


@cache
def _vocabulary() -> frozenset[str]:
    """Every word of every phrase the reader knows, and its fillers."""
    kinds = (*_CLASSES, "voicemail", "hedges")
    places = _words_of("leave_verbs") | _words_of("leave_places")  # 'porta' is no 'por ta'
    return frozenset(w for kind in kinds for p in _data()[kind] for w in fold(p).split()) | _FILLERS | _words_of("negators") | places


def _unglued(words: list[str]) -> list[str]:
    """Words the recogniser ran together, apart again when they are all words the reader knows:
    'podesubir' -> 'pode subir', 'simpodeliberar', 'naonao', 'deixanaportaria'."""
    out: list[str] = []
    for word in words:
        pieces = _split_known(word) if len(word) >= 5 and word not in _vocabulary() else None
        out.extend(pieces or [word])
    return out


@lru_cache(maxsize=4096)  # bounded: a server hears endless new words
def _split_known(word: str) -> tuple[str, ...] | None:
    """`word` as 2-4 known words of 2 letters or more (the fewest pieces), or None."""
    best: dict[int, tuple[str, ...]] = {0: ()}
    for end in range(2, len(word) + 1):
        options = [best[start] + (word[start:end],) for start in range(max(0, end - 12), end - 1)
                   if start in best and word[start:end] in _vocabulary()]  # fmt: skip
        if options:
            best[end] = min(options, key=len)
    found = best.get(len(word))
    return found if found and 2 <= len(found) <= 4 else None


def _asks_about_the_visit(words: list[str]) -> bool:
    """A clause asked back that asks who, what or from where: it starts with a question word,
    asks 'é do/da …?', 'é pra mim?', or offers a choice ('… ou …?')."""
    return bool(_ABOUT_THE_VISIT.search(" ".join(words)))


def _in_match(index: int, matches: list[_Match]) -> bool:
    return any(m.start <= index < m.end for m in matches)


def _leaves_it(words: list[str]) -> bool:
    """A leave verb, then within seven words a place ('larga aí na portaria', 'bota no armário'),
    'com' someone ('deixa com o seu Zé'), or 'aí'/'lá' ending the clause or before 'que' ('deixa aí
    que eu pego') — and no verb of coming up in between ('deixa ele subir aí' lets him in), no
    negator just before the verb ('não precisa deixar na portaria'), and not 'minha porta'."""
    verbs, places = _words_of("leave_verbs"), _words_of("leave_places")
    if len(words) >= 2 and words[0] in ("na", "no") and words[1] in places:
        return True  # 'No locker, por favor.'
    for index, word in enumerate(words):
        if word not in verbs or words[index + 1 : index + 2] == ["eu"]:
            continue  # 'deixa eu falar com ela' leaves nothing
        if any(w in _words_of("negators") for w in words[max(0, index - NEGATION_REACH) : index]):
            continue  # 'não precisa deixar na portaria': not left
        for at in range(index + 1, min(index + 8, len(words))):
            said = words[at]
            if said in _YES_VERBS or said in WAIT_VERBS:
                break
            if said in places and words[at - 1] in ("minha", "meu"):
                break  # 'deixa na minha porta': up at the flat
            if said in places or (said == "com" and at + 1 < len(words) and words[at + 1] in _COMPANIONS):
                return True
            if said in ("ai", "la") and (at + 1 == len(words) or words[at + 1] in ("que", "mesmo", "embaixo")):
                return True
    return False


def _keypad_digit(words: list[str]) -> str | None:
    """'1', 'um', 'tecla um' -> '1': a clause that is only a keypad digit, said aloud."""
    keypad = _words_of("keypad") | KEYPAD_FILLERS
    digits = {_data()["keypad_digits"].get(w) for w in words if w not in keypad}
    return digits.pop() if len(digits) == 1 and None not in digits else None  # '1', '1 1', 'tecla um'



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
    if match.kind in ("deny", "question", "neutral"):
        return None
    before = [i for i in negators if match.start - NEGATION_REACH <= i < match.start]
    if before:
        return before[-1]
    after = match.end
    if after == len(words) - 1 and after in negators:
        return after
    return None
