"""The condominium's resident directory: who lives in which apartment, with fuzzy name look-up."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from rapidfuzz.distance import Levenshtein

from concierge.brain.lexicon import nicknames
from concierge.brain.names import sound_key
from concierge.brain.text import fold
from concierge.errors import ConfigError

PARTICLES = frozenset({"da", "de", "do", "das", "dos", "e"})
HONORIFICS = frozenset(
    "o a os as pra para dona seu senhor senhora sr sra srta dr dra doutor doutora professor professora "
    "moradora morador familia".split()
)

DIAL_STRING = re.compile(r"[A-Za-z][A-Za-z0-9_]*/[^\s,&|^]+")
LOOSE_NAME_DISTANCE = 0.26  # a slip in about one sound of four: Desvaldo/Edvaldo, Suéle/Sueli
BLOCK_LETTER_SLIPS = {"V": ("B",), "P": ("B",), "T": ("D",), "B": ("V",), "D": ("T",)}
"""Block letters a phone line turns into others ('bê' heard 'vê'), tried when the one heard is no block here."""
LOOSE_FULL_NAME_DISTANCE = 0.34  # beside a name word that matches: Doblas/Douglas, Zéfica/Jéssica
"""TECH/resource, as `Dial()` and `Originate` take it; no spaces, commas or '&' (no second target smuggled)."""


class Apartment(BaseModel):
    """One entry of the directory file, in the seed's shape."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    apartment_number: str = Field(min_length=1, max_length=16)
    residents: list[str] = Field(min_length=1)
    voip_number: str = ""
    dial: list[str] = Field(default_factory=list, description="Asterisk dial strings for the residents, in order of preference")

    @field_validator("dial")
    @classmethod
    def _dial_strings(cls, strings: list[str]) -> list[str]:
        strings = [s.strip() for s in strings]
        bad = next((s for s in strings if not DIAL_STRING.fullmatch(s)), None)
        if bad is not None:
            raise ValueError(f"{bad!r} is not an Asterisk dial string like \"PJSIP/104\" or \"Local/11988887777@trunk\"")
        if len(set(strings)) != len(strings):
            raise ValueError("the same dial string is listed twice")
        return strings

    @property
    def dial_strings(self) -> list[str]:
        """Whom to call, in order: `dial`, else the seed's `voip_number`, else nobody."""
        return self.dial or ([self.voip_number] if self.voip_number else [])

    @field_validator("apartment_number", mode="before")
    @classmethod
    def _number_as_text(cls, value: object) -> object:
        return str(value) if isinstance(value, int) else value

    @field_validator("apartment_number")
    @classmethod
    def _alphanumeric(cls, value: str) -> str:
        if not value.replace("-", "").isalnum():
            raise ValueError("must be letters and digits, e.g. \"104\"")
        return value.upper()

    @field_validator("residents")
    @classmethod
    def _named(cls, names: list[str]) -> list[str]:
        names = [" ".join(name.split()) for name in names]
        if any(not fold(name) for name in names):
            raise ValueError("every resident needs a name (found an empty one)")
        folded = [fold(name) for name in names]
        if len(set(folded)) != len(folded):
            raise ValueError("the same resident is listed twice")
        return names


@dataclass(frozen=True)
class Resident:
    name: str
    apartment: str
    tokens: tuple[str, ...]

    @property
    def first_name(self) -> str:
        return self.tokens[0]


@dataclass(frozen=True)
class NameMention:
    """Where a resident's name appears in a list of folded words."""

    resident: Resident
    start: int
    end: int
    matched: int
    exact: int
    first_name: bool

    @property
    def rank(self) -> tuple[int, int, int]:
        return (self.matched, int(self.first_name), self.exact)


_SPELLING_VARIANTS = (
    (re.compile(r"(.)\1"), r"\1"),  # Joanna -> Joana, Mello -> Melo
    (re.compile(r"^h"), ""),  # Henrique -> Enrique
    (re.compile(r"ph"), "f"),
    (re.compile(r"th$"), "te"),  # Ruth -> Rute, Judith -> Judite
    (re.compile(r"th"), "t"),  # Thiago -> Tiago
    (re.compile(r"ct"), "t"),  # Victor -> Vitor
    (re.compile(r"y"), "i"),  # Raymundo -> Raimundo
    (re.compile(r"w"), "v"),
    (re.compile(r"k"), "c"),
    (re.compile(r"z"), "s"),  # Tereza -> Teresa, Luiza -> Luisa
    (re.compile(r"sc(?=[ei])"), "s"),
    (re.compile(r"c(?=[ei])"), "s"),  # Francisca / Fransisca
    (re.compile(r"g(?=[ei])"), "j"),  # Gessica / Jessica
    (re.compile(r"(?<=.)s$"), ""),  # Farias / Faria
)


@lru_cache(maxsize=65536)
def _said_words(query: str, shortest: int) -> list[str]:
    """The name words of a spoken name: folded, without particles, titles and short words."""
    return [w for w in fold(query).split() if w not in PARTICLES and w not in HONORIFICS and len(w) >= shortest]


def _rejoined(query: str) -> list[str]:
    """The name words of a spoken name with a short first piece joined to the next ('Ed Valdo' -> 'edvaldo')."""
    words = [w for w in fold(query).split() if w not in PARTICLES and w not in HONORIFICS]
    if len(words) < 2 or len(words[0]) > 3:
        return []
    return [words[0] + words[1], *(w for w in words[2:] if len(w) >= 3)]


def _sounds_near(said: list[str], known: list[str], distance: float) -> bool:
    """Whether some said word sounds within `distance` (normalised edits of `sound`) of some known one."""
    return any(Levenshtein.normalized_distance(sound(w), sound(k)) <= distance for w in said for k in known)


def _all_sound_like(said: list[str], resident: Resident) -> bool:
    """Whether every said name word sounds (`names.sound_key`) within a third of one of the
    resident's name words, or of two of them run together ('Sujin' for Soo-jin)."""
    tokens = [*resident.tokens, *(a + b for a, b in zip(resident.tokens, resident.tokens[1:]))]
    keys = [sound_key(token) for token in tokens]
    return all(any(Levenshtein.normalized_distance(sound_key(word), key) <= LOOSE_FULL_NAME_DISTANCE for key in keys) for word in said)


def _shortens(said: str, resident: Resident) -> bool:
    """Whether `said` (2-5 letters) is a pet form of one of the resident's first two name words:
    their start ('lu' for Lucineide, 'gabi' for Gabriela) or, from 4 letters, their end ('nando',
    'cida'), and shorter than that name."""
    if not 2 <= len(said) <= 5:
        return False
    return any(len(t) > len(said) and (t.startswith(said) or (len(said) >= 4 and t.endswith(said))) for t in resident.tokens[:2])


def sound(word: str) -> str:
    """A folded name word spelled as it sounds, so spelling variants compare equal."""
    for pattern, replacement in _SPELLING_VARIANTS:
        word = pattern.sub(replacement, word)
    return word


def sounds_alike(said: str, known: str) -> bool:
    """A name word the recogniser spelled by ear ('Greici' for Greice, 'Uóshington' for Washington,
    'Piotre' for Piotr): within a quarter of its sounds, from four letters. Looser than
    `tokens_match`: to tell whether a name is one already said, never to find a resident."""
    return len(said) >= 4 and Levenshtein.normalized_distance(sound(said), sound(known)) <= LOOSE_NAME_DISTANCE


def tokens_match(said: str, known: str) -> bool:
    """Whether a folded spoken word is a folded name word, allowing speech-recognition slips.

    Spelling variants of the same sound always match ('Teresa' ~ 'Tereza'); beyond that only
    long names allow one slip, so distinct short names stay apart ('Marta' is not 'Maria')."""
    if said == known:
        return True
    if len(known) <= 3 or len(said) <= 3:
        return False
    said_sound, known_sound = sound(said), sound(known)
    if said_sound == known_sound:
        return True
    if said_sound[:-1] == known_sound[:-1] and {said_sound[-1], known_sound[-1]} == {"a", "o"}:
        return False  # Aparecido is not Aparecida: the last vowel is the name's gender
    return len(known_sound) >= 7 and Levenshtein.distance(said_sound, known_sound, score_cutoff=1) <= 1


def _nickname_width(said: str, tokens: tuple[str, ...], offset: int) -> int:
    """How many of the resident's name words a nickname stands for at `offset` ('ze' -> José: 1,
    'cadu' -> Carlos Eduardo: 2), or 0."""
    for full in nicknames().get(said, ()) or _nicknames_by_sound().get(sound(said), ()):
        parts = tuple(full.split())
        if tokens[offset : offset + len(parts)] == parts:
            return len(parts)
    return 0


@lru_cache(maxsize=1)
def _nicknames_by_sound() -> dict[str, tuple[str, ...]]:
    """Nicknames as a recogniser may spell them ('Sida' for Cida)."""
    return {sound(nick): names for nick, names in nicknames().items() if len(nick) >= 3}


class Directory:
    """Apartments and residents loaded from the directory JSON file."""

    def __init__(self, apartments: list[Apartment]) -> None:
        self.apartments = {apartment.apartment_number: apartment for apartment in apartments}
        self.residents = [
            Resident(name, apartment.apartment_number, tuple(t for t in fold(name).split() if t not in PARTICLES))
            for apartment in apartments
            for name in apartment.residents
        ]
        self._by_token: dict[str, set[int]] = {}
        for index, resident in enumerate(self.residents):
            for token in resident.tokens:
                self._by_token.setdefault(token, set()).add(index)
        self._matching: dict[tuple[str, bool], list[Resident]] = {}
        self._known_words: dict[str, bool] = {}

    @classmethod
    def load(cls, path: Path) -> Directory:
        """Read and validate the file; raise ConfigError naming the entry and the fix."""
        try:
            raw = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"directory file not found: {path} — set directory.path in config.json or pass --directory PATH") from None
        except json.JSONDecodeError as error:
            raise ConfigError(f"{path}: not valid JSON (line {error.lineno}, column {error.colno}: {error.msg})") from None
        except (OSError, UnicodeDecodeError) as error:
            raise ConfigError(f"{path}: cannot be read ({error})") from None
        if not isinstance(raw, list) or not raw:
            raise ConfigError(f"{path}: must be a non-empty JSON list of {{\"apartment_number\", \"residents\", \"voip_number\"}} entries")
        apartments = [_parse_entry(path, index, entry) for index, entry in enumerate(raw)]
        seen: set[str] = set()
        for apartment in apartments:
            if apartment.apartment_number in seen:
                raise ConfigError(f"{path}: apartment {apartment.apartment_number} is listed twice — merge its residents into one entry")
            seen.add(apartment.apartment_number)
        return cls(apartments)

    def has_apartment(self, number: str | None) -> bool:
        return number is not None and number.upper() in self.apartments

    @property
    def has_blocks(self) -> bool:
        """Whether apartments are written '<block>-<number>' ('B-1204', '2-31')."""
        return any("-" in key for key in self.apartments)

    def apartments_numbered(self, number: str, block: str | None = None) -> list[str]:
        """Directory apartments a spoken number (and block, if said) can mean: '1204' + 'B' -> ['B-1204'];
        '1204' alone -> every block's 1204."""
        number = number.upper().lstrip("0") or "0"
        if block is not None and self.has_blocks:
            for label in (block.upper(), *BLOCK_LETTER_SLIPS.get(block.upper(), ())):
                if f"{label}-{number}" in self.apartments:
                    return [f"{label}-{number}"]  # a slip ('V' for B) is read back: see evidence._weigh
            return []
        if number in self.apartments:
            return [number]
        found = [key for key in self.apartments if "-" in key and key.rsplit("-", 1)[1].lstrip("0") == number]
        if found:
            return found
        # '3101' for tower 3's 101: the block's digits and the number as one (keyed, or said in one go)
        return [key for key in self.apartments if key[0].isdigit() and key.replace("-", "") == number]

    def apartments_near(self, number: str) -> list[str]:
        """Apartments whose number differs from `number` in one digit ('614' -> '604', '624'…)."""
        from concierge.brain.numbers import near

        return [key for key in self.apartments if near(number, key.rsplit("-", 1)[-1])]

    def residents_of(self, number: str) -> list[Resident]:
        return [resident for resident in self.residents if resident.apartment == number.upper()]

    def lives_in(self, name: str | None, number: str | None) -> bool:
        """Whether the exact directory name `name` is a resident of apartment `number`."""
        if name is None or number is None:
            return False
        return any(resident.name == name for resident in self.residents_of(number))

    def find(self, query: str, apartment: str | None = None) -> list[Resident]:
        """Residents best matching a spoken name ('dona Francisca', 'Joanna', 'Maria Silva')."""
        said = [word for word in fold(query).split() if word not in PARTICLES and word not in HONORIFICS]
        words = [word for word in said if len(word) > 1 or not word.isalpha()]
        if not words:
            return []
        mentions = [m for m in self.scan(words, fuzzy=True) if m.start == 0 and m.end == len(words)]
        found = self._best(mentions, apartment)
        initials = set(said) - set(words)  # a label's 'H Tanaka', 'Nóbrega B': the initial of one of their names
        return [r for r in found if initials <= {token[0] for token in r.tokens}] if initials else found

    def heard_in(self, query: str, apartment: str) -> list[Resident]:
        """Residents of `apartment` that a badly heard name can be. The one resident every said
        name word sounds like, each within a third of its sounds ('Quetlen Oliveira' -> Kethellen,
        not her brother Marcos Oliveira; 'Sujin Kim' -> Soo-jin Kim; 'Greici Quéli' -> Gracy
        Kelly); else those with some name word within a quarter of one of theirs ('Desvaldo Pinto'
        -> Edvaldo Santos in B-43). Only for a known apartment, and only to be read back: a slip
        this wide is a guess."""
        residents = self.residents_of(apartment)
        for said in (_said_words(query, 3), _rejoined(query)):  # 'Ed Valdo': a name the line broke in two
            if said and len(whole := [r for r in residents if _all_sound_like(said, r)]) == 1:
                return whole
        said = _said_words(query, 4)
        return [r for r in residents if _sounds_near(said, [t for t in r.tokens if len(t) >= 4], LOOSE_NAME_DISTANCE)]

    def shortened_in(self, query: str, apartment: str) -> list[Resident]:
        """The one resident of `apartment` a pet name said alone can be: the start of their first or
        second name ('a Lu' -> Lucineide, 'Gabi', 'Rafa') or, from four letters, its end ('Nando',
        'Cida'); [] if none or several. Apartment first: a nickname table's 'Lu' is Luciana, but
        the Lu of the 202 is Lucineide. Only to be read back."""
        said = _said_words(query, 2)
        if len(said) != 1:
            return []
        found = [r for r in self.residents_of(apartment) if _shortens(said[0], r)]
        return found if len(found) == 1 else []

    def heard_as(self, query: str) -> list[Resident]:
        """Residents a badly heard full name can be: one word is one of their names (as `find`
        allows) and another is within a third of its sounds of another of theirs ('Doblas Britos'
        -> Douglas Brito, 'Zéfica Pacheco' -> Jéssica Pacheco). To be read back, never taken."""
        said = _said_words(query, 3)
        found: dict[tuple[str, str], Resident] = {}
        for anchor in said:
            for resident in self._residents_matching(anchor, True):
                others = [t for t in resident.tokens if not tokens_match(anchor, t)]
                if _sounds_near([w for w in said if w != anchor], others, LOOSE_FULL_NAME_DISTANCE):
                    found[(resident.name, resident.apartment)] = resident
        return list(found.values())

    def scan(self, words: list[str], fuzzy: bool | list[bool] = True) -> list[NameMention]:
        """Every place where a resident's name (first name, or first + more) starts in `words`.

        `fuzzy` says, per word, whether a near match counts (only exact matches count elsewhere).
        A surname alone is found too (rank below first names), for 'o senhor Almeida'.
        """
        allow = fuzzy if isinstance(fuzzy, list) else [fuzzy] * len(words)
        mentions = []
        for start in range(len(words)):
            for resident in self._residents_matching(words[start], allow[start]):
                mention = self._match_at(resident, words, allow, start)
                if mention is not None:
                    mentions.append(mention)
        return mentions

    def knows_word(self, said: str) -> bool:
        """Whether a folded word is one of some resident's name words, exactly or by a slip."""
        if len(said) <= 3:
            return said in self._by_token
        if said not in self._known_words:  # a scan of every name word, once per word heard (bounded)
            if len(self._known_words) > 50_000:
                self._known_words.clear()
            self._known_words[said] = bool(self._residents_matching(said, True)) or any(
                sounds_alike(said, token) for token in self._by_token
            )  # 'GREICI' for Greice: only to write it as a name, never to match it
        return self._known_words[said]

    def _residents_matching(self, said: str, fuzzy: bool) -> list[Resident]:
        """Residents with a name word `said` can be (exactly, by a slip if `fuzzy`, or as a nickname),
        in directory order: an index, so a 700-name directory costs what a small one does."""
        key = (said, fuzzy)
        if key not in self._matching:
            if len(self._matching) > 50_000:  # bounded: a long-running server hears endless new words
                self._matching.clear()
            tokens = {said} if said in self._by_token else set()
            if fuzzy:
                tokens |= {known for known in self._by_token if tokens_match(said, known)}
            for full in nicknames().get(said, ()) or _nicknames_by_sound().get(sound(said), ()):
                tokens.add(full.split()[0])
                tokens |= set(full.split())
            ids = sorted({index for token in tokens for index in self._by_token.get(token, ())})
            self._matching[key] = [self.residents[index] for index in ids]
        return self._matching[key]

    def prompt_terms(self) -> tuple[list[str], list[str]]:
        """Names and apartment numbers, for a speech recogniser's prompt."""
        return [resident.name for resident in self.residents], list(self.apartments)

    @staticmethod
    def _match_at(resident: Resident, words: list[str], allow: list[bool], start: int) -> NameMention | None:
        said = words[start]
        for offset, known in enumerate(resident.tokens):
            width = 1 if said == known or (allow[start] and tokens_match(said, known)) else _nickname_width(said, resident.tokens, offset)
            if width:
                break
        else:
            return None
        exact = int(sound(said) == sound(resident.tokens[offset]))  # Valter and Walter sound alike: neither is "more exact"
        nicknamed = said != resident.tokens[offset] and not tokens_match(said, resident.tokens[offset])
        matched, end, position = width, start + 1, offset + width
        while position < len(resident.tokens):
            at = end + 1 if end + 1 < len(words) and words[end] in PARTICLES else end
            if at >= len(words):
                break
            said = words[at]
            # the next name word said may skip one of the resident's ('João Almeida' for João Pedro Almeida)
            hit = next(
                (p for p in (position, position + 1)
                 if p < len(resident.tokens) and (said == resident.tokens[p] or (allow[at] and tokens_match(said, resident.tokens[p])))),
                None,
            )  # fmt: skip
            if hit is None:
                break
            matched += 1
            exact += int(sound(said) == sound(resident.tokens[hit]))
            end, position = at + 1, hit + 1
        return NameMention(resident, start, end, matched, exact, offset == 0 or (nicknamed and offset == 1))

    def _best(self, mentions: list[NameMention], apartment: str | None) -> list[Resident]:
        if apartment is not None:
            mentions = [m for m in mentions if m.resident.apartment == apartment.upper()]
        if not mentions:
            return []
        top = max(m.rank for m in mentions)
        best = [m for m in mentions if m.rank == top]
        # A spelling closer to one resident's than another's ('Cavalcante' for Daniel Cavalcante, not
        # Daniela Cavalcanti) is the recogniser's guess: across apartments it does not decide
        if apartment is None:
            homes = {m.resident.apartment for m in best}
            best += [m for m in mentions if m.rank[:2] == top[:2] and m.rank != top and m.resident.apartment not in homes]
        chosen: dict[str, Resident] = {}
        for mention in best:
            chosen.setdefault(mention.resident.name + "|" + mention.resident.apartment, mention.resident)
        return list(chosen.values())


def _parse_entry(path: Path, index: int, entry: object) -> Apartment:
    try:
        return Apartment.model_validate(entry)
    except ValidationError as error:
        first = error.errors()[0]
        key = ".".join(str(part) for part in first["loc"]) or "entry"
        label = entry.get("apartment_number") if isinstance(entry, dict) else None
        where = f"entry {index + 1}" + (f" (apartment {label})" if label else "")
        reason = first["msg"].lower().removeprefix("value error, ")
        raise ConfigError(f"{path}: {where}: '{key}' {reason}") from None
