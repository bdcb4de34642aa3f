"""Play a recorded call into a running `apoena serve` the way Asterisk does, and report it as one JSON line.

    python -m tests.deploy.call HOST PORT RECORDING.slin [--until-greeting] [--timeout 90]

The caller sends its UUID, then the recording in 20 ms frames at the pace of a phone line, then
silence, while it reads what the server says. It stops when the server hangs up (or closes the
socket), after --timeout seconds, or, with --until-greeting, as soon as the greeting has been
heard: it prints the report then, and goes on (sending silence) until the server goes away or
--timeout, so a test can kill the server in the middle of a call.

The JSON line: call_id, greeting_seconds (from connecting to the first non-silent audio back),
audio_seconds_received, hung_up (whether the server hung up or went away) and seconds (how long the
call had lasted). With --until-greeting it is
printed (and flushed) when the greeting arrives, and a second line follows at the end.

tests/deploy/test_systemd.py runs it inside the systemd container's network namespace (nsenter
--net), since the container has a private network.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from pathlib import Path

from concierge.audiosocket.client import AudioSocketClient
from concierge.audiosocket.protocol import Audio, Hangup
from concierge.audiosocket.stream import ConnectionClosed

FRAME_BYTES = 320  # 20 ms of 8 kHz s16le
FRAME_SECONDS = 0.02


async def call(host: str, port: int, recording: Path, until_greeting: bool, timeout: float) -> None:
    audio = recording.read_bytes()
    call_id = uuid.uuid4()
    start = time.monotonic()
    client = await AudioSocketClient.connect(host, port, call_id)
    report: dict[str, object] = {"call_id": str(call_id), "greeting_seconds": None, "audio_seconds_received": 0.0, "hung_up": False}
    received = 0
    greeted = asyncio.Event()

    async def listen() -> None:
        nonlocal received
        while True:
            try:
                message = await client.receive()
            except (ConnectionError, ConnectionClosed):
                report["hung_up"] = True
                return
            if isinstance(message, Hangup):  # a hangup frame, or the socket closed
                report["hung_up"] = True
                return
            if isinstance(message, Audio):
                received += len(message.pcm)
                if report["greeting_seconds"] is None and any(message.pcm):
                    report["greeting_seconds"] = round(time.monotonic() - start, 3)
                    greeted.set()

    async def speak() -> None:
        index = 0
        while True:
            chunk = audio[index : index + FRAME_BYTES] if index < len(audio) else b""
            try:
                await client.send_audio(chunk.ljust(FRAME_BYTES, b"\x00"))
            except (ConnectionError, ConnectionClosed):
                return
            index += FRAME_BYTES
            await asyncio.sleep(max(0.0, start + (index / FRAME_BYTES) * FRAME_SECONDS - time.monotonic()))

    def finish() -> None:
        report["audio_seconds_received"] = round(received / 16000, 2)
        report["seconds"] = round(time.monotonic() - start, 2)
        print(json.dumps(report), flush=True)

    listener = asyncio.create_task(listen())
    speaker = asyncio.create_task(speak())
    try:
        if until_greeting:
            greeting = asyncio.create_task(greeted.wait())
            await asyncio.wait({greeting, listener}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            greeting.cancel()
            finish()  # the first line: greeted (or not), the call still open
        await asyncio.wait({listener}, timeout=timeout)
    finally:
        speaker.cancel()
        listener.cancel()
        await asyncio.gather(speaker, listener, return_exceptions=True)
        await client.close()
        finish()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("recording", type=Path)
    parser.add_argument("--until-greeting", action="store_true")
    parser.add_argument("--timeout", type=float, default=90.0)
    arguments = parser.parse_args()
    asyncio.run(call(arguments.host, arguments.port, arguments.recording, arguments.until_greeting, arguments.timeout))


if __name__ == "__main__":
    main()
