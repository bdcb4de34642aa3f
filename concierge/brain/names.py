"""People's first names as Brazilians carry them, and how they sound: for spelling a visitor's name
that speech recognition wrote by ear.

`data/first_names_br.txt` lists ~2,000 common Brazilian first names and ~200 nicknames (written
from general knowledge, independent of the evaluation dialogs). Whisper writes an uncommon name
by its sounds — "Suéle" for Sueli, "Luiz Ivânia" for Lucivânia, "Jé fez som" for Jeferson — so a
heard name that is no known name is compared by *sound* (`sound_key`: how pt-BR spelling is
spoken, so 'Suéle', 'Sueli' and 'Suely' meet) with the known ones, and respelled when it is one
of them spelled by ear, or when words that are no names join into one clearly near a known name.
A name that is known, or merely near one, is left as heard: rare names exist ('Thaíssa' is not
'Taís'), and a wrong respelling is worse than a faithful one.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from rapidfuzz import fuzz, process

from concierge.brain.text import fold

NAMES_FILE = Path(__file__).with_name("data") / "first_names_br.txt"
NEAR_ENOUGH = 84  # rapidfuzz ratio between sound keys for a respelling
CLEAR_MARGIN = 6  # ...and this far ahead of the next different name

# Spelling -> sound, applied in order to a folded word. Brazilian Portuguese as spoken: 'h' is
# silent, 'ph'/'th'/'y'/'w' are borrowed letters, soft c/g, final unstressed e/o sound i/u, an 'l'
# closing a syllable sounds u, doubled letters are one sound.
_SOUND_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), sound)
    for pattern, sound in (
        (r"(.)\1+", r"\1"),
        (r"ph", "f"),
        (r"th", "t"),
        (r"sh|ch", "x"),
        (r"lh", "li"),
        (r"nh", "ni"),
        (r"h", ""),
        (r"y", "i"),
        (r"w", "u"),
        (r"qu(?=[ei])", "k"),
        (r"gu(?=[ei])", "G"),  # a hard g, kept from the soft-g rule below
        (r"q", "k"),
        (r"c(?=[ei])", "s"),
        (r"g(?=[ei])", "j"),
        (r"c", "k"),
        (r"sc(?=[ei])|z", "s"),
        (r"l(?=[^aeiou]|$)", "u"),
        (r"ng(?=[^aeiou]|$)", "n"),
        (r"[mn](?=[^aeiou]|$)", "n"),
        (r"e$", "i"),
        (r"o$", "u"),
        (r"(.)\1+", r"\1"),
    )
)
PARTICLES = frozenset({"da", "de", "do", "das", "dos", "e"})
_JOINED = 3  # Whisper splits one unknown name into at most this many words ('Jé fez som')


def sound_key(word: str) -> str:
    """How a name sounds, as letters: 'Suéle', 'Sueli', 'Suely' -> 'sueli'; 'Jefferson' -> 'jefersun'."""
    key = fold(word).replace(" ", "")
    for pattern, sound in _SOUND_RULES:
        key = pattern.sub(sound, key)
    return key.lower()


@cache
def _lexicon() -> tuple[dict[str, str], dict[str, tuple[str, ...]]]:
    """(folded name -> its spelling, folded nickname -> the names it is short for)."""
    names: dict[str, str] = {}
    nicknames: dict[str, tuple[str, ...]] = {}
    in_nicknames = False
    for line in NAMES_FILE.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            in_nicknames = in_nicknames or line.strip() == "# nicknames"
            continue
        if not line.strip():
            continue
        if in_nicknames:
            nickname, _, full = line.partition("\t")
            names.setdefault(fold(nickname), nickname.strip())
            nicknames[fold(nickname)] = tuple(fold(name) for name in full.split("|") if name.strip())
        else:
            names.setdefault(fold(line), line.strip())
    return names, nicknames


@cache
def _by_sound() -> dict[str, str]:
    """Sound key -> the most common spelling with that sound (the file lists common names first)."""
    keys: dict[str, str] = {}
    for folded, spelling in _lexicon()[0].items():
        keys.setdefault(sound_key(folded), spelling)
    return keys


def is_first_name(word: str) -> bool:
    """A first name or nickname Brazilians commonly carry ('Sueli', 'Tonho'; not 'Tentando')."""
    return fold(word) in _lexicon()[0]


def known_spelling(heard: str, near: bool = False) -> str | None:
    """The known first name that `heard` sounds like: the same sounds spelled another way
    ('Suéle' -> 'Sueli', 'Cazuo' -> 'Kazuo'), or with `near`, one sound off when one known name
    is clearly the nearest ('Jéfezsom' -> 'Jefferson'); a known name in its usual spelling; None
    when `heard` sounds like none (or like several equally)."""
    if not heard.strip():
        return None
    if is_first_name(heard):
        return _lexicon()[0][fold(heard)]
    key = sound_key(heard)
    by_sound = _by_sound()
    if key in by_sound or not near:
        return by_sound.get(key)
    same_start = [known for known in by_sound if known[:1] == key[:1]]  # a first sound is rarely misheard
    found = process.extract(key, same_start, scorer=fuzz.ratio, limit=2, score_cutoff=NEAR_ENOUGH - CLEAR_MARGIN)
    if not found or found[0][1] < NEAR_ENOUGH:
        return None
    if len(found) > 1 and found[0][1] - found[1][1] < CLEAR_MARGIN:
        return None
    return by_sound[found[0][0]]


def respell(name: str) -> str:
    """A visitor's name as heard, its first name respelled when it is a known one written by ear:
    the same sounds ('Suéle Santos' -> 'Sueli Santos', 'Lu Civânia' -> 'Lucivânia'), or words
    that are no names heard apart, which together sound near one ('Jé fez som' -> 'Jefferson').
    A single word one sound off a known name is left alone: 'Karen', 'Thaíssa' and 'Raimundinho'
    are names too."""
    words = name.split()
    if not words:
        return name
    for size in range(min(_JOINED, len(words)), 1, -1):  # one name Whisper wrote as several words
        if any(fold(word) in PARTICLES for word in words[:size]):
            continue  # 'Luan da Silva' is no 'Luanda'
        pieces_are_names = any(is_first_name(word) for word in words[1:size])  # 'Luiz Ivânia' may be two
        joined = known_spelling("".join(words[:size]), near=not pieces_are_names)
        if joined:
            return " ".join([joined, *words[size:]])
    first = known_spelling(words[0])
    return " ".join([first, *words[1:]]) if first else name


def same_name(one: str, other: str) -> bool:
    """Two spellings of one name, as a listener hears them: 'Suely' and 'Sueli', 'Gean' and 'Jean'."""
    return bool(one.strip()) and sound_key(one) == sound_key(other)
