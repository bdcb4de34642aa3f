"""Ringing a resident's dial strings in order, against the fake Manager over real TCP."""

from __future__ import annotations

import asyncio

import pytest

from concierge.asterisk.ami import AMIClient, AMIConnectionLost, OriginateReason
from concierge.asterisk.dialer import ring_resident
from tests.asterisk.fake_ami import FakeAMI

LEG = "0b5f3c1e-8d8a-4a59-9d7e-3f0f2c6b1a10"


def ring(server_settings: dict, dial_strings: list[str]):
    async def main():
        server = await FakeAMI(**server_settings).start()
        try:
            async with AMIClient("127.0.0.1", server.port, "apoena", "s3cret", timeout=1.0, ping_interval=None) as ami:
                outcome = await ring_resident(
                    ami, dial_strings, leg_uuid=LEG, audiosocket="10.0.0.5:9092", context="apoena-resident",
                    ring_seconds=5, caller_id='"Portaria" <100>',
                )
            return outcome, [a for a in server.actions if a.get("Action") == "Originate"]
        finally:
            await server.stop()

    return asyncio.run(main())


def test_the_first_dial_string_that_answers_ends_the_search():
    outcome, sent = ring({"outcomes": {"PJSIP/104": "busy", "Local/11988887777@trunk": "answer"}},
                         ["PJSIP/104", "Local/11988887777@trunk", "PJSIP/104b"])
    assert [a.reason for a in outcome.attempts] == [OriginateReason.BUSY, OriginateReason.ANSWERED]
    assert outcome.answered and outcome.answered.channel == "Local/11988887777@trunk"
    assert [a.get("Channel") for a in sent] == ["PJSIP/104", "Local/11988887777@trunk"]
    assert sent[0].get_all("Variable") == [f"APOENA_UUID={LEG}", "APOENA_AUDIOSOCKET=10.0.0.5:9092"]
    assert sent[0].get("Context") == "apoena-resident" and sent[0].get("Exten") == "s"


def test_nobody_answering_anywhere_reports_every_attempt():
    outcome, _ = ring({"originate_outcome": "no_answer", "outcomes": {"PJSIP/104b": "refuse"}}, ["PJSIP/104", "PJSIP/104b"])
    assert outcome.answered is None
    assert [a.reason for a in outcome.attempts] == [OriginateReason.NO_ANSWER, OriginateReason.FAILED]


def test_no_dial_strings_is_no_attempt():
    outcome, sent = ring({}, [])
    assert outcome.attempts == () and outcome.answered is None and sent == []


def test_a_manager_that_drops_mid_call_is_raised():
    with pytest.raises(AMIConnectionLost):
        ring({"originate_outcome": "drop"}, ["PJSIP/104", "PJSIP/104b"])
