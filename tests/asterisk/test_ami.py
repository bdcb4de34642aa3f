"""The Manager client against a real TCP server speaking the real wire format (tests/asterisk/fake_ami.py)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest

from concierge.asterisk.ami import (
    AMIClient,
    AMIConnectionLost,
    AMILoginRefused,
    AMIUnreachable,
    OriginateReason,
)
from concierge.errors import UserError
from tests.asterisk.fake_ami import FakeAMI

T = TypeVar("T")


def with_server(scenario: Callable[[FakeAMI], Awaitable[T]], **settings: object) -> T:
    async def main() -> T:
        server = await FakeAMI(**settings).start()  # type: ignore[arg-type]
        try:
            return await asyncio.wait_for(scenario(server), 10)
        finally:
            await server.stop()

    return asyncio.run(main())


def client_for(server: FakeAMI, **options: object) -> AMIClient:
    settings = {"username": "apoena", "secret": "s3cret", "timeout": 1.0, "ping_interval": None, **options}
    return AMIClient("127.0.0.1", server.port, **settings)  # type: ignore[arg-type]


def test_login_reads_the_banner_and_logs_in():
    async def scenario(server: FakeAMI) -> None:
        async with client_for(server) as ami:
            assert ami.banner == "Asterisk Call Manager/9.0.0" and ami.connected
        login = server.actions[0]
        assert (login.get("Action"), login.get("Username"), login.get("Secret")) == ("Login", "apoena", "s3cret")
        assert server.actions[-1].get("Action") == "Logoff"

    with_server(scenario)


def test_refused_login_is_one_clear_user_error():
    async def scenario(server: FakeAMI) -> None:
        ami = client_for(server, secret="wrong")
        with pytest.raises(AMILoginRefused) as caught:
            await ami.connect()
        assert isinstance(caught.value, UserError)
        message = str(caught.value)
        assert "\n" not in message and "refused user 'apoena'" in message and "APOENA_ASTERISK__AMI__SECRET" in message
        assert "wrong" not in message and not ami.connected

    with_server(scenario)


def test_unreachable_host_is_one_clear_user_error():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens once closed

    async def scenario() -> None:
        with pytest.raises(AMIUnreachable, match=f"cannot reach the Asterisk Manager at 127.0.0.1:{port}"):
            await AMIClient("127.0.0.1", port, timeout=1.0).connect()

    asyncio.run(scenario())


def test_a_port_that_is_not_a_manager_is_unreachable():
    async def scenario() -> None:
        async def http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(b"HTTP/1.1 400 Bad Request\r\n\r\n")
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(http, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            with pytest.raises(AMIUnreachable, match="does not answer as an Asterisk Manager"):
                await AMIClient("127.0.0.1", port, timeout=1.0).connect()

    asyncio.run(scenario())


def test_originate_returns_when_the_resident_answers():
    async def scenario(server: FakeAMI) -> None:
        async with client_for(server) as ami:
            result = await ami.originate(
                "PJSIP/104", "apoena-resident", "s", 1,
                variables={"APOENA_UUID": "9b2f5c1e-8d8a-4a59-9d7e-3f0f2c6b1a10", "APOENA_VISIT": "call-1"},
                ring_seconds=20, caller_id='"Portaria" <100>', action_id="visit-1",
            )
        assert result.answered and result.reason is OriginateReason.ANSWERED and result.action_id == "visit-1"
        sent = next(a for a in server.actions if a.get("Action") == "Originate")
        assert sent.get("Channel") == "PJSIP/104" and sent.get("Context") == "apoena-resident"
        assert sent.get("Timeout") == "20000" and sent.get("Async") == "true" and sent.get("ActionID") == "visit-1"
        assert sent.get_all("Variable") == ["APOENA_UUID=9b2f5c1e-8d8a-4a59-9d7e-3f0f2c6b1a10", "APOENA_VISIT=call-1"]
        assert sent.get("CallerID") == '"Portaria" <100>'

    with_server(scenario)


@pytest.mark.parametrize(
    "outcome, reason",
    [("no_answer", OriginateReason.NO_ANSWER), ("busy", OriginateReason.BUSY), ("congestion", OriginateReason.CONGESTION)],
)
def test_originate_that_fails_reports_why(outcome, reason):
    async def scenario(server: FakeAMI) -> None:
        async with client_for(server) as ami:
            result = await ami.originate("PJSIP/104", "apoena-resident", ring_seconds=5)
            assert not result.answered and result.reason is reason
            assert ami.connected  # a failed call leaves the session usable
            await ami.ping()

    with_server(scenario, originate_outcome=outcome)


def test_originate_refused_by_asterisk_fails_without_waiting_for_an_event():
    async def scenario(server: FakeAMI) -> None:
        async with client_for(server) as ami:
            result = await ami.originate("PJSIP/nowhere", "apoena-resident", ring_seconds=30)
        assert result.reason is OriginateReason.FAILED and result.message == "Originate failed"

    with_server(scenario, originate_outcome="refuse")


def test_connection_dropped_mid_originate_raises_and_allows_reconnecting():
    async def scenario(server: FakeAMI) -> None:
        ami = client_for(server)
        await ami.connect()
        with pytest.raises(AMIConnectionLost):
            await ami.originate("PJSIP/104", "apoena-resident", ring_seconds=5)
        assert not ami.connected
        server.originate_outcome = "answer"
        await ami.connect()
        assert (await ami.originate("PJSIP/104", "apoena-resident", ring_seconds=5)).answered
        await ami.close()
        assert server.connections == 2

    with_server(scenario, originate_outcome="drop")


def test_concurrent_originates_each_get_their_own_outcome():
    async def scenario(server: FakeAMI) -> None:
        async with client_for(server) as ami:
            results = await asyncio.gather(*(ami.originate(f"PJSIP/{n}", "apoena-resident", ring_seconds=5) for n in (101, 102, 103)))
        assert [r.channel for r in results] == ["PJSIP/101", "PJSIP/102", "PJSIP/103"]
        assert len({r.action_id for r in results}) == 3

    with_server(scenario)


def test_setvar_then_getvar():
    async def scenario(server: FakeAMI) -> None:
        async with client_for(server) as ami:
            await ami.setvar("APOENA_DECISION", "authorized", channel="PJSIP/portaria-00000001")
            assert await ami.getvar("APOENA_DECISION", channel="PJSIP/portaria-00000001") == "authorized"
            assert await ami.getvar("UNSET") is None
        setvar = next(a for a in server.actions if a.get("Action") == "Setvar")
        assert setvar.get("Channel") == "PJSIP/portaria-00000001"

    with_server(scenario)


def test_events_stream_until_the_connection_ends():
    async def scenario(server: FakeAMI) -> list[str]:
        ami = client_for(server)
        await ami.connect()
        seen: list[str] = []

        async def listen() -> None:
            async for event in ami.events():
                seen.append(event.event or "")

        listener = asyncio.create_task(listen())
        await asyncio.sleep(0.05)
        await server.broadcast(("Event", "Hangup"), ("Channel", "PJSIP/104-00000001"), ("Cause", "16"))
        await server.broadcast(("Event", "DTMFEnd"), ("Digit", "1"))
        await asyncio.sleep(0.05)
        server.drop_all()
        await asyncio.wait_for(listener, 2)  # the stream ends when the connection does
        await ami.close()
        return seen

    assert with_server(scenario) == ["Hangup", "DTMFEnd"]


def test_keep_alive_ping_notices_a_hung_manager():
    async def scenario(server: FakeAMI) -> None:
        ami = client_for(server, ping_interval=0.05, timeout=0.2)
        await ami.connect()
        assert any(a.get("Action") == "Ping" for a in server.actions) is False
        await asyncio.sleep(0.1)
        assert any(a.get("Action") == "Ping" for a in server.actions)
        server.silent = True
        for _ in range(40):
            if not ami.connected:
                break
            await asyncio.sleep(0.05)
        assert not ami.connected
        with pytest.raises(AMIConnectionLost):
            await ami.setvar("X", "1")
        await ami.close()

    with_server(scenario)


def test_close_is_safe_twice_and_before_connecting():
    async def scenario(server: FakeAMI) -> None:
        ami = client_for(server)
        await ami.close()
        await ami.connect()
        await ami.close()
        await ami.close()
        assert not ami.connected

    with_server(scenario)


def test_the_secret_never_shows_in_repr():
    assert "s3cret" not in repr(AMIClient(username="apoena", secret="s3cret"))


def test_a_manager_that_hangs_up_at_login_is_a_refused_login():
    async def scenario() -> None:
        async def rude(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(b"Asterisk Call Manager/9.0.0\r\n")
            await writer.drain()
            await reader.readuntil(b"\r\n\r\n")
            writer.close()

        server = await asyncio.start_server(rude, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            with pytest.raises(AMILoginRefused, match="closed the connection at login"):
                await AMIClient("127.0.0.1", port, "apoena", "s3cret", timeout=1.0, ping_interval=None).connect()

    asyncio.run(scenario())


def test_events_after_a_reconnect_reach_a_new_listener():
    async def scenario(server: FakeAMI) -> list[str]:
        ami = client_for(server)
        await ami.connect()
        server.drop_all()
        for _ in range(40):
            if not ami.connected:
                break
            await asyncio.sleep(0.02)
        await ami.connect()
        seen: list[str] = []

        async def listen() -> None:
            async for event in ami.events():
                seen.append(event.event or "")
                return

        listener = asyncio.create_task(listen())
        await asyncio.sleep(0.05)
        await server.broadcast(("Event", "Hangup"), ("Channel", "PJSIP/104-00000002"))
        await asyncio.wait_for(listener, 2)
        await ami.close()
        return seen

    assert with_server(scenario) == ["Hangup"]
