"""The AudioSocket server over real sockets on 127.0.0.1: calls, hangups, bad peers, shutdown."""

import asyncio
import logging
import socket
import struct
import time
import uuid
from collections.abc import Awaitable, Callable

import pytest

from concierge.audiosocket.client import AudioSocketClient
from concierge.audiosocket.protocol import (
    Audio,
    Dtmf,
    Hangup,
    encode_audio,
    encode_dtmf,
    encode_hangup,
    encode_uuid,
)
from concierge.audiosocket.server import AudioSocketServer, ConnectionClosed, Connection

FRAME = bytes(range(160)) * 2
LOGGER = "apoena.audiosocket"


def run(test: Callable[[], Awaitable[None]], timeout: float = 10.0) -> None:
    asyncio.run(asyncio.wait_for(test(), timeout))


async def echo(conn: Connection) -> None:
    async for message in conn:
        if isinstance(message, Audio):
            await conn.send_audio(message.pcm)


async def raw_connect(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", port)


async def read_to_eof(reader: asyncio.StreamReader, timeout: float = 2.0) -> bytes:
    return await asyncio.wait_for(reader.read(), timeout)


def recording_handler() -> tuple[Callable[[Connection], Awaitable[None]], asyncio.Queue]:
    """A handler that puts (call_id, message) on a queue for every message it receives."""
    seen: asyncio.Queue = asyncio.Queue()

    async def handler(conn: Connection) -> None:
        async for message in conn:
            await seen.put((conn.call_id, message))

    return handler, seen


def test_handler_gets_the_call_id_from_the_first_uuid_frame():
    async def scenario() -> None:
        handler, seen = recording_handler()
        call_id = uuid.uuid4()
        async with AudioSocketServer(handler, port=0) as server:
            async with await AudioSocketClient.connect("127.0.0.1", server.port, call_id) as client:
                await client.send_dtmf("5")
                assert await seen.get() == (call_id, Dtmf("5"))

    run(scenario)


def test_audio_sent_by_the_caller_is_echoed_back_frame_by_frame():
    async def scenario() -> None:
        async with AudioSocketServer(echo, port=0) as server:
            async with await AudioSocketClient.connect("127.0.0.1", server.port) as client:
                await client.send_audio(FRAME * 3, frame_bytes=320)
                assert [await client.receive() for _ in range(3)] == [Audio(FRAME)] * 3

    run(scenario)


def test_client_splits_audio_into_frames_with_a_short_last_one():
    async def scenario() -> None:
        handler, seen = recording_handler()
        async with AudioSocketServer(handler, port=0) as server:
            async with await AudioSocketClient.connect("127.0.0.1", server.port) as client:
                await client.send_audio(b"\x01\x00" * 400, frame_bytes=320)
                sizes = [len((await seen.get())[1].pcm) for _ in range(3)]
                assert sizes == [320, 320, 160]

    run(scenario)


def test_server_hangup_sends_a_hangup_frame_then_closes():
    async def handler(conn: Connection) -> None:
        await conn.receive()
        await conn.hangup()

    async def scenario() -> None:
        async with AudioSocketServer(handler, port=0) as server:
            reader, writer = await raw_connect(server.port)
            writer.write(encode_uuid(uuid.uuid4()) + encode_audio(FRAME))
            assert await read_to_eof(reader) == b"\x00\x00\x00"
            writer.close()

    run(scenario)


def test_server_hangup_reads_as_hangup_in_the_client():
    async def handler(conn: Connection) -> None:
        await conn.send_audio(FRAME)
        await conn.hangup()

    async def scenario() -> None:
        async with AudioSocketServer(handler, port=0) as server:
            client = await AudioSocketClient.connect("127.0.0.1", server.port)
            assert [message async for message in client] == [Audio(FRAME), Hangup()]
            await client.close()

    run(scenario)


def test_caller_closing_the_socket_reads_as_hangup_in_the_handler():
    async def scenario() -> None:
        handler, seen = recording_handler()
        async with AudioSocketServer(handler, port=0) as server:
            client = await AudioSocketClient.connect("127.0.0.1", server.port)
            await client.send_audio(FRAME)
            await client.close()
            assert (await seen.get())[1] == Audio(FRAME)
            assert (await seen.get())[1] == Hangup()

    run(scenario)


def test_caller_hangup_frame_reads_as_hangup_and_ends_iteration():
    async def scenario() -> None:
        ended = asyncio.Event()
        received = []

        async def handler(conn: Connection) -> None:
            received.extend([message async for message in conn])
            assert await conn.receive() == Hangup()
            assert conn.end_reason == "peer hung up"
            ended.set()

        async with AudioSocketServer(handler, port=0) as server:
            client = await AudioSocketClient.connect("127.0.0.1", server.port)
            await client.send_dtmf("#")
            await client.hangup()
            await ended.wait()
            assert received == [Dtmf("#"), Hangup()]

    run(scenario)


def test_non_uuid_first_message_closes_at_once_without_calling_the_handler(caplog):
    caplog.set_level(logging.INFO, logger=LOGGER)
    calls = []

    async def handler(conn: Connection) -> None:
        calls.append(conn)

    async def scenario() -> None:
        async with AudioSocketServer(handler, port=0, first_message_timeout=5) as server:
            reader, writer = await raw_connect(server.port)
            writer.write(encode_audio(FRAME))
            assert await read_to_eof(reader, timeout=1) == b""
            writer.close()

    run(scenario)
    assert calls == []
    assert "Audio before a UUID" in caplog.text


def test_a_flood_of_bad_connections_is_one_log_line_per_source_and_reason_with_a_count(caplog, monkeypatch):
    """A scanner or fuzzer opening hundreds of connections writes one line each 10 s per kind of
    refusal, not one per connection; the next line after the quiet spell says how many it skipped."""
    import concierge.audiosocket.server as server_module

    caplog.set_level(logging.INFO, logger=LOGGER)
    refused: list[str] = []

    async def scenario() -> None:
        async with AudioSocketServer(echo, port=0, first_message_timeout=5, on_refused=refused.append) as server:
            for _ in range(200):
                reader, writer = await raw_connect(server.port)
                writer.write(encode_audio(FRAME))  # audio before a UUID
                assert await read_to_eof(reader, timeout=2) == b""
                writer.close()
            monkeypatch.setattr(server_module, "REFUSAL_LOG_SECONDS", 0.0)  # the quiet spell is over
            reader, writer = await raw_connect(server.port)
            writer.write(b"\x42\x00\x00")  # another kind: an unknown message kind
            await read_to_eof(reader, timeout=2)
            writer.close()
            reader, writer = await raw_connect(server.port)
            writer.write(encode_audio(FRAME))
            await read_to_eof(reader, timeout=2)
            writer.close()

    run(scenario, timeout=60)
    lines = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(refused) == 202, "every refusal is still counted (metrics)"
    assert len(lines) == 3, lines
    assert "Audio before a UUID" in lines[0] and "more like it" not in lines[0]
    assert "protocol error" in lines[1]
    assert "Audio before a UUID" in lines[2] and "; 199 more like it refused in the last" in lines[2], lines[2]


def test_silence_before_the_uuid_closes_after_the_first_message_timeout():
    async def scenario() -> None:
        async with AudioSocketServer(echo, port=0, first_message_timeout=0.2) as server:
            reader, writer = await raw_connect(server.port)
            started = time.monotonic()
            assert await read_to_eof(reader) == b""
            assert 0.15 < time.monotonic() - started < 1.5
            writer.close()

    run(scenario)


def test_garbage_on_one_connection_closes_only_that_one(caplog):
    caplog.set_level(logging.INFO, logger=LOGGER)

    async def scenario() -> None:
        async with AudioSocketServer(echo, port=0) as server:
            good = await AudioSocketClient.connect("127.0.0.1", server.port)
            await good.send_audio(FRAME)
            assert await good.receive() == Audio(FRAME)

            reader, writer = await raw_connect(server.port)
            writer.write(encode_uuid(uuid.uuid4()) + b"\x42garbage")
            assert await read_to_eof(reader) == b""
            writer.close()

            await good.send_audio(FRAME)
            assert await good.receive() == Audio(FRAME)
            await good.close()

    run(scenario)
    warnings = [record for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "unknown frame kind 0x42" in warnings[0].getMessage()


def test_huge_length_closes_the_connection_without_waiting_for_the_payload():
    async def scenario() -> None:
        async with AudioSocketServer(echo, port=0) as server:
            good = await AudioSocketClient.connect("127.0.0.1", server.port)
            reader, writer = await raw_connect(server.port)
            writer.write(encode_uuid(uuid.uuid4()) + b"\x10\xff\xfe")
            assert await read_to_eof(reader) == b""
            writer.close()
            await good.send_audio(FRAME)
            assert await good.receive() == Audio(FRAME)
            await good.close()

    run(scenario)


def test_truncated_frame_then_eof_ends_the_call_with_a_protocol_error():
    async def scenario() -> None:
        done: asyncio.Future = asyncio.get_running_loop().create_future()

        async def handler(conn: Connection) -> None:
            messages = [message async for message in conn]
            done.set_result((messages, conn.error))

        async with AudioSocketServer(handler, port=0) as server:
            reader, writer = await raw_connect(server.port)
            writer.write(encode_uuid(uuid.uuid4()) + encode_dtmf("1") + encode_audio(FRAME)[:100])
            await writer.drain()
            writer.close()
            messages, error = await done
            assert messages == [Dtmf("1"), Hangup()]
            assert "middle of a frame" in str(error)

    run(scenario)


def test_odd_length_audio_from_the_caller_closes_the_connection():
    async def scenario() -> None:
        handler, seen = recording_handler()
        async with AudioSocketServer(handler, port=0) as server:
            reader, writer = await raw_connect(server.port)
            writer.write(encode_uuid(uuid.uuid4()) + b"\x10\x00\x03abc")
            assert await read_to_eof(reader) == b""
            assert (await seen.get())[1] == Hangup()
            writer.close()

    run(scenario)


def test_handler_cannot_send_empty_or_odd_length_audio():
    async def scenario() -> None:
        refused = []

        async def handler(conn: Connection) -> None:
            for bad in (b"", b"\x00\x00\x00"):
                try:
                    await conn.send_audio(bad)
                except ValueError:
                    refused.append(bad)
            await conn.send_audio(FRAME)
            await conn.hangup()

        async with AudioSocketServer(handler, port=0) as server:
            reader, writer = await raw_connect(server.port)
            writer.write(encode_uuid(uuid.uuid4()))
            assert await read_to_eof(reader) == encode_audio(FRAME) + encode_hangup()
            assert refused == [b"", b"\x00\x00\x00"]
            writer.close()

    run(scenario)


def test_uuid_in_the_middle_of_a_call_is_a_protocol_error():
    async def scenario() -> None:
        handler, seen = recording_handler()
        async with AudioSocketServer(handler, port=0) as server:
            reader, writer = await raw_connect(server.port)
            writer.write(encode_uuid(uuid.uuid4()) + encode_uuid(uuid.uuid4()))
            assert await read_to_eof(reader) == b""
            assert (await seen.get())[1] == Hangup()
            writer.close()

    run(scenario)


def test_twenty_concurrent_calls_each_get_their_own_audio_back():
    async def call(port: int, index: int) -> None:
        pcm = struct.pack("<h", index) * 160
        async with await AudioSocketClient.connect("127.0.0.1", port) as client:
            for _ in range(5):
                await client.send_audio(pcm)
                assert await client.receive() == Audio(pcm)

    async def scenario() -> None:
        async with AudioSocketServer(echo, port=0) as server:
            await asyncio.gather(*(call(server.port, index) for index in range(20)))

    run(scenario)


def test_caller_vanishing_mid_send_does_not_crash_the_server(caplog):
    caplog.set_level(logging.INFO, logger=LOGGER)
    stopped: list[BaseException] = []

    async def flood(conn: Connection) -> None:
        try:
            while True:
                await conn.send_audio(FRAME)
        except ConnectionClosed as error:
            stopped.append(error)
            raise

    async def scenario() -> None:
        async with AudioSocketServer(flood, port=0) as server:
            reader, writer = await raw_connect(server.port)
            writer.write(encode_uuid(uuid.uuid4()))
            await reader.readexactly(3 * 323)
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
            while not stopped:
                await asyncio.sleep(0.01)

            async with await AudioSocketClient.connect("127.0.0.1", server.port) as client:
                assert isinstance(await client.receive(), Audio)

    run(scenario)
    assert "went away" in caplog.text
    assert "Traceback" not in caplog.text


def test_handler_exception_is_logged_and_the_server_keeps_serving(caplog):
    caplog.set_level(logging.INFO, logger=LOGGER)

    async def handler(conn: Connection) -> None:
        message = await conn.receive()
        if message == Dtmf("9"):
            raise RuntimeError("boom")
        await conn.send_audio(FRAME)

    async def scenario() -> None:
        async with AudioSocketServer(handler, port=0) as server:
            async with await AudioSocketClient.connect("127.0.0.1", server.port) as failing:
                await failing.send_dtmf("9")
                assert await failing.receive() == Hangup()
            async with await AudioSocketClient.connect("127.0.0.1", server.port) as client:
                await client.send_dtmf("1")
                assert await client.receive() == Audio(FRAME)

    run(scenario)
    errors = [record for record in caplog.records if record.levelno == logging.ERROR]
    assert len(errors) == 1
    assert errors[0].exc_info and "boom" in str(errors[0].exc_info[1])


def test_every_call_logs_one_line_when_it_starts_and_one_when_it_ends(caplog):
    caplog.set_level(logging.INFO, logger=LOGGER)
    call_id = uuid.uuid4()

    async def scenario() -> None:
        async with AudioSocketServer(echo, port=0) as server:
            client = await AudioSocketClient.connect("127.0.0.1", server.port, call_id)
            await client.close()
            while not any("ended" in record.getMessage() for record in caplog.records):
                await asyncio.sleep(0.01)

    run(scenario)
    lines = [line for line in caplog.messages if str(call_id) in line]
    assert len(lines) == 2
    assert "connected from 127.0.0.1:" in lines[0]
    assert "ended after" in lines[1] and "peer hung up" in lines[1]


def test_graceful_close_lets_a_running_call_finish():
    async def scenario() -> None:
        finished = asyncio.Event()

        async def handler(conn: Connection) -> None:
            await asyncio.sleep(0.2)
            await conn.send_audio(FRAME)
            finished.set()

        server = AudioSocketServer(handler, port=0)
        await server.start()
        client = await AudioSocketClient.connect("127.0.0.1", server.port)
        await asyncio.sleep(0.05)
        await server.close(grace_seconds=2)
        assert finished.is_set()
        assert await client.receive() == Audio(FRAME)
        assert await client.receive() == Hangup()
        with pytest.raises(OSError):
            await AudioSocketClient.connect("127.0.0.1", server.port)
        await client.close()

    run(scenario)


def test_close_cancels_calls_still_running_after_the_grace_period(caplog):
    caplog.set_level(logging.INFO, logger=LOGGER)

    async def scenario() -> None:
        cancelled = asyncio.Event()

        async def handler(conn: Connection) -> None:
            try:
                await asyncio.sleep(60)
            except asyncio.CancelledError:
                cancelled.set()
                raise

        server = AudioSocketServer(handler, port=0)
        await server.start()
        client = await AudioSocketClient.connect("127.0.0.1", server.port)
        await asyncio.sleep(0.05)
        started = time.monotonic()
        await server.close(grace_seconds=0.1)
        assert time.monotonic() - started < 1.5
        assert cancelled.is_set()
        assert await client.receive() == Hangup()
        await client.close()

    run(scenario)
    assert "cancelled at shutdown" in caplog.text


def test_serve_forever_closes_gracefully_when_cancelled():
    async def scenario() -> None:
        server = AudioSocketServer(echo, port=0)
        await server.start()
        serving = asyncio.create_task(server.serve_forever(grace_seconds=0.1))
        async with await AudioSocketClient.connect("127.0.0.1", server.port) as client:
            await client.send_audio(FRAME)
            assert await client.receive() == Audio(FRAME)
            serving.cancel()
            with pytest.raises(asyncio.CancelledError):
                await serving
            assert await client.receive() == Hangup()

    run(scenario)


def test_port_zero_binds_a_free_port_reported_by_the_server():
    async def scenario() -> None:
        async with AudioSocketServer(echo, port=0) as server:
            assert server.port > 0
            assert server.sockets[0].getsockname() == ("127.0.0.1", server.port)

    run(scenario)


async def until(condition: Callable[[], bool], timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


def test_on_idle_is_called_once_no_connection_has_been_open_for_idle_seconds():
    async def scenario() -> None:
        idle: list[float] = []
        server = AudioSocketServer(echo, port=0, on_idle=lambda: idle.append(time.monotonic()), idle_seconds=0.2)
        started = time.monotonic()
        async with server:
            await until(lambda: len(idle) == 1)  # once after it starts
            assert idle[0] - started >= 0.2
            client = await AudioSocketClient.connect("127.0.0.1", server.port)
            silent = await raw_connect(server.port)  # open, never a UUID: the server is not idle either
            await asyncio.sleep(0.6)
            assert len(idle) == 1
            await client.close()
            await asyncio.sleep(0.6)
            assert len(idle) == 1
            silent[1].close()
            closed = time.monotonic()
            await until(lambda: len(idle) == 2)
            assert idle[1] - closed >= 0.15
            await asyncio.sleep(0.6)
            assert len(idle) == 2  # once per quiet spell, not every idle_seconds

    run(scenario)


def test_a_connection_during_the_wait_restarts_it():
    async def scenario() -> None:
        idle: list[float] = []
        async with AudioSocketServer(echo, port=0, on_idle=lambda: idle.append(time.monotonic()), idle_seconds=1.0) as server:
            client = await AudioSocketClient.connect("127.0.0.1", server.port)  # while the first wait runs
            await asyncio.sleep(1.3)  # past that wait's end: not idle, a call is on
            assert idle == []
            await client.close()
            closed = time.monotonic()
            await until(lambda: len(idle) == 1)
            assert idle[0] - closed >= 0.9

    run(scenario)


def test_a_failing_on_idle_is_logged_and_the_server_goes_on(caplog):
    caplog.set_level(logging.INFO, logger=LOGGER)
    failures = []

    def on_idle() -> None:
        failures.append(1)
        raise RuntimeError("boom")

    async def scenario() -> None:
        async with AudioSocketServer(echo, port=0, on_idle=on_idle, idle_seconds=0.05) as server:
            await until(lambda: failures == [1])
            async with await AudioSocketClient.connect("127.0.0.1", server.port) as client:
                await client.send_audio(FRAME)
                assert await client.receive() == Audio(FRAME)
            await until(lambda: failures == [1, 1])

    run(scenario)
    assert "on_idle failed" in caplog.text


def test_no_on_idle_after_close():
    async def scenario() -> None:
        idle: list[float] = []
        server = AudioSocketServer(echo, port=0, on_idle=lambda: idle.append(time.monotonic()), idle_seconds=0.2)
        await server.start()
        await server.close()
        await asyncio.sleep(0.4)
        assert idle == []

    run(scenario)
