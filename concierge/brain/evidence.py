"""Weigh what was heard against the directory: which apartment a turn names, and how sure we are.

A phone line garbles numbers; the directory is small and known. Every reading of a number
(see `concierge.brain.numbers`), from the transcript and from the recogniser's other readings,
is scored by its shape and cues and by what the directory says of it: a real apartment, the
apartment of a resident named in the call, or one digit away from one. The best-supported
reading wins; one that needed help (a near miss, another reading, a guessed block) is marked
unsure, so the concierge reads it back before anyone is told.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from concierge.brain.directory import Directory
from concierge.brain.understand import ApartmentHeard

ALTERNATIVE_PENALTY = 0.35  # a reading from the recogniser's N-best, not its first choice


class Support(StrEnum):
    DIRECTORY = "directory"  # a real apartment, as heard
    NEAR = "near"  # one digit off the apartment of a resident named in the call
    RESIDENT = "resident"  # taken from the resident's own entry in the directory
    UNKNOWN = "unknown"  # no such apartment here


@dataclass(frozen=True)
class ApartmentChoice:
    """The apartment a turn names: a directory key when the directory supports it, else what was said."""

    value: str
    said: str
    support: Support
    unsure: bool
    score: float
    blocks: tuple[str, ...] = ()  # directory keys the number can mean when its block was not said

    @property
    def found(self) -> bool:
        return self.support != Support.UNKNOWN and not self.blocks


def choose_apartment(
    heard: list[ApartmentHeard],
    directory: Directory,
    resident_homes: set[str],
    alternatives: Sequence[ApartmentHeard] = (),
) -> ApartmentChoice | None:
    """The best-supported apartment among the readings; `resident_homes` are the apartments of the
    residents named so far (they vouch for a reading, and rescue a near miss)."""
    options = [_weigh(h, directory, resident_homes, 0.0) for h in heard if not h.negated]
    options += [_weigh(h, directory, resident_homes, ALTERNATIVE_PENALTY) for h in alternatives if not h.negated]
    options = [o for o in options if o is not None]
    if not options:
        return None
    return max(options, key=lambda o: o.score)


def _weigh(heard: ApartmentHeard, directory: Directory, homes: set[str], penalty: float) -> ApartmentChoice | None:
    said = f"{heard.number}" if heard.block is None else f"{heard.block}-{heard.number}"
    keys = directory.apartments_numbered(heard.number, heard.block)
    from_alternative = penalty > 0
    score = heard.prior - penalty
    if len(keys) == 1:
        vouched = keys[0] in homes
        slipped = heard.block is not None and not keys[0].startswith(f"{heard.block.upper()}-")  # 'V-43' heard, B-43 here
        unsure = (from_alternative or slipped) and not vouched
        return ApartmentChoice(keys[0], said, Support.DIRECTORY, unsure, score + 1.0 + 0.5 * vouched - 0.2 * slipped)
    if len(keys) > 1:
        home = [key for key in keys if key in homes]
        if len(home) == 1:  # the block was not said: the resident's own block is read back
            return ApartmentChoice(home[0], said, Support.DIRECTORY, True, score + 1.3)
        return ApartmentChoice(heard.number, said, Support.UNKNOWN, True, score + 0.6, tuple(keys))
    near = [key for key in directory.apartments_near(heard.number) if key in homes]
    if len(near) == 1:
        return ApartmentChoice(near[0], said, Support.NEAR, True, score + 0.7)
    if from_alternative:
        return None  # another reading of the audio counts only when the directory backs it
    return ApartmentChoice(said, said, Support.UNKNOWN, False, score)
