"""Text normalisation shared by the directory and the brains: accents, case, punctuation."""

from __future__ import annotations

import re
import unicodedata

_NON_WORD = re.compile(r"[^0-9a-z]+")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def fold(text: str) -> str:
    """Lower-case, accent-free, punctuation as single spaces: 'Júlia, 104!' -> 'julia 104'."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _NON_WORD.sub(" ", stripped).strip()


def clean_utterance(text: str, limit: int = 500) -> str:
    """What a visitor said, made safe to process: no control characters, bounded length."""
    text = _CONTROL.sub(" ", text.replace("\ufffd", " "))
    text = " ".join(text.split())
    return text[:limit]


def title_name(name: str) -> str:
    """'maria da silva' -> 'Maria da Silva' (Portuguese particles stay lower-case)."""
    particles = {"da", "de", "do", "das", "dos", "e"}
    words = name.split()
    return " ".join(w.lower() if i and w.lower() in particles else w[:1].upper() + w[1:] for i, w in enumerate(words))
