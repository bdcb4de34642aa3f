"""`apoena mic`: talk to a running `apoena serve` from the microphone, as a phone through Asterisk would.

The call uses the same AudioSocket client as `apoena simulate`: the call's UUID first, then
the microphone's 20 ms frames as they are captured (the sound card is the clock), while what
the concierge says goes to the speaker. Ctrl-C sends a hangup and closes; the concierge
hanging up ends the program. The sound card sits behind `AudioSource` / `AudioSink`, so
`talk()` runs the same with recordings in the tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import uuid
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from concierge.audio.device import AudioSink, AudioSource, PyAudioDevices, list_devices
from concierge.audio.pcm import SAMPLE_RATE, resample
from concierge.audiosocket.client import AudioSocketClient
from concierge.audiosocket.protocol import Audio, ProtocolError
from concierge.audiosocket.stream import ConnectionClosed
from concierge.errors import UserError

CONNECT_TIMEOUT_SECONDS = 5.0
HANGUP_TIMEOUT_SECONDS = 1.0
LOCAL_HOST = "127.0.0.1"


class Ending(StrEnum):
    """Who ended the call."""

    SERVER_HUNG_UP = "the concierge hung up"
    CALLER_HUNG_UP = "you hung up"


async def dial(host: str, port: int, call_id: uuid.UUID | None = None) -> AudioSocketClient:
    """Connect to `apoena serve` and send a new call's UUID (`call_id`, else a random one);
    UserError if nobody answers there."""
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT_SECONDS):
            return await AudioSocketClient.connect(host, port, call_id)
    except ConnectionRefusedError:
        raise UserError(f"no apoena serve at {host}:{port} — start it with `apoena serve`") from None
    except TimeoutError:
        raise UserError(
            f"no answer from {host}:{port} within {CONNECT_TIMEOUT_SECONDS:g} s — is `apoena serve` running there?"
        ) from None
    except socket.gaierror:
        raise UserError(f"unknown host {host!r} — check --host") from None
    except OSError as error:
        raise UserError(f"cannot reach {host}:{port}: {error.strerror or error}") from None


async def talk(
    client: AudioSocketClient, source: AudioSource, sink: AudioSink, stop: asyncio.Event | None = None
) -> Ending:
    """Stream `source` to the call and play the call into `sink` until someone hangs up.

    Setting `stop` (or cancelling) is the caller hanging up: a hangup frame goes out and the
    connection closes. The source running out means the same. The server hanging up or going
    away returns SERVER_HUNG_UP. UserError if the server is not speaking AudioSocket.
    """
    hearing = asyncio.create_task(_play_call(client, sink), name="mic-hear")
    speaking = asyncio.create_task(_send_source(client, source), name="mic-speak")
    stopping = asyncio.create_task((stop or asyncio.Event()).wait(), name="mic-stop")
    tasks = (hearing, speaking, stopping)
    ending = Ending.CALLER_HUNG_UP
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        if hearing in done:
            ending = Ending.SERVER_HUNG_UP
            hearing.result()
        elif speaking in done:
            if isinstance(speaking.exception(), ConnectionClosed):
                ending = Ending.SERVER_HUNG_UP
            else:
                speaking.result()
        return ending
    except ProtocolError as error:
        raise UserError(f"the server broke the AudioSocket protocol ({error}) — is that `apoena serve`?") from None
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if ending is Ending.SERVER_HUNG_UP:
            await client.close()
        else:
            await _hang_up(client)


async def _hang_up(client: AudioSocketClient) -> None:
    """Send the hangup frame and close; a server that stopped reading cannot hold us up."""
    try:
        async with asyncio.timeout(HANGUP_TIMEOUT_SECONDS):
            await client.hangup()
    except TimeoutError:
        await client.close()


async def _play_call(client: AudioSocketClient, sink: AudioSink) -> None:
    """Play the concierge's audio until the server hangs up (or closes the connection)."""
    async for message in client:
        if isinstance(message, Audio):
            rate = message.sample_rate
            sink.play(message.pcm if rate == SAMPLE_RATE else resample(message.pcm, rate, SAMPLE_RATE))


async def _send_source(client: AudioSocketClient, source: AudioSource) -> None:
    """Send each captured frame the moment it arrives: the source keeps real time."""
    async for frame in source:
        await client.send_audio(frame)


def server_address(config_path: Path | None, host: str | None, port: int | None) -> tuple[str, int]:
    """Where to call: the options, else the config's `server` section (an all-interfaces
    bind address means this machine)."""
    if host is None or port is None:
        from concierge.config import load_config

        server = load_config(config_path).server
        host = host or (LOCAL_HOST if server.host in ("0.0.0.0", "::", "") else server.host)
        port = server.port if port is None else port
    return host, port


def call_id_for(config_path: Path | None, condominium: str | None) -> uuid.UUID | None:
    """The UUID a call to `condominium` gets, as the documented dialplan folds its code in; None
    (a random UUID: the default condominium) without one."""
    if condominium is None:
        return None
    from concierge.call.condominiums import call_uuid, code_for
    from concierge.config import load_config

    code = code_for(load_config(config_path), condominium)
    return None if code is None else call_uuid(code)


def run_mic(
    config_path: Path | None,
    host: str | None,
    port: int | None,
    input_device: int | None,
    output_device: int | None,
    condominium: str | None = None,
) -> int:
    host, port = server_address(config_path, host, port)
    call_id = call_id_for(config_path, condominium)
    console = Console(highlight=False)
    ending = asyncio.run(_call(host, port, input_device, output_device, console, call_id))
    console.print(f"[bold]{ending.value}[/] — call over", soft_wrap=True)
    return 0


async def _call(
    host: str, port: int, input_device: int | None, output_device: int | None, console: Console, call_id: uuid.UUID | None = None
) -> Ending:
    with PyAudioDevices(input_device, output_device) as devices:
        assert devices.source is not None and devices.sink is not None
        client = await dial(host, port, call_id)
        console.print(
            f"calling apoena at {host}:{port} · microphone: {escape(devices.source.device['name'])} · "
            f"speaker: {escape(devices.sink.device['name'])}\n[dim]call {client.call_id} — speak after the greeting "
            "(headphones keep the concierge from hearing itself); Ctrl-C hangs up[/]",
            soft_wrap=True,
        )
        stop = asyncio.Event()
        with _ctrl_c_sets(stop):
            ending = await talk(client, devices.source, devices.sink, stop)
        if ending is Ending.SERVER_HUNG_UP:
            await devices.sink.finish()
        return ending


@contextlib.contextmanager
def _ctrl_c_sets(stop: asyncio.Event) -> Iterator[None]:
    """Ctrl-C sets `stop` instead of raising KeyboardInterrupt (where the loop supports signal
    handlers; elsewhere asyncio cancels the call, and `talk` hangs up all the same)."""
    loop = asyncio.get_running_loop()
    try:
        loop.add_signal_handler(signal.SIGINT, stop.set)
        installed = True
    except (NotImplementedError, RuntimeError):
        installed = False
    try:
        yield
    finally:
        if installed:
            loop.remove_signal_handler(signal.SIGINT)


def run_list_devices() -> int:
    devices = list_devices()
    console = Console(highlight=False)
    if not devices:
        console.print("PortAudio sees no audio devices — connect a microphone and a speaker", soft_wrap=True)
        return 0
    table = Table(title="audio devices (pass an index to --input-device / --output-device)")
    for column in ("index", "name", "host API", "inputs", "outputs", "rate", "default"):
        table.add_column(column, justify="right" if column in ("index", "inputs", "outputs") else "left")
    for device in devices:
        defaults = [word for word, flag in (("in", device.is_default_input), ("out", device.is_default_output)) if flag]
        table.add_row(
            str(device.index),
            escape(device.name),
            device.host_api,
            str(device.input_channels),
            str(device.output_channels),
            f"{device.default_rate:g} Hz",
            ", ".join(defaults),
        )
    console.print(table)
    return 0
