"""Tell a visitor's words from what speech recognition makes of line noise.

Whisper was trained on subtitled videos: on noise or silence it writes their credits and
sign-offs ("Legendas pela comunidade Amara.org", "Obrigado por assistir!", "[Música]"), or a
lone "Obrigado." / "Tchau.". A transcript made of nothing else is no visitor's turn and must
not reach the brain. This is conservative on purpose: a transcript is judged whole and is
either dropped or kept as it is; only what no visitor at a gate says counts as invented, and a
lone courtesy word only when the audio held too little speech to be a real one.
"""

from __future__ import annotations

import re
import unicodedata

SHORT_SPEECH_SECONDS = 0.5  # a lone "Obrigado." from less speech than this is Whisper's, not the visitor's

_INVENTED = re.compile(
    "|".join(
        (
            r"[^.!?]*\bamara\s*\.\s*org\b[.!?]*",  # subtitle credits, in any language
            r"\b(?:legendas?|legendado|legendagem|tradução e legendas?)\s*(?:por|pela|pelo|de|:)\s[^.!?]*[.!?]*",
            r"\binscreva-se\b[^.!?]*[.!?]*",
            r"\bobrigad[oa]s?\s+por\s+(?:assistir|terem\s+assistido|ter\s+assistido|ver)\b[^.!?]*[.!?]*",
            r"\[[^\]]*\]|\([^)]*\)",  # [Música], (risos): annotations, not words
            r"[♪♫]+",
        )
    ),
    re.IGNORECASE,
)
_COURTESY_ALONE = {"obrigado", "obrigada", "tchau", "tchau tchau"}


def is_noise(text: str, speech_seconds: float) -> bool:
    """Whether `text` holds no visitor's words: empty, punctuation, or only what recognition invents on noise.

    `speech_seconds`: how much speech the endpointer heard in the utterance (first to last voiced frame).
    """
    words = _folded_words(_INVENTED.sub(" ", text))
    return not words or (words in _COURTESY_ALONE and speech_seconds < SHORT_SPEECH_SECONDS)


def _folded_words(text: str) -> str:
    """Lowercase words without accents or punctuation, one space apart ("" for punctuation only)."""
    plain = unicodedata.normalize("NFKD", text.lower())
    plain = "".join(char for char in plain if not unicodedata.combining(char))
    return " ".join(re.findall(r"\w+", plain))
