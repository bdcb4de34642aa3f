"""PCM helpers: file reading and writing, resampling, framing."""

from pathlib import Path

import numpy as np
import pytest
import soundfile
from hypothesis import given
from hypothesis import strategies as st

from concierge.audio.pcm import (
    AudioFileError,
    duration_seconds,
    frames,
    pcm_to_float32,
    pcm_to_int16,
    read_audio_file,
    resample,
    silence,
    write_wav,
)


def tone(frequency: float, rate: int, seconds: float, amplitude: float = 0.5) -> np.ndarray:
    """Return a float sine tone."""
    t = np.arange(round(rate * seconds)) / rate
    return amplitude * np.sin(2 * np.pi * frequency * t)


def tone_pcm(frequency: float, rate: int, seconds: float) -> bytes:
    """Return a sine tone as s16le bytes."""
    return (tone(frequency, rate, seconds) * 32767).astype("<i2").tobytes()


def dominant_frequency(samples: np.ndarray, rate: int) -> float:
    """Return the frequency of the strongest FFT bin."""
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.argmax(spectrum) * rate / len(samples))


def rms(samples: np.ndarray) -> float:
    """Return the RMS of the middle 80 % (edges hold the filter's start and end)."""
    edge = len(samples) // 10
    return float(np.sqrt(np.mean(np.square(samples[edge:-edge].astype(np.float64)))))


def test_slin_file_reads_back_exactly(tmp_path: Path) -> None:
    pcm = tone_pcm(440, 8000, 0.5)
    path = tmp_path / "tone.slin"
    path.write_bytes(pcm)
    assert read_audio_file(path) == pcm


def test_wav_written_at_8k_reads_back_exactly(tmp_path: Path) -> None:
    pcm = tone_pcm(440, 8000, 0.5)
    write_wav(tmp_path / "tone.wav", pcm)
    assert read_audio_file(tmp_path / "tone.wav") == pcm
    assert soundfile.info(tmp_path / "tone.wav").samplerate == 8000


@pytest.mark.parametrize(
    ("rate", "channels", "subtype"),
    [(16000, 1, "PCM_16"), (44100, 2, "PCM_16"), (48000, 2, "FLOAT"), (22050, 1, "PCM_U8")],
)
def test_any_wav_reads_as_8k_mono_of_the_same_duration(
    tmp_path: Path, rate: int, channels: int, subtype: str
) -> None:
    samples = np.repeat(tone(440, rate, 1.5)[:, None], channels, axis=1)
    soundfile.write(tmp_path / "in.wav", samples, rate, subtype=subtype)
    pcm = read_audio_file(tmp_path / "in.wav")
    assert duration_seconds(pcm) == pytest.approx(1.5, abs=0.001)
    out = pcm_to_int16(pcm) / 32768
    assert dominant_frequency(out, 8000) == pytest.approx(440, abs=2)
    assert rms(out) == pytest.approx(0.5 / np.sqrt(2), rel=0.03)


def test_stereo_wav_is_downmixed_by_averaging(tmp_path: Path) -> None:
    left = tone(440, 8000, 1.0)
    soundfile.write(tmp_path / "in.wav", np.stack([left, -left], axis=1), 8000, subtype="PCM_16")
    assert np.abs(pcm_to_int16(read_audio_file(tmp_path / "in.wav"))).max() <= 1


@pytest.mark.parametrize(
    ("src", "dst"), [(8000, 16000), (16000, 8000), (44100, 8000), (8000, 48000)]
)
def test_resampled_tone_keeps_its_frequency_and_energy(src: int, dst: int) -> None:
    out = pcm_to_int16(resample(tone_pcm(440, src, 1.0), src, dst)) / 32768
    assert len(out) == dst
    assert dominant_frequency(out, dst) == pytest.approx(440, abs=1.5)
    assert rms(out) == pytest.approx(0.5 / np.sqrt(2), rel=0.01)


def test_downsampling_removes_what_would_alias() -> None:
    out = pcm_to_int16(resample(tone_pcm(5000, 16000, 1.0), 16000, 8000)) / 32768
    assert rms(out) < 0.5 * 10 ** (-60 / 20)


def test_resampling_keeps_a_click_in_place() -> None:
    pcm = bytearray(silence(0.1))
    pcm[800:802] = (20000).to_bytes(2, "little", signed=True)
    assert int(np.argmax(pcm_to_int16(resample(bytes(pcm), 8000, 16000)))) == 800


def test_float32_for_whisper_is_16k_in_unit_range() -> None:
    samples = pcm_to_float32(tone_pcm(440, 8000, 1.0))
    assert samples.dtype == np.float32
    assert len(samples) == 16000
    assert np.abs(samples).max() <= 1.0
    assert len(pcm_to_float32(silence(1.0), out_rate=8000)) == 8000


@given(
    st.binary(max_size=2000).filter(lambda b: len(b) % 2 == 0),
    st.integers(1, 400).map(lambda n: 2 * n),
)
def test_frames_rejoin_to_the_input_and_only_the_last_is_short(pcm: bytes, size: int) -> None:
    chunks = list(frames(pcm, size))
    assert b"".join(chunks) == pcm
    assert all(len(chunk) == size for chunk in chunks[:-1])
    assert all(chunk and len(chunk) % 2 == 0 for chunk in chunks)


def test_silence_and_duration_agree() -> None:
    assert silence(0.02) == bytes(320)
    assert duration_seconds(silence(1.25)) == 1.25
    assert duration_seconds(bytes(640), rate=16000) == 0.02


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(AudioFileError, match="nope.wav: no such file"):
        read_audio_file(tmp_path / "nope.wav")


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("odd.slin", b"\x00\x01\x02", "odd byte count 3"),
        ("empty.slin", b"", "no audio"),
        ("corrupt.wav", b"RIFF\x10\x00\x00\x00WAVEjunkjunkjunk", "unreadable WAV"),
        ("text.wav", b"not audio at all", "unreadable WAV"),
        ("notes.txt", b"hello", "unsupported audio file type '.txt'"),
    ],
)
def test_bad_files_raise_one_line_errors_naming_the_file(
    tmp_path: Path, name: str, content: bytes, problem: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(AudioFileError) as caught:
        read_audio_file(path)
    message = str(caught.value)
    assert name in message and problem in message
    assert "\n" not in message


def test_wav_with_no_frames_is_empty(tmp_path: Path) -> None:
    soundfile.write(tmp_path / "empty.wav", np.zeros(0), 8000, subtype="PCM_16")
    with pytest.raises(AudioFileError, match="no audio"):
        read_audio_file(tmp_path / "empty.wav")
