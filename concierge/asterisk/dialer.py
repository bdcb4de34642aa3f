"""Ring a resident through their dial strings, in order, until one answers into Apoena's AudioSocket.

Each attempt is one AMI `Originate` into the resident context with two channel variables the
dialplan uses — the leg's UUID (chosen by Apoena, so the leg that arrives on the AudioSocket
server is matched to its visit) and where Apoena's AudioSocket server is:

    [apoena-resident]
    exten => s,1,Answer()
     same => n,AudioSocket(${APOENA_UUID},${APOENA_AUDIOSOCKET})
     same => n,Hangup()

No answer, busy, congestion or a failed dial moves on to the next dial string; a lost Manager
connection is raised (`AMIConnectionLost`) for the visit to end politely.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from concierge.asterisk.ami import AMIClient, OriginateResult

UUID_VARIABLE = "APOENA_UUID"
AUDIOSOCKET_VARIABLE = "APOENA_AUDIOSOCKET"


@dataclass(frozen=True)
class DialOutcome:
    """Every attempt, in order; `answered` is the one that connected, if any."""

    attempts: tuple[OriginateResult, ...]

    @property
    def answered(self) -> OriginateResult | None:
        return next((attempt for attempt in self.attempts if attempt.answered), None)


async def ring_resident(
    ami: AMIClient,
    dial_strings: Sequence[str],
    *,
    leg_uuid: str,
    audiosocket: str,
    context: str,
    ring_seconds: float,
    caller_id: str | None = None,
    variables: Mapping[str, str] | None = None,
    on_attempt: Callable[[str], None] | None = None,
) -> DialOutcome:
    """Try each dial string until one answers; `audiosocket` is 'host:port' as Asterisk reaches Apoena.
    `on_attempt(dial)` is told before each dial string rings."""
    attempts: list[OriginateResult] = []
    channel_variables = {UUID_VARIABLE: leg_uuid, AUDIOSOCKET_VARIABLE: audiosocket, **(variables or {})}
    for dial in dial_strings:
        if on_attempt is not None:
            on_attempt(dial)
        result = await ami.originate(
            dial, context, "s", 1, variables=channel_variables, ring_seconds=ring_seconds, caller_id=caller_id
        )
        attempts.append(result)
        if result.answered:
            break
    return DialOutcome(tuple(attempts))
