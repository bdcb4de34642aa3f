"""The records' disk filling up mid-call, for real: the SQLite file lives on a small tmpfs that a
filler file fills to the last byte ("database or disk is full"). The caller hears nothing of it,
the records are held in memory, and they are stored, whole and in order, once the disk has room.
Mounting needs root (the CI machine runs the suite as root); elsewhere the test says so and skips."""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from concierge.audiosocket.client import AudioSocketClient
from concierge.call.events import CallEnded, Outcome, Turn
from concierge.call.records import CallRecords

from .helpers import ScriptedTranscriber, collect, fixture_turns, make_services, pace, running_server

TEXTS = ["Boa tarde, tenho uma entrega dos Correios para a Joana Prado.", "Meu nome é Carlos Pereira."]


@pytest.fixture
def small_disk(tmp_path):
    """A 4 MiB tmpfs, unmounted afterwards."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs (a real disk that fills up) needs root")
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", str(mount)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(path: Path) -> int:
    """Write `path` until the disk refuses a single byte more; return its size."""
    with open(path, "wb", buffering=0) as filler:
        for size in (65536, 4096, 1):
            while True:
                try:
                    filler.write(b"\0" * size)
                except OSError as error:
                    assert error.errno == errno.ENOSPC
                    break
    return path.stat().st_size


def test_a_full_disk_holds_the_records_in_memory_and_stores_them_once_it_has_room(directory, redis_server, small_disk, tmp_path, caplog):
    pcm, turns = fixture_turns("entrega")
    services = make_services(directory, redis_server.url, ScriptedTranscriber(TEXTS), tmp_path)
    events: list = []
    call_id = uuid.uuid4()
    speech = [pcm[int((t["start_seconds"] - 0.2) * 16000) : int((t["end_seconds"] + 0.2) * 16000)] for t in turns[:2]]

    async def call(records: CallRecords) -> bool:
        async with running_server(services, events, observer=records.observer) as server:
            client = await AudioSocketClient.connect("127.0.0.1", server.port, call_id)
            listener = asyncio.create_task(collect(client, 40))
            for index, turn in enumerate(speech, 1):
                await pace(client, turn, speed=2.0)
                for _ in range(400):  # the line stays alive, like a phone, until the answer
                    if sum(isinstance(e, Turn) for e in events) >= index or listener.done():
                        break
                    await client.send_audio(bytes(320))
                    await asyncio.sleep(0.02)
                await pace(client, bytes(320 * 100), speed=2.0)
            for _ in range(500):
                if listener.done():
                    break
                await client.send_audio(bytes(320))
                await asyncio.sleep(0.02)
            _, hung_up = await listener
            await client.close()
            return hung_up

    caplog.set_level(logging.WARNING, "apoena.records")
    with CallRecords(small_disk / "calls.db", brain="rules") as records:
        records.purge(365_000)  # nothing to purge; the WAL is truncated, so the next write needs new room
        filler = small_disk / "filler"
        assert fill(filler) > 0
        hung_up = asyncio.run(call(records))
        records.flush()
        assert hung_up and [e.outcome for e in events if isinstance(e, CallEnded)] == [Outcome.COMPLETED], (
            "the caller heard nothing of the full disk: the visit completed"
        )
        assert records.get(str(call_id)) is None, "nothing could be written yet"
        filler.unlink()  # an operator frees some space
        deadline = time.monotonic() + 10
        while (stored := records.get(str(call_id))) is None or stored.outcome == "live":
            assert time.monotonic() < deadline, "the held records were stored once the disk had room"
            time.sleep(0.1)
    assert stored.outcome == Outcome.COMPLETED.value and stored.ended_at is not None
    assert [t.transcript for t in stored.turns] == TEXTS
    assert stored.name_audio is not None, "the visitor's voice saying their name was kept too"
    said = " ".join(record.getMessage() for record in caplog.records)
    assert "database or disk is full" in said and "kept in memory" in said and "has room again" in said
