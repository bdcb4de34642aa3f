"""RHVoice Letícia through the RHVoice-test program, and its absence on machines without it."""

from __future__ import annotations

import struct

import pytest

from concierge.speech.base import SpeechError
from concierge.speech.rhvoice import RHVoiceSynthesizer, parse_wav

needs_rhvoice = pytest.mark.skipif(
    not RHVoiceSynthesizer.available(), reason="RHVoice Leticia-F123 is not installed (Debian non-free)"
)


@needs_rhvoice
def test_leticia_says_the_greeting_as_8khz_speech() -> None:
    pcm = RHVoiceSynthesizer().synthesize("Condomínio Apoena, em que posso ajudar?")
    samples = struct.unpack(f"<{len(pcm) // 2}h", pcm)
    assert 1.5 < len(samples) / 8000 < 5.0
    assert max(map(abs, samples)) > 3000


def test_missing_program_is_reported_as_not_installed() -> None:
    assert not RHVoiceSynthesizer.available(program="no-such-RHVoice-test")
    with pytest.raises(SpeechError, match="not installed: install it with: apt-get install rhvoice"):
        RHVoiceSynthesizer(program="no-such-RHVoice-test")


def test_missing_voice_is_reported_as_not_installed() -> None:
    assert not RHVoiceSynthesizer.available(voice="Nobody-F000")
    with pytest.raises(SpeechError, match="voice Nobody-F000 is not installed"):
        RHVoiceSynthesizer(voice="Nobody-F000")


def test_streamed_wav_with_placeholder_sizes_yields_all_its_samples() -> None:
    samples = struct.pack("<4h", 1, -2, 3, -4)
    header = struct.pack(
        "<4sI4s4sIHHIIHH4sI", b"RIFF", 0x7FFFFFFF, b"WAVE", b"fmt ", 16, 1, 1, 24000, 48000, 2, 16, b"data", 0x7FFFF000
    )
    assert parse_wav(header + samples) == (24000, samples)


def test_output_that_is_not_wav_is_a_speech_error() -> None:
    with pytest.raises(SpeechError, match="no WAV audio"):
        parse_wav(b"")
