"""The sound card behind two tiny interfaces: a source of 20 ms microphone frames, a sink that plays.

`AudioSource` and `AudioSink` are all the microphone client needs, so it is tested with
recordings instead of hardware. `PyAudioDevices` implements them with PortAudio (the optional
`mic` extra, imported only when a device is opened). Both directions run in PortAudio's own
callback threads and meet the event loop through bounded buffers: a slow speaker never stalls
the socket, and a stalled event loop loses old microphone audio instead of piling it up.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Protocol

from concierge.audio.pcm import FRAME_BYTES, SAMPLE_RATE, SAMPLE_WIDTH
from concierge.errors import UserError

PYAUDIO_MISSING = (
    "PyAudio is not installed — install the mic extra: .venv/bin/pip install -e '.[mic]' "
    "(needs apt-get install portaudio19-dev)"
)
FRAME_SAMPLES = FRAME_BYTES // SAMPLE_WIDTH
CAPTURE_QUEUE_FRAMES = 25
"""Microphone frames (0.5 s) held for a busy event loop before the oldest are dropped."""
PLAYBACK_BUFFER_SECONDS = 0.5
"""Audio waiting for the speaker beyond this is dropped, oldest first, so delay stays bounded."""
PLAYBACK_PRIME_FRAMES = 2
"""After running dry, the speaker waits for this many frames (40 ms) to absorb network jitter."""


class AudioDeviceError(UserError):
    """PyAudio is missing, or a sound device is absent, wrong or busy."""


class AudioSource(Protocol):
    """A microphone: `async for frame in source` yields 320-byte frames (20 ms of 8 kHz s16le
    mono) as they are captured, in real time, until the source is closed."""

    def __aiter__(self) -> AsyncIterator[bytes]: ...


class AudioSink(Protocol):
    """A speaker: `play(pcm)` queues 8 kHz s16le mono audio and returns at once, never blocking."""

    def play(self, pcm: bytes) -> None: ...


@dataclass(frozen=True)
class DeviceInfo:
    """One PortAudio device, as `apoena mic --list-devices` shows it."""

    index: int
    name: str
    host_api: str
    input_channels: int
    output_channels: int
    default_rate: float
    is_default_input: bool
    is_default_output: bool


def import_pyaudio() -> ModuleType:
    """The `pyaudio` module; AudioDeviceError saying how to install it if it is missing."""
    try:
        import pyaudio
    except ImportError:
        raise AudioDeviceError(PYAUDIO_MISSING) from None
    return pyaudio


@contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """Hide what C libraries print on file descriptor 2: PortAudio's ALSA and JACK back-ends
    write dozens of lines there while probing devices that do not exist. Real failures still
    come back to us as Python exceptions."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _start_portaudio(pyaudio: ModuleType) -> Any:
    with _native_stderr_silenced():
        return pyaudio.PyAudio()


def list_devices() -> list[DeviceInfo]:
    """Every input and output device PortAudio can see (an empty list without a sound card)."""
    pyaudio = import_pyaudio()
    audio = _start_portaudio(pyaudio)
    try:
        default_input = _default_index(audio.get_default_input_device_info)
        default_output = _default_index(audio.get_default_output_device_info)
        devices = []
        for index in range(audio.get_device_count()):
            info = audio.get_device_info_by_index(index)
            devices.append(DeviceInfo(
                index=index,
                name=str(info["name"]),
                host_api=str(audio.get_host_api_info_by_index(info["hostApi"])["name"]),
                input_channels=int(info["maxInputChannels"]),
                output_channels=int(info["maxOutputChannels"]),
                default_rate=float(info["defaultSampleRate"]),
                is_default_input=index == default_input,
                is_default_output=index == default_output,
            ))  # fmt: skip
        return devices
    finally:
        audio.terminate()


def _default_index(default_info: Any) -> int | None:
    try:
        return int(default_info()["index"])
    except OSError:
        return None


class CaptureQueue:
    """Microphone audio handed from a capture thread to the event loop as whole 320-byte frames.

    `push()` may be called from any thread with chunks of any size; `async for` yields frames
    until `close()`. At most `max_frames` wait: when the loop falls behind, the oldest go.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, max_frames: int = CAPTURE_QUEUE_FRAMES) -> None:
        self._loop = loop
        self._frames: asyncio.Queue[bytes | None] = asyncio.Queue(max_frames)
        self._partial = bytearray()
        self._lock = threading.Lock()
        self.dropped_frames = 0

    def push(self, pcm: bytes) -> bool:
        """Add captured audio (any thread); False once the event loop is gone."""
        with self._lock:
            self._partial += pcm
            whole = len(self._partial) - len(self._partial) % FRAME_BYTES
            ready = bytes(self._partial[:whole])
            del self._partial[:whole]
        for start in range(0, len(ready), FRAME_BYTES):
            if not self._hand_over(ready[start : start + FRAME_BYTES]):
                return False
        return True

    def close(self) -> None:
        """End the iteration (any thread)."""
        self._hand_over(None)

    def _hand_over(self, frame: bytes | None) -> bool:
        try:
            self._loop.call_soon_threadsafe(self._put, frame)
        except RuntimeError:  # the loop is closed: nobody is listening any more
            return False
        return True

    def _put(self, frame: bytes | None) -> None:
        if self._frames.full():
            self._frames.get_nowait()
            self.dropped_frames += 1
        self._frames.put_nowait(frame)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while (frame := await self._frames.get()) is not None:
            yield frame


class PlaybackBuffer:
    """Audio waiting for the speaker: written by the event loop, read by the output thread.

    Bounded: beyond `max_bytes` the oldest audio is dropped, so the delay between the
    concierge speaking and the speaker playing stays small. `read()` always returns exactly
    the bytes asked for, filling with silence when starved; after running dry it plays
    silence until `prime_bytes` have gathered again, so network jitter does not crackle.
    """

    def __init__(
        self,
        max_bytes: int = round(PLAYBACK_BUFFER_SECONDS * SAMPLE_RATE) * SAMPLE_WIDTH,
        prime_bytes: int = PLAYBACK_PRIME_FRAMES * FRAME_BYTES,
    ) -> None:
        if prime_bytes > max_bytes:
            raise ValueError(f"prime_bytes ({prime_bytes}) exceeds max_bytes ({max_bytes})")
        self.max_bytes = max_bytes
        self.prime_bytes = prime_bytes
        self.dropped_bytes = 0
        self._pending = bytearray()
        self._starved = True
        self._lock = threading.Lock()

    @property
    def buffered_bytes(self) -> int:
        with self._lock:
            return len(self._pending)

    def write(self, pcm: bytes) -> None:
        """Queue audio to play; drops the oldest audio beyond `max_bytes`."""
        with self._lock:
            self._pending += pcm
            excess = len(self._pending) - self.max_bytes
            if excess > 0:
                excess += excess % SAMPLE_WIDTH
                del self._pending[:excess]
                self.dropped_bytes += excess

    def read(self, size: int) -> bytes:
        """Exactly `size` bytes to play now: queued audio, then silence."""
        with self._lock:
            if self._starved and len(self._pending) < self.prime_bytes:
                return bytes(size)
            chunk = bytes(self._pending[:size])
            del self._pending[:size]
            self._starved = len(chunk) < size
        return chunk + bytes(size - len(chunk))


class PyAudioSource:
    """The microphone, captured by PortAudio's callback thread at 8 kHz in 20 ms frames."""

    def __init__(self, audio: Any, pyaudio: ModuleType, device: dict, loop: asyncio.AbstractEventLoop) -> None:
        self.device = device
        self._pyaudio = pyaudio
        self._queue = CaptureQueue(loop)
        self._stream = _open_stream(audio, pyaudio, device, "input", self._captured)

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._queue.__aiter__()

    def _captured(self, data: bytes | None, frame_count: int, time_info: Any, status: int) -> tuple[None, int]:
        alive = data is not None and self._queue.push(data)
        return None, self._pyaudio.paContinue if alive else self._pyaudio.paComplete

    def close(self) -> None:
        _close_stream(self._stream)
        self._queue.close()


class PyAudioSink:
    """The speaker, fed by PortAudio's callback thread from a bounded `PlaybackBuffer`."""

    def __init__(self, audio: Any, pyaudio: ModuleType, device: dict) -> None:
        self.device = device
        self.buffer = PlaybackBuffer()
        self._pyaudio = pyaudio
        self._stream = _open_stream(audio, pyaudio, device, "output", self._wanted)

    def play(self, pcm: bytes) -> None:
        self.buffer.write(pcm)

    def _wanted(self, data: None, frame_count: int, time_info: Any, status: int) -> tuple[bytes, int]:
        return self.buffer.read(frame_count * SAMPLE_WIDTH), self._pyaudio.paContinue

    async def finish(self) -> None:
        """Wait (without blocking the loop) until what is queued has reached the speaker."""
        queued = self.buffer.buffered_bytes / (SAMPLE_RATE * SAMPLE_WIDTH)
        await asyncio.sleep(queued + self._stream.get_output_latency())

    def close(self) -> None:
        _close_stream(self._stream)


class PyAudioDevices:
    """The system's microphone and speaker through PortAudio; use as a context manager inside
    a running event loop. `None` picks the system's default device. Every problem (no PyAudio,
    no device, a bad index, a device that cannot do 8 kHz mono) is one AudioDeviceError."""

    def __init__(self, input_device: int | None = None, output_device: int | None = None) -> None:
        self.input_device = input_device
        self.output_device = output_device
        self.source: PyAudioSource | None = None
        self.sink: PyAudioSink | None = None
        self._audio: Any = None

    def __enter__(self) -> PyAudioDevices:
        pyaudio = import_pyaudio()
        loop = asyncio.get_running_loop()
        self._audio = _start_portaudio(pyaudio)
        try:
            microphone = _pick_device(self._audio, pyaudio, self.input_device, "input")
            speaker = _pick_device(self._audio, pyaudio, self.output_device, "output")
            self.sink = PyAudioSink(self._audio, pyaudio, speaker)
            self.source = PyAudioSource(self._audio, pyaudio, microphone, loop)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop both streams and release PortAudio; safe to call twice."""
        for stream in (self.source, self.sink):
            if stream is not None:
                stream.close()
        self.source = self.sink = None
        if self._audio is not None:
            self._audio.terminate()
            self._audio = None


_WORDS = {"input": ("microphone", "record", "--input-device"), "output": ("speaker", "play", "--output-device")}


def _pick_device(audio: Any, pyaudio: ModuleType, index: int | None, direction: str) -> dict:
    """The device to use for `direction` ("input"/"output"), checked for 8 kHz s16 mono."""
    thing, verb, option = _WORDS[direction]
    listing = "see apoena mic --list-devices"
    if index is None:
        default = audio.get_default_input_device_info if direction == "input" else audio.get_default_output_device_info
        try:
            device = default()
        except OSError:
            raise AudioDeviceError(f"no {thing} found — connect one, or pick a device with {option} N ({listing})") from None
    else:
        try:
            device = audio.get_device_info_by_index(index)
        except (OSError, ValueError):
            raise AudioDeviceError(f"no audio device {index} — {listing}") from None
    name = f"audio device {device['index']} ({device['name']})"
    if device["maxInputChannels" if direction == "input" else "maxOutputChannels"] < 1:
        raise AudioDeviceError(f"{name} has no {direction} — pick a {thing} with {option} N ({listing})")
    check = {f"{direction}_device": device["index"], f"{direction}_channels": 1, f"{direction}_format": pyaudio.paInt16}
    try:
        with _native_stderr_silenced():
            audio.is_format_supported(SAMPLE_RATE, **check)
    except ValueError as error:
        reason = error.args[0] if error.args else error
        raise AudioDeviceError(
            f"{name} cannot {verb} 8 kHz 16-bit mono ({reason}) — pick another with {option} N; "
            f"'default' or 'pulse' devices convert"
        ) from None
    return device


def _open_stream(audio: Any, pyaudio: ModuleType, device: dict, direction: str, callback: Any) -> Any:
    try:
        with _native_stderr_silenced():
            return audio.open(
                rate=SAMPLE_RATE,
                channels=1,
                format=pyaudio.paInt16,
                frames_per_buffer=FRAME_SAMPLES,
                stream_callback=callback,
                **{direction: True, f"{direction}_device_index": device["index"]},
            )
    except (OSError, ValueError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else error
        raise AudioDeviceError(f"cannot open audio device {device['index']} ({device['name']}): {reason}") from None


def _close_stream(stream: Any) -> None:
    try:
        if stream.is_active():
            stream.stop_stream()
        stream.close()
    except OSError:
        pass  # the device vanished (unplugged): nothing left to release
