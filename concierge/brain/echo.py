"""The concierge's own voice, heard back in the visitor's turn, taken out before it is read.

On many intercoms the loudspeaker leaks into the microphone, and the recogniser writes what the
concierge just said as if the visitor had said it: "Entrega para Paula Miranda Reis, no
apartamento 803, certo? não não, Ana Paula, do 402". Read as the visitor's, that echo confirms
the very read-back the visitor is correcting. So a run of words that stands, in the same order,
in one of the concierge's last lines is cut from the turn: four words or more, or three with a
word only a question uses ('entrega ou visita', 'qual é o seu nome'). A visitor rarely says four
of the concierge's words in a row; when they do ('isso, visita para a Ana Souza'), what remains
still says what they meant.
"""

from __future__ import annotations

import re

from concierge.brain.memory import Conversation
from concierge.brain.text import fold

MIN_RUN = 4
QUESTION_WORDS = frozenset({"ou", "qual", "quem", "certo", "ajudar"})
"""Words the concierge asks with, not the visitor's: three of its words in a row with one of them are an echo."""
LINES_HEARD_BACK = 2
_TOKEN = re.compile(r"\S+")


READ_BACK = re.compile(r"^\s*(?:\S+\s+){3,}?\S*certo\s*\?\s*(?=\S)", re.IGNORECASE)
"""A read-back heard back at the start of a turn, as the concierge ends one: '… no apartamento 803, certo? não, …'."""


def without_echo(text: str, conversation: Conversation) -> str:
    """`text` without the runs of the concierge's recent words it repeats (see the module), and
    without a read-back ('…, certo?') heard back at its start before the visitor's answer."""
    text = READ_BACK.sub("", text)
    spoken = [fold(line.text).split() for line in conversation.history if line.role == "concierge"][-LINES_HEARD_BACK:]
    if not spoken or not text.strip():
        return text
    tokens = [(m.start(), m.end(), fold(m.group(0)).split()) for m in _TOKEN.finditer(text)]
    words = [(index, word) for index, (_, _, folded) in enumerate(tokens) for word in folded]
    cut: set[int] = set()  # indexes into `tokens`
    for line in spoken:
        at = 0
        while at < len(words):
            size = _longest_run([w for _, w in words[at:]], line)
            run = [w for _, w in words[at : at + size]]
            if size >= MIN_RUN or (size >= 3 and QUESTION_WORDS.intersection(run)):
                cut |= {index for index, _ in words[at : at + size]}
                at += size
            else:
                at += 1
    if not cut:
        return text
    kept = [text[start:end] for index, (start, end, _) in enumerate(tokens) if index not in cut]
    return " ".join(kept).strip(" ,.;:")


def _longest_run(words: list[str], line: list[str]) -> int:
    """How many of `words`, from the first, stand in that order somewhere in `line`."""
    best = 0
    for start in range(len(line)):
        size = 0
        while size < len(words) and start + size < len(line) and words[size] == line[start + size]:
            size += 1
        best = max(best, size)
    return best
