"""A call's limits over real sockets, with real call sessions, real records and a real Redis:
`system.max_transaction_time_seconds` bounds the audio a caller sends, not only the wall clock;
and `apoena serve` (the coroutine the command runs) applies `server.max_connections_per_source`
and reads audio no faster than real time.

Timing: the only wall-clock assertion is a lower bound (the server held a fast sender back),
which a slow, loaded machine cannot break."""

from __future__ import annotations

import asyncio
import json
import signal
import time
import urllib.request
import uuid

import pytest

from concierge.apps.serve import serve
from concierge.audiosocket.client import AudioSocketClient
from concierge.audiosocket.protocol import encode_uuid
from concierge.call.events import CallEnded, Outcome
from concierge.call.records import CallRecords
from concierge.call.services import TIMEOUT_MESSAGE, sentences
from concierge.config import WebConfig, load_config
from concierge.errors import ConfigError

from ..servers import free_port
from .helpers import ScriptedTranscriber, collect, make_services, running_server

AUDIO_TIME_UP = "s of the caller's audio received"


async def blast_and_listen(port: int, seconds: float) -> tuple[str, list[tuple[float, bytes]], bool]:
    """A caller that sends `seconds` of silence as fast as the server takes it, and listens until
    hung up: (call id, the audio frames heard with their arrival times since connecting, hung up?)."""
    call_id = uuid.uuid4()
    client = await AudioSocketClient.connect("127.0.0.1", port, call_id)
    connected = time.monotonic()
    sending = asyncio.create_task(client.send_audio(bytes(int(seconds * 16000)), frame_bytes=320))
    frames, hung_up = await collect(client, 60)
    sending.cancel()
    await asyncio.gather(sending, return_exceptions=True)
    await client.close()
    return str(call_id), [(at - connected, pcm) for at, pcm in frames], hung_up


def heard_at(frames: list[tuple[float, bytes]], pcm: bytes) -> float | None:
    """When the frame holding the start of `pcm` arrived, if `pcm` was heard at all."""
    offset = b"".join(frame for _, frame in frames).find(pcm)
    if offset < 0:
        return None
    for at, frame in frames:
        if offset < len(frame):
            return at
        offset -= len(frame)
    return None


def goodbye_openings(services) -> list[bytes]:
    """The first 0.3 s of each sentence of the time-out goodbye, as the call synthesizes them (one by one)."""
    return [services.synthesizer.synthesize(sentence)[:4800] for sentence in sentences(TIMEOUT_MESSAGE)]


async def until(condition, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        await asyncio.sleep(0.05)


def test_a_caller_sending_more_audio_than_a_call_may_last_hears_goodbye_and_the_record_says_why(directory, redis_server, tmp_path):
    """60 s of audio sent at once to a server that reads as fast as it comes (as `apoena simulate
    --speed` does): the call ends when 8 s of audio are in, with the polite time-out line, a
    hangup frame and the reason in its record. Before, the audio went uncounted and the call ran
    until 8 s of wall clock, recorded as 'max_transaction_time_seconds reached' with no word of audio."""
    services = make_services(
        directory, redis_server.url, ScriptedTranscriber([]), tmp_path, max_transaction_time_seconds=8, no_input_prompt_seconds=60
    )
    goodbye = goodbye_openings(services)
    events: list = []

    async def scenario() -> None:
        with CallRecords(tmp_path / "calls.db", "rules") as records:
            async with running_server(services, events, observer=records.observer) as server:
                call_id, frames, hung_up = await blast_and_listen(server.port, 60.0)
                await until(lambda: any(isinstance(e, CallEnded) for e in events))
            records.flush()
            record = records.get(call_id)
        assert hung_up  # a hangup frame: the dialplan goes on
        assert all(heard_at(frames, opening) is not None for opening in goodbye)  # "Não consegui concluir…", every sentence
        ended = [e for e in events if isinstance(e, CallEnded)]
        assert [(e.outcome, e.reason) for e in ended] == [
            (Outcome.TIMED_OUT, f"max_transaction_time_seconds reached: more than 8 {AUDIO_TIME_UP}")
        ]
        assert record is not None and record.outcome == "timed_out" and AUDIO_TIME_UP in (record.reason or "")

    asyncio.run(asyncio.wait_for(scenario(), 90))


def test_serve_refuses_a_source_past_its_limit_counts_it_and_reads_audio_at_real_time(directory, redis_server, tmp_path):
    """`serve()` as `apoena serve` runs it, with server.max_connections_per_source = 2: two calls
    are taken, a third connection from the same address gets a hangup frame and EOF at once, is
    counted on /metrics and leaves no record. The second call sends 30 s of audio at once: read at
    real time after the 2 s burst, its 5 s of audio (max_transaction_time_seconds) are in no sooner
    than 3 s after it connected — it is then ended for its audio, with the goodbye."""
    services = make_services(
        directory, redis_server.url, ScriptedTranscriber([]), tmp_path,
        {"server": {"max_connections_per_source": 2, "audio_burst_seconds": 2.0}},
        max_transaction_time_seconds=5, no_input_prompt_seconds=60,
    )  # fmt: skip
    goodbye = goodbye_openings(services)
    web = WebConfig(port=free_port())
    port = free_port()

    async def scenario() -> None:
        with CallRecords(tmp_path / "calls.db", "rules") as records:
            ready = asyncio.Event()
            serving = asyncio.create_task(serve(services, "127.0.0.1", port, ready=ready, records=records, web=web))
            await asyncio.wait_for(ready.wait(), 30)
            try:
                holder_id = uuid.uuid4()
                holder = await AudioSocketClient.connect("127.0.0.1", port, holder_id)  # a call that just listens
                blasting = asyncio.create_task(blast_and_listen(port, 30.0))
                await until(lambda: len(records.recent(since=0)) == 2)  # both calls are in
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(encode_uuid(uuid.uuid4()))
                refused = await asyncio.wait_for(reader.read(), 10)
                writer.close()
                call_id, frames, hung_up = await blasting
                metrics = await asyncio.to_thread(_get, f"http://127.0.0.1:{web.port}/metrics")
                await holder.close()
            finally:
                if not serving.done():
                    signal.raise_signal(signal.SIGINT)  # serve() stops on SIGINT/SIGTERM
                await asyncio.wait_for(serving, 30)
            records.flush()
            recorded = {call.call_id for call in records.recent(since=0)}
            record = records.get(call_id)
        assert refused == b"\x00\x00\x00"
        assert 'apoena_refused_connections_total{reason="source_limit"} 1.0' in metrics
        assert recorded == {str(holder_id), call_id}  # the refused connection left no record
        said = [heard_at(frames, opening) for opening in goodbye]
        assert hung_up and None not in said
        assert record is not None and record.outcome == "timed_out" and AUDIO_TIME_UP in (record.reason or "")
        # 5 s of audio with 2 s of burst were in no sooner than 3 s after connecting (unpaced: ~0.1 s),
        # so the goodbye, said at once then, started no sooner either.
        assert said[0] >= 5.0 - 2.0 - 0.1

    asyncio.run(asyncio.wait_for(scenario(), 120))


def test_a_node_at_max_calls_resets_a_new_call_so_the_dialplan_tries_the_next_node(directory, redis_server, tmp_path):
    """`serve()` with server.max_calls = 1: a second visitor's call gets a TCP reset as soon as its
    UUID is read (Asterisk's AudioSocket() then fails, TRYSTATUS=FAILED, and docs/asterisk.md §7
    tries the next node), is counted as "busy" and leaves no record; once the first call ends, the
    node takes calls again."""
    services = make_services(
        directory, redis_server.url, ScriptedTranscriber([]), tmp_path, {"server": {"max_calls": 1}}, no_input_prompt_seconds=60
    )  # fmt: skip
    web = WebConfig(port=free_port())
    port = free_port()

    async def refused_at_once() -> tuple[str, float]:
        started = time.monotonic()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(encode_uuid(uuid.uuid4()))
        try:
            got = await asyncio.wait_for(reader.read(), 10)
            how = f"read {got[:3]!r}"
        except ConnectionResetError:
            how = "reset"
        writer.close()
        return how, time.monotonic() - started

    async def scenario():
        with CallRecords(tmp_path / "calls.db", "rules") as records:
            ready = asyncio.Event()
            serving = asyncio.create_task(serve(services, "127.0.0.1", port, ready=ready, records=records, web=web))
            await asyncio.wait_for(ready.wait(), 30)
            try:
                holder_id = uuid.uuid4()
                holder = await AudioSocketClient.connect("127.0.0.1", port, holder_id)
                first, _ = await collect(holder, 0.5)
                refused = await refused_at_once()
                metrics = await asyncio.to_thread(_get, f"http://127.0.0.1:{web.port}/metrics")
                await holder.close()
                await until(lambda: (call := records.get(str(holder_id))) is not None and call.ended_at is not None)
                after_id = uuid.uuid4()
                after = await AudioSocketClient.connect("127.0.0.1", port, after_id)
                greeted, _ = await collect(after, 0.5)
                await after.close()
            finally:
                if not serving.done():
                    signal.raise_signal(signal.SIGINT)
                await asyncio.wait_for(serving, 30)
            records.flush()
            recorded = {call.call_id for call in records.recent(since=0)}
        return first, refused, metrics, greeted, recorded, {str(holder_id), str(after_id)}

    first, (how, seconds), metrics, greeted, recorded, calls = asyncio.run(asyncio.wait_for(scenario(), 120))
    assert first, "the first call is greeted"
    assert how == "reset" and seconds < 2, "a reset at once, not a hangup frame (which Asterisk reads as a finished call)"
    assert 'apoena_refused_connections_total{reason="busy"} 1.0' in metrics
    assert greeted, "a call after the first ended is taken"
    assert recorded == calls, "the refused call left no record"


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read().decode()


def test_the_limits_are_config_keys_with_environment_names(tmp_path, monkeypatch):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"server": {"max_connections_per_source": 40}}))
    loaded = load_config(config)
    assert (loaded.server.max_connections_per_source, loaded.server.audio_burst_seconds) == (40, 2.0)
    assert loaded.system.max_transaction_time_seconds == 180
    monkeypatch.setenv("APOENA_SERVER__MAX_CONNECTIONS_PER_SOURCE", "8")
    monkeypatch.setenv("APOENA_SERVER__AUDIO_BURST_SECONDS", "1.5")
    assert (load_config(config).server.max_connections_per_source, load_config(config).server.audio_burst_seconds) == (8, 1.5)
    monkeypatch.setenv("APOENA_SERVER__MAX_CALLS", "6")
    monkeypatch.setenv("APOENA_SPEECH__TIMEOUT_SECONDS", "5")
    assert (load_config(config).server.max_calls, load_config(config).speech.timeout_seconds) == (6, 5.0)
    monkeypatch.setenv("APOENA_SERVER__MAX_CALLS", "-1")
    with pytest.raises(ConfigError, match="APOENA_SERVER__MAX_CALLS: 'server.max_calls' input should be greater than or equal to 0"):
        load_config(config)
    monkeypatch.delenv("APOENA_SERVER__MAX_CALLS")
    monkeypatch.setenv("APOENA_SERVER__AUDIO_BURST_SECONDS", "0")
    with pytest.raises(ConfigError, match="APOENA_SERVER__AUDIO_BURST_SECONDS: 'server.audio_burst_seconds' input should be greater"):
        load_config(config)
