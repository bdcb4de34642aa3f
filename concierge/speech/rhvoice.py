"""Speech synthesis with RHVoice (voice Letícia-F123) through the `RHVoice-test` program.

RHVoice is a Debian non-free package (`rhvoice rhvoice-brazilian-portuguese`), not a PyPI
one, so it may be absent: `available()` says whether it can run. Debian ships no C API
library for it, so each synthesis runs the program once (~0.2 s start-up), reading the
text on stdin and a streamed 24 kHz WAV on stdout.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

from concierge.audio.pcm import SAMPLE_RATE, resample
from concierge.speech.base import SpeechError

PROGRAM = "RHVoice-test"
DEFAULT_VOICE = "Leticia-F123"
VOICE_DIRS = (Path("/usr/share/RHVoice/voices"), Path("/usr/local/share/RHVoice/voices"))
_TIMEOUT_S = 30.0
_INSTALL = "install it with: apt-get install rhvoice rhvoice-brazilian-portuguese (Debian non-free)"


class RHVoiceSynthesizer:
    """RHVoice speaking `voice`, rendered as 8 kHz slin."""

    name = "rhvoice"

    def __init__(self, voice: str = DEFAULT_VOICE, program: str = PROGRAM) -> None:
        executable = shutil.which(program)
        if executable is None or not _voice_installed(voice):
            raise SpeechError(f"RHVoice voice {voice} is not installed: {_INSTALL}")
        self.voice = voice
        self._command = [executable, "-p", voice, "-o", "-"]

    @classmethod
    def available(cls, voice: str = DEFAULT_VOICE, program: str = PROGRAM) -> bool:
        """Return whether the RHVoice program and `voice` are installed on this machine."""
        return shutil.which(program) is not None and _voice_installed(voice)

    def synthesize(self, text: str) -> bytes:
        """Render `text` as 8 kHz s16le mono; blank text gives no audio."""
        if not text.strip():
            return b""
        try:
            done = subprocess.run(self._command, input=text.encode(), capture_output=True, timeout=_TIMEOUT_S)
        except (OSError, subprocess.TimeoutExpired) as error:
            raise SpeechError(f"RHVoice failed to run: {error}") from None
        if done.returncode != 0:
            detail = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no message"]
            raise SpeechError(f"RHVoice failed (exit {done.returncode}): {detail[0]}")
        rate, pcm = parse_wav(done.stdout)
        return resample(pcm, rate, SAMPLE_RATE)


def parse_wav(data: bytes) -> tuple[int, bytes]:
    """Return (sample rate, s16le samples) of a 16-bit mono PCM WAV, streamed or not.

    A streamed WAV declares placeholder sizes, so the data chunk runs to the end of `data`.
    """
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise SpeechError("RHVoice produced no WAV audio")
    rate = 0
    offset = 12
    while offset + 8 <= len(data):
        chunk, size = struct.unpack_from("<4sI", data, offset)
        body = offset + 8
        if chunk == b"fmt ":
            fmt, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", data, body)
            if (fmt, channels, bits) != (1, 1, 16):
                raise SpeechError(f"RHVoice produced unexpected audio (format {fmt}, {channels} ch, {bits} bit)")
        elif chunk == b"data" and rate:
            pcm = data[body : body + size]
            return rate, pcm[: len(pcm) - len(pcm) % 2]
        offset = body + size + size % 2
    raise SpeechError("RHVoice produced a WAV without audio data")


def _voice_installed(voice: str) -> bool:
    return any((directory / voice).is_dir() for directory in VOICE_DIRS)
