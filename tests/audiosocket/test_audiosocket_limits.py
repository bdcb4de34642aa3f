"""What one peer may cost the AudioSocket server, over real sockets on 127.0.0.1: connections per
source address, new connections a second, and audio sent faster than real time (read at real
time, the peer held back).

Timing: assertions bound what the server *took* by what the wall clock allows; a slow, loaded
machine only makes the server take less, so they hold however busy the machine is."""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import time
import uuid
from collections.abc import Awaitable, Callable

import pytest

from concierge.audiosocket.client import AudioSocketClient
from concierge.audiosocket.limits import MIN_MESSAGE_SECONDS, AcceptRate, RealTimeBudget, SourceAllowList, SourceLimit, source_of
from concierge.audiosocket.protocol import Audio, encode_audio, encode_dtmf, encode_uuid
from concierge.audiosocket import server as server_module
from concierge.audiosocket.server import AudioSocketServer, Connection

LOGGER = "apoena.audiosocket"
FRAME = bytes(320)  # 20 ms of 8 kHz slin
FRAME_SECONDS = 0.02


def run(test: Callable[[], Awaitable[None]], timeout: float = 60.0) -> None:
    asyncio.run(asyncio.wait_for(test(), timeout))


async def hold_open(conn: Connection) -> None:
    """A call that lasts until the caller hangs up."""
    async for _ in conn:
        pass


def held_and_listed(calls: list[uuid.UUID]) -> Callable[[Connection], Awaitable[None]]:
    """A handler that lists each call's UUID in `calls` and holds it until the caller hangs up."""

    async def handler(conn: Connection) -> None:
        calls.append(conn.call_id)
        await hold_open(conn)

    return handler


async def read_to_eof(reader: asyncio.StreamReader, timeout: float) -> bytes:
    return await asyncio.wait_for(reader.read(), timeout)


# -- new connections a second --------------------------------------------------------------------


def test_the_accept_rate_takes_a_burst_then_one_connection_per_interval():
    rate = AcceptRate(per_second=10, burst=3)
    for _ in range(3):
        assert rate.wait(0.0) == 0
        rate.take()
    assert rate.wait(0.0) == pytest.approx(0.1)
    assert rate.wait(0.05) == pytest.approx(0.05)
    assert rate.wait(0.1) == 0
    rate.take()
    assert rate.wait(10.0) == 0  # credit builds up again, to the burst and no further
    for _ in range(3):
        rate.take()
    assert rate.wait(10.0) > 0
    unlimited = AcceptRate(0)
    for _ in range(1000):
        unlimited.take()
    assert unlimited.wait(0.0) == 0
    with pytest.raises(ValueError):
        AcceptRate(-1)


def test_connections_past_the_rate_wait_in_the_listen_queue_and_are_all_served():
    """15 callers at once against 5 new connections a second (bursts of 5): the server takes the
    first 5 at once and one every 0.2 s after, never faster; none is refused or lost."""
    admitted: list[float] = []

    async def handler(conn: Connection) -> None:
        admitted.append(time.monotonic())
        await hold_open(conn)

    async def scenario() -> None:
        async with AudioSocketServer(handler, port=0, max_new_connections_per_second=5) as server:
            started = time.monotonic()
            callers = await asyncio.gather(*(AudioSocketClient.connect("127.0.0.1", server.port) for _ in range(15)))
            while len(admitted) < 15:
                await asyncio.sleep(0.02)
            for caller in callers:
                await caller.hangup()
            for index, at in enumerate(sorted(admitted)):
                assert at - started >= max(0, index - 4) / 5 - 0.02, (index, at - started)

    run(scenario)
    assert len(admitted) == 15


# -- allowed sources ----------------------------------------------------------------------------


def test_the_allow_list_takes_addresses_and_networks_and_empty_allows_all():
    allowed = SourceAllowList(["10.0.0.5", "192.168.8.0/24", "2001:db8::/32"])
    assert allowed.allows("10.0.0.5") and allowed.allows("192.168.8.77") and allowed.allows("2001:db8::1")
    assert not allowed.allows("10.0.0.6") and not allowed.allows("192.168.9.1") and not allowed.allows("unix-socket")
    assert SourceAllowList([]).allows("203.0.113.9")


def test_a_connection_from_an_address_not_allowed_is_reset_before_anything_is_read(caplog):
    """Two loopback addresses as two hosts: 127.0.0.1 is the Asterisk listed, 127.0.0.2 a stranger.
    The stranger's UUID and audio are never read, no call starts, the refusal is counted and
    logged once; the listed address's call goes on as usual."""
    caplog.set_level(logging.INFO, logger=LOGGER)
    refused: list[str] = []
    calls: list[uuid.UUID] = []
    handler = held_and_listed(calls)

    async def scenario() -> None:
        async with AudioSocketServer(handler, port=0, allowed_sources=["127.0.0.1"], on_refused=refused.append) as server:
            for _ in range(3):
                with pytest.raises(ConnectionResetError):  # while connecting or reading: the reset can beat the handshake's end
                    reader, writer = await asyncio.open_connection("127.0.0.1", server.port, local_addr=("127.0.0.2", 0))
                    writer.write(encode_uuid(uuid.uuid4()) + encode_audio(FRAME))
                    await read_to_eof(reader, timeout=5)
            asterisk = await AudioSocketClient.connect("127.0.0.1", server.port)
            await asterisk.send_audio(FRAME)
            while not calls:
                await asyncio.sleep(0.01)
            await asterisk.hangup()

    run(scenario)
    assert refused == ["not_allowed"] * 3 and len(calls) == 1
    lines = [r.getMessage() for r in caplog.records if "allowed_sources" in r.getMessage()]
    assert len(lines) == 1 and "127.0.0.2" in lines[0], lines


# -- connections per source --------------------------------------------------------------------


def test_a_source_past_its_connection_limit_is_hung_up_on_at_once_and_counted(caplog):
    refused: list[str] = []
    calls: list[uuid.UUID] = []
    handler = held_and_listed(calls)

    async def scenario() -> None:
        async with AudioSocketServer(handler, port=0, max_connections_per_source=2, on_refused=refused.append) as server:
            first = await AudioSocketClient.connect("127.0.0.1", server.port)
            second = await AudioSocketClient.connect("127.0.0.1", server.port)
            while len(calls) < 2:
                await asyncio.sleep(0.01)
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(encode_uuid(uuid.uuid4()))
            # A hangup frame, then EOF: Asterisk's AudioSocket() returns and the dialplan goes on.
            # Before the limit existed this connection was a third call: no bytes, no EOF (timeout).
            assert await read_to_eof(reader, 10) == b"\x00\x00\x00"
            writer.close()
            assert len(calls) == 2 and refused == ["source_limit"]
            # The calls in progress are untouched, and a place freed is a place taken again.
            await first.send_audio(FRAME)
            await first.close()
            while server.connections_from("127.0.0.1") > 1:
                await asyncio.sleep(0.01)
            third = await AudioSocketClient.connect("127.0.0.1", server.port)
            while len(calls) < 3:
                await asyncio.sleep(0.01)
            await third.close()
            await second.close()

    with caplog.at_level(logging.WARNING, logger=LOGGER):
        run(scenario)
    lines = [r.getMessage() for r in caplog.records if "max_connections_per_source" in r.getMessage()]
    assert len(lines) == 1 and "2 connections from 127.0.0.1 already open" in lines[0]


def test_idle_connections_count_against_the_limit_until_the_server_cuts_them():
    """Connections that never send a UUID hold their places (5 s by default) and no longer: then
    the same source is served again."""

    async def scenario() -> None:
        async with AudioSocketServer(hold_open, port=0, max_connections_per_source=3, first_message_timeout=0.5) as server:
            idle = [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(3)]
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            assert await read_to_eof(reader, 10) == b"\x00\x00\x00"  # the fourth: refused at once
            writer.close()
            for idle_reader, idle_writer in idle:  # cut after first_message_timeout, without a call
                assert await read_to_eof(idle_reader, 10) == b""
                idle_writer.close()
            while server.connections_from("127.0.0.1"):
                await asyncio.sleep(0.01)
            async with await AudioSocketClient.connect("127.0.0.1", server.port) as client:
                await client.send_audio(FRAME)

    run(scenario)


def test_without_a_limit_a_thousand_idle_connections_are_all_taken_and_cut_after_the_timeout():
    """The default (no limit): one Asterisk is one source, so nothing is refused for its number
    of connections; idle ones are cut by the UUID timeout, as bench/fuzz.py measured."""
    refused: list[str] = []

    async def scenario() -> None:
        async with AudioSocketServer(hold_open, port=0, first_message_timeout=1.0, on_refused=refused.append) as server:
            idle = [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(1000)]
            async with await AudioSocketClient.connect("127.0.0.1", server.port) as client:
                await client.send_audio(FRAME)  # a real call is still taken
            cut = await asyncio.gather(*(read_to_eof(reader, 30) for reader, _ in idle))
            for _, writer in idle:
                writer.close()
            assert cut == [b""] * 1000  # closed without a hangup frame: they never were calls
            assert refused == ["no_uuid"] * 1000

    run(scenario, timeout=90)


def test_source_limit_counts_per_address_and_frees_places():
    limit = SourceLimit(2)
    assert limit.admit("10.0.0.1") and limit.admit("10.0.0.1")
    assert not limit.admit("10.0.0.1")
    assert limit.admit("10.0.0.2")
    limit.release("10.0.0.1")
    assert limit.open_from("10.0.0.1") == 1 and limit.admit("10.0.0.1")
    unlimited = SourceLimit(0)
    assert all(unlimited.admit("10.0.0.1") for _ in range(5000))
    assert source_of(("::ffff:10.0.0.7", 5060, 0, 0)) == "10.0.0.7" == source_of(("10.0.0.7", 1))


# -- audio faster than real time ---------------------------------------------------------------


def delivery_recorder() -> tuple[Callable[[Connection], Awaitable[None]], list[tuple[float, float]]]:
    """A handler that notes (monotonic time, audio seconds taken so far) for every audio message."""
    taken: list[tuple[float, float]] = []

    async def handler(conn: Connection) -> None:
        seconds = 0.0
        async for message in conn:
            if isinstance(message, Audio):
                seconds += len(message.pcm) / 16000
                taken.append((time.monotonic(), seconds))

    return handler, taken


async def blast(port: int, seconds: float, frame: bytes = FRAME, extra: bytes = b"") -> float:
    """Connect, then write `seconds` of audio at once (as fast as TCP takes it); the time the
    connection was begun (the server's budget cannot start earlier; on a loaded machine the
    client may resume from the connect well after the server took the call)."""
    frames = round(seconds * 16000 / len(frame))
    connected = time.monotonic()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(encode_uuid(uuid.uuid4()) + (encode_audio(frame) + extra) * frames)
    await writer.drain()
    writer.write_eof()
    await reader.read()
    writer.close()
    return connected


def test_audio_sent_faster_than_real_time_is_taken_no_faster_than_real_time_after_the_burst():
    """12 s of audio written at once: the handler gets 2 s (the burst) at once, then the rest at
    real time. Before the limit the whole 12 s was taken within a few hundred milliseconds."""
    handler, taken = delivery_recorder()

    async def scenario() -> None:
        async with AudioSocketServer(handler, port=0, max_audio_speed=1.0, audio_burst_seconds=2.0) as server:
            connected = await blast(server.port, 12.0)
            while not taken or taken[-1][1] < 12.0 - 1e-9:
                await asyncio.sleep(0.05)
            # Never ahead of the clock: audio taken <= burst + time since connecting (+ one frame).
            for at, seconds in taken:
                assert seconds <= 2.0 + (at - connected) + FRAME_SECONDS + 1e-6, (at - connected, seconds)
            assert taken[-1][0] - connected >= 12.0 - 2.0 - FRAME_SECONDS  # so 12 s took at least 10 s
            # ...and the burst itself was not held back: 2 s arrived without waiting for the clock.
            burst = [seconds for at, seconds in taken if at - connected < 1.0]
            assert burst and burst[-1] >= 1.5

    run(scenario)


def test_audio_at_real_time_is_never_held_back():
    """A caller at exactly real time (as Asterisk sends) is taken as it comes, with almost no burst
    to hide behind: no frame waits for the clock."""
    handler, taken = delivery_recorder()
    sent: list[float] = []

    async def scenario() -> None:
        async with AudioSocketServer(handler, port=0, max_audio_speed=1.0, audio_burst_seconds=0.1) as server:
            async with await AudioSocketClient.connect("127.0.0.1", server.port) as client:
                start = time.monotonic()
                for tick in range(1, 301):  # 6 s, paced against the clock
                    await client.send_audio(FRAME)
                    sent.append(time.monotonic())
                    await asyncio.sleep(max(0.0, start + tick * FRAME_SECONDS - time.monotonic()))
                while len(taken) < 300:
                    await asyncio.sleep(0.02)
            late = max(at - sent_at for (at, _), sent_at in zip(taken, sent))
            assert late < 1.0, late  # a reader held to a slower clock would fall seconds behind by the end

    run(scenario)


def test_a_flood_of_tiny_frames_and_keypad_digits_is_bounded_too():
    """Each message costs at least MIN_MESSAGE_SECONDS: 2-byte audio frames each followed by a DTMF
    digit cannot make the server take thousands of messages a second."""
    taken: list[float] = []

    async def handler(conn: Connection) -> None:
        async for _ in conn:
            taken.append(time.monotonic())

    async def scenario() -> None:
        async with AudioSocketServer(handler, port=0, max_audio_speed=1.0, audio_burst_seconds=0.5) as server:
            connected = await blast(server.port, 2 * 300 / 16000, frame=b"\x01\x00", extra=encode_dtmf("5"))
            while len(taken) < 601:  # 300 audio frames, 300 digits, the final Hangup
                await asyncio.sleep(0.05)
            for index, at in enumerate(taken[:-1], start=1):  # never more than the burst + the clock allow
                assert index * MIN_MESSAGE_SECONDS <= 0.5 + (at - connected) + MIN_MESSAGE_SECONDS + 1e-6

    run(scenario)


def test_the_speed_allowed_is_a_multiple_of_real_time():
    """`apoena simulate --speed 4` reads its callers at up to 4× real time."""
    handler, taken = delivery_recorder()

    async def scenario() -> None:
        async with AudioSocketServer(handler, port=0, max_audio_speed=4.0, audio_burst_seconds=1.0) as server:
            connected = await blast(server.port, 13.0)
            while not taken or taken[-1][1] < 13.0 - 1e-9:
                await asyncio.sleep(0.05)
            for at, seconds in taken:
                assert seconds <= 1.0 + 4.0 * (at - connected) + FRAME_SECONDS + 1e-6
            assert taken[-1][0] - connected >= (13.0 - 1.0 - FRAME_SECONDS) / 4.0  # at least 3 s, not 10 ms

    run(scenario)


def test_real_time_budget_credit_runs_from_the_start_so_a_late_reader_catches_up():
    budget = RealTimeBudget(started=100.0, speed=1.0, burst_seconds=2.0)
    assert budget.hold(1.98, now=100.0) == 0.0  # within the burst
    assert budget.hold(0.04, now=100.0) == pytest.approx(0.02)  # a frame ahead of the clock: wait a frame
    late = RealTimeBudget(started=100.0)
    # Our reader started 5 s late (a stall): the 5 s waiting in the socket (7 s with the burst) are taken at once.
    assert all(late.hold(0.02, now=105.0) == 0.0 for _ in range(340))
    assert [late.hold(0.02, now=105.0) > 0 for _ in range(20)][-1]
    assert RealTimeBudget(started=0.0, speed=4.0, burst_seconds=0.0).hold(4.0, now=0.5) == pytest.approx(0.5)


class OutOfDescriptors(socket.socket):
    """A listening socket whose first accept() fails as a process out of file descriptors does."""

    failures = 1

    def accept(self):  # type: ignore[override]
        if OutOfDescriptors.failures:
            OutOfDescriptors.failures -= 1
            raise OSError(errno.EMFILE, "Too many open files")
        return super().accept()


def test_out_of_descriptors_new_calls_wait_and_the_server_goes_on(monkeypatch, caplog):
    """accept() failing with EMFILE: one error line, a pause, then the waiting caller is served."""
    monkeypatch.setattr(server_module, "ACCEPT_RETRY_SECONDS", 0.2)
    caplog.set_level(logging.ERROR, logger=LOGGER)
    calls: list[uuid.UUID] = []
    plain = socket.create_server(("127.0.0.1", 0))
    listener = OutOfDescriptors(fileno=plain.detach())

    async def scenario() -> None:
        async with AudioSocketServer(held_and_listed(calls), sock=listener) as server:
            asterisk = await AudioSocketClient.connect("127.0.0.1", server.port)
            while not calls:
                await asyncio.sleep(0.02)
            await asterisk.hangup()

    run(scenario)
    assert len(calls) == 1 and OutOfDescriptors.failures == 0
    assert [r.getMessage() for r in caplog.records if "cannot accept" in r.getMessage()] == [
        "cannot accept a connection: [Errno 24] Too many open files — trying again in 0.2 s"
    ]
