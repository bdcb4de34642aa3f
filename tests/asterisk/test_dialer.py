"""Ringing one of a resident's dial strings, against the fake Manager over real TCP."""

from __future__ import annotations

import asyncio

import pytest

from concierge.asterisk.ami import AMIClient, AMIConnectionLost, OriginateReason
from concierge.asterisk.dialer import ring
from tests.asterisk.fake_ami import FakeAMI

LEG = "0b5f3c1e-8d8a-4a59-9d7e-3f0f2c6b1a10"


def ring_once(server_settings: dict, dial: str):
    async def main():
        server = await FakeAMI(**server_settings).start()
        try:
            async with AMIClient("127.0.0.1", server.port, "apoena", "s3cret", timeout=1.0, ping_interval=None) as ami:
                result = await ring(
                    ami, dial, leg_uuid=LEG, audiosocket="10.0.0.5:9092", context="apoena-resident",
                    ring_seconds=5, caller_id='"Portaria" <100>', variables={"APOENA_VISIT": "v1"},
                )  # fmt: skip
            return result, [a for a in server.actions if a.get("Action") == "Originate"]
        finally:
            await server.stop()

    return asyncio.run(main())


def test_an_answered_dial_string_runs_the_resident_context_with_the_legs_uuid_and_where_apoena_is():
    result, sent = ring_once({"outcomes": {"Local/11988887777@trunk": "answer"}}, "Local/11988887777@trunk")
    assert result.reason is OriginateReason.ANSWERED and result.channel == "Local/11988887777@trunk"
    assert [a.get("Channel") for a in sent] == ["Local/11988887777@trunk"]
    assert sent[0].get_all("Variable") == [f"APOENA_UUID={LEG}", "APOENA_AUDIOSOCKET=10.0.0.5:9092", "APOENA_VISIT=v1"]
    assert sent[0].get("Context") == "apoena-resident" and sent[0].get("Exten") == "s"
    assert sent[0].get("Timeout") == "5000" and sent[0].get("CallerID") == '"Portaria" <100>'


@pytest.mark.parametrize("outcome, reason", [("busy", OriginateReason.BUSY), ("no_answer", OriginateReason.NO_ANSWER),
                                             ("congestion", OriginateReason.CONGESTION), ("refuse", OriginateReason.FAILED)])  # fmt: skip
def test_an_unanswered_dial_string_says_how_it_went(outcome, reason):
    result, _ = ring_once({"originate_outcome": outcome}, "PJSIP/104")
    assert result.reason is reason and not result.answered


def test_a_manager_that_drops_mid_call_is_raised():
    with pytest.raises(AMIConnectionLost):
        ring_once({"originate_outcome": "drop"}, "PJSIP/104")
