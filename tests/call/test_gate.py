"""The gate action on its own: a webhook that cannot be reached is retried and audited, never blocking;
the channel variable is set on the channel the dialplan marked with APOENA_CALL, over a real Manager socket."""

from __future__ import annotations

import asyncio
import time

from concierge.asterisk.ami import AMIClient
from concierge.asterisk.simulated import SimulatedAsterisk
from concierge.call.gate import Gate
from concierge.config import GateConfig
from tests.conftest import free_port


def test_an_unreachable_webhook_is_retried_then_reported_failed_without_blocking():
    url = f"http://127.0.0.1:{free_port()}/gate"  # nothing listens there
    gate = Gate(GateConfig.model_validate({"webhook": {"url": url, "attempts": 2, "timeout_seconds": 1}}))
    reports: list = []

    async def main() -> float:
        started = time.monotonic()
        task = gate.post("call-1", {"decision": "denied"}, reports.append)
        returned = time.monotonic() - started
        await asyncio.wait_for(task, 10)
        return returned

    returned = asyncio.run(main())
    assert returned < 0.05, "posting never waits for the webhook"
    [report] = reports
    assert (report.action, report.ok, report.attempts) == ("webhook", False, 2) and url in report.detail


def test_the_decision_is_set_on_the_visitors_channel_found_by_its_call_variable():
    async def main():
        async with SimulatedAsterisk() as asterisk:
            asterisk.add_channel("PJSIP/outro-00000007", APOENA_CALL="another-call")
            asterisk.add_channel("PJSIP/portaria-00000008", APOENA_CALL="call-1")
            ami = AMIClient("127.0.0.1", asterisk.port, "apoena", "x", timeout=2, ping_interval=None)
            gate = Gate(GateConfig(), ami)
            acted = await gate.set_variable("call-1", "authorized", "voice")
            missing = await gate.set_variable("call-2", "denied", None)
            await ami.close()
            return acted, missing, asterisk.channels

    acted, missing, channels = asyncio.run(main())
    assert acted.ok and acted.detail == "APOENA_DECISION=authorized on PJSIP/portaria-00000008"
    assert channels["PJSIP/portaria-00000008"] == {"APOENA_CALL": "call-1", "APOENA_DECISION": "authorized", "APOENA_DECISION_BY": "voice"}
    assert "APOENA_DECISION" not in channels["PJSIP/outro-00000007"]
    assert not missing.ok and "APOENA_CALL=call-2" in missing.detail


def test_a_manager_that_refuses_the_login_is_a_failed_gate_action_not_a_crash():
    async def main():
        async with SimulatedAsterisk(refuse_login=True) as asterisk:
            gate = Gate(GateConfig(), AMIClient("127.0.0.1", asterisk.port, "apoena", "x", timeout=2, ping_interval=None))
            return await gate.set_variable("call-1", "authorized", "keypad")

    acted = asyncio.run(main())
    assert not acted.ok and "refused" in acted.detail
