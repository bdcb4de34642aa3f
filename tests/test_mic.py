"""`apoena mic`: the microphone client against a real server, its sound-card plumbing, its errors.

The client logic runs with a recording as the microphone and a byte buffer as the speaker;
the PortAudio parts run against real devices only where some exist (none on a bare server).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator
from types import SimpleNamespace

import pytest

from concierge.apps.mic import Ending, dial, talk
from concierge.audio.device import (
    PYAUDIO_MISSING,
    AudioDeviceError,
    CaptureQueue,
    PlaybackBuffer,
    PyAudioDevices,
    list_devices,
)
from concierge.audiosocket.protocol import Audio, Hangup, Parser, Uuid
from concierge.call.events import CallEnded, CallStarted, Outcome, Turn
from concierge.call.services import sentences
from concierge.errors import UserError

from .call.helpers import ScriptedTranscriber, fixture_turns, make_services, running_server
from .conftest import free_port
from .test_cli import ROOT, run

FRAME = 320
SILENCE = bytes(FRAME)


class PacedMicrophone:
    """A microphone that says `pcm` at `speed` times real time, then keeps the line alive with
    silence in real time, as a phone does, until the call ends."""

    def __init__(self, pcm: bytes = b"", speed: float = 1.0) -> None:
        self.pcm = pcm + bytes(-len(pcm) % FRAME)
        self.speed = speed
        self.frames_sent = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        due = loop.time()
        while True:
            offset = self.frames_sent * FRAME
            speaking = offset < len(self.pcm)
            yield self.pcm[offset : offset + FRAME] if speaking else SILENCE
            self.frames_sent += 1
            due += 0.02 / self.speed if speaking else 0.02
            await asyncio.sleep(max(0.0, due - loop.time()))


class StalledMicrophone:
    """A microphone whose driver never delivers a frame."""

    async def __aiter__(self) -> AsyncIterator[bytes]:
        await asyncio.Event().wait()
        yield SILENCE


class RecordingSpeaker:
    """A speaker that keeps everything it is given and says when it has heard some speech."""

    def __init__(self, speech_seconds: float = 0.5) -> None:
        self.played = bytearray()
        self.speech_bytes = 0
        self._enough = round(speech_seconds * 8000) * 2
        self.heard_speech = asyncio.Event()

    def play(self, pcm: bytes) -> None:
        self.played += pcm
        if any(pcm):
            self.speech_bytes += len(pcm)
            if self.speech_bytes >= self._enough:
                self.heard_speech.set()


def whole_frames(pcm: bytes) -> bytes:
    return pcm[: len(pcm) - len(pcm) % FRAME]


# -- a call against the real server --------------------------------------------------------------


def test_call_plays_greeting_and_replies_and_ends_when_the_concierge_hangs_up(directory, redis_server, tmp_path):
    pcm, _ = fixture_turns("entrega")
    texts = ["Boa tarde, tenho uma entrega dos Correios para a Joana Prado.", "Meu nome é Carlos Pereira."]
    services = make_services(directory, redis_server.url, ScriptedTranscriber(texts), tmp_path, barge_in=False)
    events: list = []
    speaker = RecordingSpeaker()

    async def scenario() -> tuple[Ending, uuid.UUID]:
        async with running_server(services, events) as server:
            client = await dial("127.0.0.1", server.port)
            ending = await asyncio.wait_for(talk(client, PacedMicrophone(pcm, speed=2.0), speaker), 60)
            return ending, client.call_id

    ending, call_id = asyncio.run(scenario())
    assert ending is Ending.SERVER_HUNG_UP
    assert [e.call_id for e in events if isinstance(e, CallStarted)] == [str(call_id)], "the UUID went first"
    played = bytes(speaker.played)
    assert whole_frames(services.greeting_pcm) in played, "the whole greeting reached the speaker"
    turns = [e for e in events if isinstance(e, Turn)]
    assert [t.transcript for t in turns] == texts
    assert turns[-1].reply.valid_for_action
    last_words = services.synthesizer.synthesize(sentences(turns[-1].reply.mensagem)[-1])
    assert whole_frames(last_words) in played, "the goodbye was played to the end before the hangup"
    assert [e.outcome for e in events if isinstance(e, CallEnded)] == [Outcome.COMPLETED]


def test_ctrl_c_sends_a_hangup_and_the_server_records_the_caller_hanging_up(directory, redis_server, tmp_path):
    services = make_services(directory, redis_server.url, ScriptedTranscriber([]), tmp_path)
    events: list = []
    speaker = RecordingSpeaker()

    async def scenario() -> Ending:
        async with running_server(services, events) as server:
            client = await dial("127.0.0.1", server.port)
            stop = asyncio.Event()
            call = asyncio.create_task(talk(client, PacedMicrophone(), speaker, stop))
            await asyncio.wait_for(speaker.heard_speech.wait(), 5)
            stop.set()
            return await asyncio.wait_for(call, 5)

    started = time.monotonic()
    assert asyncio.run(scenario()) is Ending.CALLER_HUNG_UP
    assert time.monotonic() - started < 5, "hanging up does not wait for the server's grace period"
    ended = [e for e in events if isinstance(e, CallEnded)]
    assert [(e.outcome, e.reason) for e in ended] == [(Outcome.CALLER_HUNG_UP, "peer hung up")]


def test_cancelling_the_call_hangs_up_too(directory, redis_server, tmp_path):
    services = make_services(directory, redis_server.url, ScriptedTranscriber([]), tmp_path)
    events: list = []
    speaker = RecordingSpeaker()

    async def scenario() -> None:
        async with running_server(services, events) as server:
            client = await dial("127.0.0.1", server.port)
            call = asyncio.create_task(talk(client, PacedMicrophone(), speaker))
            await asyncio.wait_for(speaker.heard_speech.wait(), 5)
            call.cancel()
            with pytest.raises(asyncio.CancelledError):
                await call

    asyncio.run(scenario())
    assert [e.outcome for e in events if isinstance(e, CallEnded)] == [Outcome.CALLER_HUNG_UP]


def test_the_speaker_keeps_playing_while_the_microphone_is_stalled(directory, redis_server, tmp_path):
    services = make_services(directory, redis_server.url, ScriptedTranscriber([]), tmp_path)
    speaker = RecordingSpeaker()

    async def scenario() -> float:
        async with running_server(services) as server:
            client = await dial("127.0.0.1", server.port)
            stop = asyncio.Event()
            call = asyncio.create_task(talk(client, StalledMicrophone(), speaker, stop))
            await asyncio.sleep(1.0)
            heard = len(speaker.played) / 16000
            stop.set()
            assert await call is Ending.CALLER_HUNG_UP
            return heard

    assert asyncio.run(scenario()) >= 0.5, "the call reached the speaker though the microphone gave nothing"


# -- the wire, seen from a bare socket -----------------------------------------------------------


class WireRecorder:
    """A bare TCP server that sends `reply` bytes, then records every message the client sends."""

    def __init__(self, reply: bytes = b"") -> None:
        self.reply = reply
        self.messages: list = []
        self.closed = asyncio.Event()
        self.server: asyncio.Server | None = None

    async def __aenter__(self) -> WireRecorder:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        parser = Parser()
        if self.reply:
            writer.write(self.reply)
        while data := await reader.read(4096):
            self.messages += parser.feed(data)
        self.closed.set()
        writer.close()


def test_on_the_wire_the_uuid_comes_first_then_audio_frames_and_a_hangup_before_closing():
    async def scenario() -> tuple[list, uuid.UUID]:
        async with WireRecorder() as wire:
            client = await dial("127.0.0.1", wire.port)
            stop = asyncio.Event()
            asyncio.get_running_loop().call_later(0.2, stop.set)
            assert await talk(client, PacedMicrophone(), RecordingSpeaker(), stop) is Ending.CALLER_HUNG_UP
            await asyncio.wait_for(wire.closed.wait(), 2)
            return wire.messages, client.call_id

    messages, call_id = asyncio.run(scenario())
    assert messages[0] == Uuid(call_id)
    audio = messages[1:-1]
    assert 3 <= len(audio) <= 20 and all(m == Audio(SILENCE) for m in audio), "20 ms frames for 0.2 s"
    assert messages[-1] == Hangup()


def test_a_server_that_does_not_speak_audiosocket_is_one_clear_error():
    async def scenario() -> None:
        async with WireRecorder(reply=b"HTTP/1.1 400 Bad Request\r\n\r\n") as wire:
            client = await dial("127.0.0.1", wire.port)
            await asyncio.wait_for(talk(client, PacedMicrophone(), RecordingSpeaker()), 5)

    with pytest.raises(UserError, match=r"broke the AudioSocket protocol .* is that `apoena serve`\?"):
        asyncio.run(scenario())


def test_no_server_listening_is_one_clear_error():
    port = free_port()
    with pytest.raises(UserError) as caught:
        asyncio.run(dial("127.0.0.1", port))
    assert str(caught.value) == f"no apoena serve at 127.0.0.1:{port} — start it with `apoena serve`"


# -- the sound-card plumbing, without a sound card -------------------------------------------------


def test_capture_queue_turns_driver_chunks_from_another_thread_into_320_byte_frames():
    async def scenario() -> list[bytes]:
        queue = CaptureQueue(asyncio.get_running_loop(), max_frames=100)
        pcm = bytes(range(256)) * 10  # 2560 bytes: 8 frames

        def driver() -> None:
            for start in range(0, len(pcm), 100):  # odd-sized chunks, as some drivers deliver
                queue.push(pcm[start : start + 100])
            queue.close()

        threading.Thread(target=driver).start()
        frames = [frame async for frame in queue]
        assert b"".join(frames) == pcm
        return frames

    assert [len(f) for f in asyncio.run(scenario())] == [320] * 8


def test_capture_queue_drops_the_oldest_frames_when_the_client_falls_behind():
    async def scenario() -> tuple[list[bytes], int]:
        queue = CaptureQueue(asyncio.get_running_loop(), max_frames=3)
        for n in range(5):
            queue.push(bytes([n]) * 320)
        queue.close()
        await asyncio.sleep(0)  # let the loop take the hand-overs
        return [frame async for frame in queue], queue.dropped_frames

    frames, dropped = asyncio.run(scenario())
    assert [f[0] for f in frames] == [3, 4] and dropped == 3, "the newest audio survives (the close took a slot)"


def test_capture_queue_tells_the_driver_once_the_event_loop_is_gone():
    loop = asyncio.new_event_loop()
    queue = CaptureQueue(loop)
    loop.close()
    assert queue.push(SILENCE) is False


def test_playback_buffer_gives_exactly_what_is_asked_and_silence_when_starved():
    buffer = PlaybackBuffer(max_bytes=3200, prime_bytes=640)
    assert buffer.read(320) == SILENCE
    buffer.write(b"\x01" * 320)
    assert buffer.read(320) == SILENCE, "one frame is not enough to start after running dry"
    buffer.write(b"\x02" * 320)
    assert buffer.read(320) == b"\x01" * 320
    assert buffer.read(480) == b"\x02" * 320 + bytes(160), "the end is padded with silence"
    buffer.write(b"\x03" * 320)
    assert buffer.read(320) == SILENCE, "after an underrun it waits for the prime again"


def test_playback_buffer_is_bounded_and_drops_the_oldest_audio():
    buffer = PlaybackBuffer(max_bytes=640, prime_bytes=320)
    for n in range(5):
        buffer.write(bytes([n]) * 320)
    assert buffer.buffered_bytes == 640 and buffer.dropped_bytes == 960
    assert buffer.read(640) == b"\x03" * 320 + b"\x04" * 320


# -- PortAudio, missing or faked -----------------------------------------------------------------


def test_missing_pyaudio_is_one_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyaudio", None)  # `import pyaudio` now fails
    with pytest.raises(AudioDeviceError, match=r"install the mic extra: \.venv/bin/pip install -e '\.\[mic\]'"):
        list_devices()

    async def open_devices() -> None:
        with PyAudioDevices():
            pass

    with pytest.raises(AudioDeviceError) as caught:
        asyncio.run(open_devices())
    assert str(caught.value) == PYAUDIO_MISSING


def fake_pyaudio(devices: list[dict], supported: bool = True) -> SimpleNamespace:
    """A stand-in for the `pyaudio` module: PortAudio with these devices and no sound."""

    class FakePortAudio:
        def get_device_count(self) -> int:
            return len(devices)

        def get_device_info_by_index(self, index: int) -> dict:
            if not 0 <= index < len(devices):
                raise OSError(-9996, "Invalid device info")
            return devices[index]

        def get_default_input_device_info(self) -> dict:
            return self._first("maxInputChannels", "No Default Input Device Available")

        def get_default_output_device_info(self) -> dict:
            return self._first("maxOutputChannels", "No Default Output Device Available")

        def _first(self, channels: str, error: str) -> dict:
            for device in devices:
                if device[channels]:
                    return device
            raise OSError(-9996, error)

        def get_host_api_info_by_index(self, index: int) -> dict:
            return {"name": "ALSA"}

        def is_format_supported(self, rate: float, **_: object) -> bool:
            if not supported:
                raise ValueError("Invalid sample rate", -9997)
            return True

        def terminate(self) -> None:
            pass

    return SimpleNamespace(PyAudio=FakePortAudio, paInt16=8, paContinue=0, paComplete=1)


def device(index: int, name: str, inputs: int, outputs: int) -> dict:
    return {
        "index": index, "name": name, "hostApi": 0,
        "maxInputChannels": inputs, "maxOutputChannels": outputs, "defaultSampleRate": 48000.0,
    }  # fmt: skip


def open_error(monkeypatch, module: SimpleNamespace, **choice: int) -> str:
    monkeypatch.setitem(sys.modules, "pyaudio", module)

    async def open_devices() -> None:
        with PyAudioDevices(**choice):
            pass

    with pytest.raises(AudioDeviceError) as caught:
        asyncio.run(open_devices())
    return str(caught.value)


def test_no_microphone_is_one_clear_error(monkeypatch):
    message = open_error(monkeypatch, fake_pyaudio([device(0, "HDMI", 0, 2)]))
    assert message == "no microphone found — connect one, or pick a device with --input-device N (see apoena mic --list-devices)"


def test_a_bad_device_index_is_one_clear_error(monkeypatch):
    message = open_error(monkeypatch, fake_pyaudio([device(0, "USB headset", 1, 2)]), output_device=7)
    assert message == "no audio device 7 — see apoena mic --list-devices"


def test_a_speaker_chosen_as_microphone_is_one_clear_error(monkeypatch):
    message = open_error(monkeypatch, fake_pyaudio([device(0, "USB headset", 1, 2), device(1, "HDMI", 0, 2)]), input_device=1)
    assert message.startswith("audio device 1 (HDMI) has no input — pick a microphone with --input-device N")


def test_a_device_that_cannot_do_8khz_mono_is_one_clear_error(monkeypatch):
    message = open_error(monkeypatch, fake_pyaudio([device(0, "hw:0,0", 2, 2)], supported=False))
    assert message.startswith("audio device 0 (hw:0,0) cannot record 8 kHz 16-bit mono (Invalid sample rate)")


def test_list_devices_marks_the_defaults(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyaudio", fake_pyaudio([device(0, "HDMI", 0, 2), device(1, "USB headset", 1, 2)]))
    devices = list_devices()
    assert [(d.index, d.name, d.is_default_input, d.is_default_output) for d in devices] == [
        (0, "HDMI", False, True),
        (1, "USB headset", True, False),
    ]


# -- the command, as a user runs it --------------------------------------------------------------


@pytest.fixture
def without_pyaudio(tmp_path) -> dict:
    """An environment in which `import pyaudio` fails, as before `pip install -e '.[mic]'`."""
    shadow = tmp_path / "shadow" / "pyaudio"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('No module named pyaudio')\n")
    return {"PYTHONPATH": f"{shadow.parent}{os.pathsep}{ROOT}"}


def test_list_devices_without_pyaudio_says_how_to_install_it(without_pyaudio):
    result = run(["mic", "--list-devices"], env=without_pyaudio)
    assert result.returncode == 2
    assert result.stderr.decode().strip() == f"error: {PYAUDIO_MISSING}"


def test_mic_without_pyaudio_fails_before_calling(without_pyaudio):
    port = free_port()
    result = run(["mic", "--port", str(port)], env=without_pyaudio)
    assert result.returncode == 2
    assert result.stderr.decode().strip() == f"error: {PYAUDIO_MISSING}"


# -- real PortAudio devices, where the machine has some ---------------------------------------------


def _real_devices() -> str | None:
    """Why the real-device tests cannot run here, or None if they can."""
    try:
        import pyaudio  # noqa: F401
    except ImportError:
        return "PyAudio is not installed (the mic extra)"
    devices = list_devices()
    if not any(d.is_default_input for d in devices) or not any(d.is_default_output for d in devices):
        return "no default microphone and speaker here (PortAudio sees no sound card)"
    return None


REAL_DEVICES_MISSING = _real_devices()
needs_devices = pytest.mark.skipif(REAL_DEVICES_MISSING is not None, reason=str(REAL_DEVICES_MISSING))


@needs_devices
def test_real_devices_capture_20ms_frames_in_real_time_and_play_without_blocking():
    async def scenario() -> tuple[list[bytes], float, float]:
        with PyAudioDevices() as devices:
            assert devices.source is not None and devices.sink is not None
            started = time.perf_counter()
            for _ in range(50):
                devices.sink.play(bytes(range(256)) * 10)
            play_seconds = time.perf_counter() - started
            frames: list[bytes] = []
            async for frame in devices.source:
                frames.append(frame)
                if len(frames) == 1:
                    first = time.monotonic()
                if len(frames) == 51:
                    break
            return frames, time.monotonic() - first, play_seconds

    frames, seconds, play_seconds = asyncio.run(scenario())
    assert {len(f) for f in frames} == {320}
    assert 0.7 < seconds < 1.5, f"50 frames took {seconds:.2f} s, not about one second"
    assert play_seconds < 0.05, "play() only queues"


@needs_devices
def test_real_bad_device_index_is_one_clear_error():
    async def open_devices() -> None:
        with PyAudioDevices(input_device=999):
            pass

    with pytest.raises(AudioDeviceError, match=r"^no audio device 999 — see apoena mic --list-devices$"):
        asyncio.run(open_devices())


@needs_devices
def test_list_devices_prints_a_table_of_indexes():
    result = run(["mic", "--list-devices"], env={"COLUMNS": "120"})
    assert result.returncode == 0, result.stderr
    out = result.stdout.decode()
    assert "index" in out and "default" in out
    for found in list_devices():
        assert found.name in out


@needs_devices
def test_apoena_mic_calls_the_server_and_ctrl_c_hangs_up(directory, redis_server, tmp_path):
    services = make_services(directory, redis_server.url, ScriptedTranscriber([]), tmp_path)
    events: list = []

    async def scenario() -> tuple[int, str]:
        async with running_server(services, events) as server:
            mic = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "concierge", "mic", "--port", str(server.port),
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT,
                env={**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"},
            )  # fmt: skip
            assert mic.stdout is not None
            assert b"calling apoena" in await asyncio.wait_for(mic.stdout.readline(), 20)
            await asyncio.sleep(1.5)
            mic.send_signal(signal.SIGINT)
            out, err = await asyncio.wait_for(mic.communicate(), 10)
            return mic.returncode, (out + err).decode()

    code, output = asyncio.run(scenario())
    assert code == 0, output
    assert "you hung up" in output
    assert [e.outcome for e in events if isinstance(e, CallEnded)] == [Outcome.CALLER_HUNG_UP]


def test_a_call_for_a_condominium_carries_its_code_in_the_uuid(tmp_path):
    """`apoena mic --condominium aurora` calls as aurora's gate: the UUID the dialplan would build."""
    from concierge.apps.mic import call_id_for
    from concierge.errors import ConfigError

    path = tmp_path / "config.json"
    listing = tmp_path / "aurora.json"
    listing.write_text(json.dumps([{"apartment_number": "12", "residents": ["Bruno Castro"]}]))
    path.write_text(json.dumps({"condominiums": [{"id": "aurora", "code": 2, "name": "Residencial Aurora", "directory": str(listing)}]}))
    call_id = call_id_for(path, "aurora")

    async def scenario() -> list:
        async with WireRecorder() as wire:
            client = await dial("127.0.0.1", wire.port, call_id)
            stop = asyncio.Event()
            asyncio.get_running_loop().call_later(0.1, stop.set)
            await talk(client, PacedMicrophone(), RecordingSpeaker(), stop)
            await asyncio.wait_for(wire.closed.wait(), 2)
            return wire.messages

    assert asyncio.run(scenario())[0] == Uuid(call_id) and str(call_id).endswith("-000000000002")
    assert call_id_for(path, None) is None and call_id_for(path, "default") is None
    with pytest.raises(ConfigError, match=r"'solar'.*configured: aurora"):
        call_id_for(path, "solar")
