"""Read apartment numbers the way pt-BR speakers say them and the way Whisper writes them down.

A spoken number reaches us in many shapes: words ("trezentos e dezesseis"), digits ("316"),
digit by digit ("três um seis", "3, 1, 6", "meia zero dois"), pairs ("quinze zero dois"),
and Whisper's own splits of one number ("300 de 16", "400 e 15", "200, 9", "mil 100 e 2") or
loops ("317, 17, 17, 17"). This module does not decide which apartment was meant: it lists
every reading a run of number tokens supports, each with a prior, and the directory picks
(see `concierge.brain.evidence`). Pure functions, no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rapidfuzz.distance import Hamming, Levenshtein

from concierge.brain.text import fold

UNITS = {
    "zero": 0, "um": 1, "uma": 1, "dois": 2, "duas": 2, "tres": 3, "quatro": 4, "cinco": 5,
    "seis": 6, "meia": 6, "sete": 7, "oito": 8, "nove": 9,
}  # fmt: skip
TEENS = {
    "dez": 10, "onze": 11, "doze": 12, "treze": 13, "catorze": 14, "quatorze": 14, "quinze": 15,
    "dezesseis": 16, "dezasseis": 16, "dezessete": 17, "dezoito": 18, "dezenove": 19,
}  # fmt: skip
TENS = {"vinte": 20, "trinta": 30, "quarenta": 40, "cinquenta": 50, "sessenta": 60, "setenta": 70, "oitenta": 80, "noventa": 90}
HUNDREDS = {
    "cem": 100, "cento": 100, "duzentos": 200, "duzentas": 200, "trezentos": 300, "trezentas": 300,
    "quatrocentos": 400, "quinhentos": 500, "seiscentos": 600, "setecentos": 700, "oitocentos": 800,
    "novecentos": 900,
}  # fmt: skip
THOUSAND = {"mil": 1000}
FOREIGN = {  # as couriers from Venezuela, Haiti or abroad say them; never a Portuguese word ('dos', 'doce', 'un' left out)
    "uno": 1, "cuatro": 4, "siete": 7, "ocho": 8, "nueve": 9, "diez": 10, "trece": 13, "catorce": 14, "dieciseis": 16,
    "diecisiete": 17, "dieciocho": 18, "diecinueve": 19, "veinte": 20, "veintiuno": 21, "veintidos": 22, "veintitres": 23,
    "veinticuatro": 24, "veinticinco": 25, "treinta": 30, "cuarenta": 40, "cincuenta": 50, "sesenta": 60, "ochenta": 80,
    "cien": 100, "ciento": 100, "doscientos": 200, "trescientos": 300, "cuatrocientos": 400, "quinientos": 500,
    "seiscientos": 600, "ochocientos": 800, "novecientos": 900,
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
    "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17,
    "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
    "eighty": 80, "ninety": 90,
    "deux": 2, "trois": 3, "quatre": 4, "cinq": 5, "sept": 7, "huit": 8, "neuf": 9, "dix": 10, "douze": 12,
    "seize": 16, "vingt": 20, "trente": 30, "quarante": 40, "cinquante": 50, "soixante": 60,
}  # fmt: skip
MULTIPLIERS = frozenset({"hundred", "cent", "cents"})  # 'eight hundred two', 'huit cent deux': 800, 2
NUMBER_WORDS = {**FOREIGN, **UNITS, **TEENS, **TENS, **HUNDREDS, **THOUSAND}
FUZZY_WORDS = {w: v for w, v in NUMBER_WORDS.items() if len(w) >= 7 and w not in FOREIGN}  # long words survive one or two slips
CONNECTORS = frozenset({"e", "de", "y"})  # 'treinta y dos'
BLOCK_WORDS = frozenset({"bloco", "bl", "loco", "torre", "predio", "edificio", "ala", "quadra", "tower", "tour", "bloque", "bloc", "block"})  # 'Lóco-V': bloco, misheard
LETTER_WORDS = {"be": "b", "ce": "c", "de": "d", "ge": "g", "ha": "h", "ve": "v", "xis": "x"}
SEPARATORS = frozenset({",", "-", "/"})
BLOCK_PAUSES = frozenset({",", "-", ".", ":"})
_TOKEN = re.compile(r"\d+(?:[.,]\d+)+|\d+|[^\W\d_]+|[,\-/.;:!?]")
_GROUPS = re.compile(r"[.,]")


def _grouped(token: str) -> list[str]:
    """Digit groups Whisper joined with '.' or ',' read as the one number they say: a thousands
    separator ('2.403', '1,600'), digits said one by one ('2.04' for dois zero quatro, '12.03'),
    a round number and its units ('1.800.4' for mil oitocentos e quatro); otherwise the groups
    and separators as they are ('2.4')."""
    groups = _GROUPS.split(token)
    value = groups[0]
    for group in groups[1:]:
        if len(group) == 3:
            value += group
        elif group.startswith("0") and len(group) <= 2 and len(value) <= 2:
            value += group
        elif value.endswith("00") and len(group) <= 2 and not group.startswith("0"):
            value = str(int(value) + int(group))
        else:
            return [part for part in re.split(r"([.,])", token) if part]
    return [value]


@dataclass(frozen=True)
class NumberToken:
    """One number word or digit group: its value, its text, and where it stands in the token list."""

    value: int
    text: str  # as written: "316", "trezentos", "meia"
    index: int
    digits: bool  # written with digits

    @property
    def single_digit(self) -> bool:
        return self.value < 10 and (not self.digits or len(self.text) == 1)

    @property
    def place(self) -> int:
        """The smallest place this token fills in an additive number (300 -> 100, 16 -> 1, mil -> 1000)."""
        if self.digits:
            return 1 if self.value % 10 else (10 if self.value % 100 else (100 if self.value % 1000 else 1000))
        if self.value == 1000:
            return 1000
        if self.value >= 100:
            return 100
        if self.value >= 20 and self.value % 10 == 0:
            return 10
        return 1


@dataclass(frozen=True)
class NumberReading:
    """One way to read a run of number tokens as a single number."""

    value: str
    start: int  # token indexes in the utterance, [start, end)
    end: int
    shape: str  # "plain" | "words" | "split" | "spelled" | "pairs" | "loop"
    prior: float  # how likely this reading is, before the directory is consulted (0..1]


_GLUED_BLOCK = re.compile(r"(bloco|torre)(be|ce|de|ge|ha|ve|[a-h])")


def tokens(text: str) -> list[str]:
    """Folded words, digit groups and punctuation, in order; a block glued to its letter by the
    recogniser ('Blococê') is two words again."""
    found: list[str] = []
    for t in _TOKEN.findall(text):
        if t[0].isdigit():
            found.extend(_grouped(t))
            continue
        token = t if t[0] in ",-/.;:!?" else fold(t)
        glued = _GLUED_BLOCK.fullmatch(token)
        found.extend(glued.groups() if glued else (token,))
    return _foreign_shapes(found)


def _foreign_shapes(found: list[str]) -> list[str]:
    """'eight hundred two', 'huit cent deux' -> '800', 'deux': the hundred joined to its digit; 'fifteen
    oh three' -> 'fifteen', 'zero', 'three' ('oh' is a zero only between two numbers)."""
    out: list[str] = []
    for index, token in enumerate(found):
        previous = number_token(out[-1], 0) if out else None
        if token in MULTIPLIERS and previous is not None and 0 < previous.value < 10:
            out[-1] = str(previous.value * 100)
            continue
        if token == "oh" and previous is not None and index + 1 < len(found) and number_token(found[index + 1], 0) is not None:
            token = "zero"
        elif token in ("dos", "un") and previous is None and out[-1:] == ["y"] and len(out) > 1 and number_token(out[-2], 0) is not None:
            token = "2" if token == "dos" else "1"  # 'treinta y dos'
        elif token in ("dos", "un") and previous is not None and previous.value >= 20:
            token = "2" if token == "dos" else "1"  # 'trescientos dos', 'cinq cent un': after a number, no article
        out.append(token)
    return out


def number_token(token: str, index: int) -> NumberToken | None:
    """The number a single token says, if any ('trezentos' -> 300, '316' -> 316, 'quinhemtos' -> 500)."""
    if token.isdigit():
        return NumberToken(int(token), token, index, True) if len(token) <= 6 else None
    if token in NUMBER_WORDS:
        return NumberToken(NUMBER_WORDS[token], token, index, False)
    if len(token) >= 7:
        for word, value in FUZZY_WORDS.items():
            slips = 3 if len(word) >= 10 else (2 if len(word) >= 9 else 1)
            if token[:2] == word[:2] and Levenshtein.distance(token, word, score_cutoff=slips) <= slips:
                return NumberToken(value, token, index, False)
    return None


def blocks(words: list[str]) -> list[tuple[str, int]]:
    """Block or tower labels said ('bloco B' -> 'B', 'torre dois' -> '2', 'do bloco be' -> 'B'), with their index."""
    found = []
    for index in range(len(words) - 1):
        if words[index] in BLOCK_WORDS:
            at = index + 1
            if words[at] in BLOCK_PAUSES and at + 1 < len(words):
                at += 1  # 'do bloco, B': Whisper writes the pause before the label
            label = words[at]
            number = number_token(label, at)
            if number is not None and number.value < 100:
                found.append((str(number.value), at))
            elif len(label) == 1 and label.isalpha():
                found.append((label.upper(), at))
            elif label in LETTER_WORDS:
                found.append((LETTER_WORDS[label].upper(), at))
    return found


def runs(words: list[str], skip: frozenset[int] = frozenset()) -> list[list[NumberToken]]:
    """Maximal runs of number tokens, joined by 'e', 'de', commas and hyphens between two numbers.
    Token indexes in `skip` (block labels) are not numbers."""
    found: list[list[NumberToken]] = []
    current: list[NumberToken] = []
    pending_joiner = False
    for index, word in enumerate(words):
        token = None if index in skip else number_token(word, index)
        if token is not None:
            if current and not pending_joiner and words[index - 1] not in SEPARATORS and index - current[-1].index > 1:
                found.append(current)
                current = []
            current.append(token)
            pending_joiner = False
        elif current and (word in CONNECTORS or word in SEPARATORS) and not pending_joiner:
            pending_joiner = True
        else:
            if current:
                found.append(current)
            current, pending_joiner = [], False
    if current:
        found.append(current)
    return found


def additive(run: list[NumberToken]) -> list[tuple[int, int, int]]:
    """Split a run into numbers built by addition ('trezentos e dezesseis', '300 de 16', 'mil 100 e 2').

    Returns (value, first token, last token) for each number, left to right: a token that fills a
    smaller place than everything before it joins that number; anything else starts a new one."""
    numbers: list[tuple[int, int, int]] = []
    value, smallest, first, started = 0, 10**9, 0, False
    for position, token in enumerate(run):
        if token.value == 1000 and not token.digits:
            if not started:
                first, started = position, True
            if value < 1000:  # '1,500 mil': the thousand was already written in digits
                value, smallest = max(value, 1) * 1000, 1000
            continue
        fits = started and value and 0 < token.value < smallest and (token.value < 10 or smallest > 10)
        if fits:
            value += token.value
            smallest = token.place
            continue
        if started:
            numbers.append((value, first, position - 1))
        value, smallest, first, started = token.value, token.place, position, True
    if started:
        numbers.append((value, first, len(run) - 1))
    return numbers


def readings(words: list[str]) -> list[NumberReading]:
    """Every reading of every number in the tokens (see `tokens`), best prior first per run;
    block labels ('bloco 2') are left out."""
    skip = frozenset(index for _, index in blocks(words))
    found: list[NumberReading] = []
    for run in runs(words, skip):
        found += _run_readings(run)
    return found


def _run_readings(run: list[NumberToken]) -> list[NumberReading]:
    start, end = run[0].index, run[-1].index + 1
    parts = additive(run)
    values = [str(v) for v, _, _ in parts]
    if len(parts) > 2 and len(set(values[1:])) == 1 and values[1] in values[0]:
        # "317, 17, 17, 17": a decoding loop repeats the end of the number that was meant
        return [NumberReading(values[0], start, run[parts[0][2]].index + 1, "loop", 0.8)]
    options: list[NumberReading] = []
    if len(parts) >= 2:
        glued = "".join(  # each part as said: 'vinte e seis zero um' -> 26|0|1, '12 04' -> 12|04
            run[first].text if first == last and run[first].digits else str(value) for value, first, last in parts
        )
        if all(t.single_digit for t in run):
            options.append(NumberReading(glued, start, end, "spelled", 0.95))
        elif all(t.value < 100 for t in run) and any(t.value == 0 or t.text.startswith("0") for t in run[1:]):
            options.append(NumberReading(glued, start, end, "pairs", 0.85))  # "quinze zero dois", "12 04"
        elif len(glued) <= 5:
            options.append(NumberReading(glued, start, end, "pairs", 0.3))
        first_value, second = int(values[0]), int(values[1])
        if first_value % 100 == 0 and 0 < second < 100:  # "300-51": one number Whisper split
            options.append(NumberReading(str(first_value + second), start, end, "split", 0.6))
    whole = max((o.prior for o in options), default=0.0)
    for value, first, last in parts:
        span = run[first : last + 1]
        shape = "plain" if len(span) == 1 and span[0].digits else ("words" if not any(t.digits for t in span) else "split")
        prior = 0.5 if whole >= 0.85 else (0.75 if shape == "split" else 0.9)
        options.append(NumberReading(str(value), run[first].index, run[last].index + 1, shape, prior))
    unique: dict[str, NumberReading] = {}
    for option in sorted(options, key=lambda r: -r.prior):
        unique.setdefault(option.value, option)
    return list(unique.values())


def near(value: str, known: str) -> bool:
    """Whether two apartment numbers differ by one digit of the same length ('614' ~ '604')."""
    return len(value) == len(known) and Hamming.distance(value, known) == 1
