"""The rules brain's vocabulary, loaded once from `data/lexicon.json`: word classes, not sentences.

Delivery words and brands, visit and service words, relationship and role words, interjections,
nicknames, and words that are never people's names. Each class compiles to one whole-word
pattern, so adding a word to the data file is the whole change.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

from concierge.brain.text import fold

LEXICON_FILE = Path(__file__).with_name("data") / "lexicon.json"


@cache
def _data() -> dict:
    return json.loads(LEXICON_FILE.read_text(encoding="utf-8"))


@cache
def words(kind: str) -> frozenset[str]:
    """The single words of a class (phrases left out), folded."""
    return frozenset(fold(w) for w in _data()[kind] if " " not in fold(w))


@cache
def pattern(kind: str) -> re.Pattern[str]:
    """One whole-word pattern for every word and phrase of a class, longest first."""
    phrases = sorted({fold(w) for w in _data()[kind]}, key=len, reverse=True)
    return re.compile(r"\b(" + "|".join(re.escape(p) for p in phrases) + r")\b")


@cache
def nicknames() -> dict[str, tuple[str, ...]]:
    """Nickname -> the first names (folded) it is short for: 'ze' -> ('jose',)."""
    return {fold(nick): tuple(fold(name) for name in names) for nick, names in _data()["nicknames"].items()}
