"""Ring one of a resident's dial strings so that, answered, it streams into Apoena's AudioSocket.

One attempt is one AMI `Originate` into the resident context with two channel variables the
dialplan uses — the leg's UUID (chosen by Apoena, fresh for every attempt, so the leg that
arrives on the AudioSocket server is matched to its visit and its attempt) and where Apoena's
AudioSocket server is:

    [apoena-resident]
    exten => s,1,Answer()
     same => n,AudioSocket(${APOENA_UUID},${APOENA_AUDIOSOCKET})
     same => n,Hangup()

The visit (`concierge.call.visit`) walks the dial strings: no answer, busy, congestion, a failed
dial, or an answer by a mailbox moves it on to the next one. A lost Manager connection is raised
(`AMIConnectionLost`) for the visit to end politely.
"""

from __future__ import annotations

from collections.abc import Mapping

from concierge.asterisk.ami import AMIClient, OriginateResult

UUID_VARIABLE = "APOENA_UUID"
AUDIOSOCKET_VARIABLE = "APOENA_AUDIOSOCKET"


async def ring(
    ami: AMIClient,
    dial: str,
    *,
    leg_uuid: str,
    audiosocket: str,
    context: str,
    ring_seconds: float,
    caller_id: str | None = None,
    variables: Mapping[str, str] | None = None,
) -> OriginateResult:
    """Ring `dial` for at most `ring_seconds`; answered, it runs `context` into the AudioSocket server at
    `audiosocket` ('host:port' as Asterisk reaches Apoena) with `leg_uuid`. Returns how it went."""
    channel_variables = {UUID_VARIABLE: leg_uuid, AUDIOSOCKET_VARIABLE: audiosocket, **(variables or {})}
    return await ami.originate(dial, context, "s", 1, variables=channel_variables, ring_seconds=ring_seconds, caller_id=caller_id)
