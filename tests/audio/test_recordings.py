"""Recordings in every format an integrator has, made by ffmpeg at test time, read as 8 kHz slin.

Each file is encoded from a real 8 kHz call (tests/audio/data/entrega.slin); decoding must give
back the same speech (aligned SNR), the same length, and one-line errors for what cannot work.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from concierge.audio.pcm import AudioFileError, pcm_to_int16, read_audio_file

from ..test_cli import ROOT, run

DATA = Path(__file__).parent / "data"
SOURCE = DATA / "entrega.slin"
FFMPEG = shutil.which("ffmpeg")
needs_ffmpeg = pytest.mark.skipif(FFMPEG is None, reason="ffmpeg is not installed (apt-get install ffmpeg)")

STEREO = ["-af", "pan=stereo|c0=c0|c1=c0"]
"""The mono source copied to both channels (ffmpeg's own upmix lowers each by 3 dB)."""

ENCODINGS = {
    # name: (ffmpeg output options, lowest SNR in dB against the source)
    "call.sln16": (["-ar", "16000", "-f", "s16le"], 40),
    "call.ulaw": (["-f", "mulaw"], 30),
    "call.alaw": (["-f", "alaw"], 30),
    "call.gsm": (["-c:a", "libgsm", "-f", "gsm"], 10),
    "call.wav": (["-ar", "44100", *STEREO], 40),
    "call.WAV": (["-c:a", "libgsm_ms"], 10),  # Asterisk's wav49: GSM 06.10 inside a WAV
    "call.flac": (["-ar", "16000"], 40),
    "call.mp3": (["-ar", "22050", *STEREO, "-b:a", "64k"], 20),
    "call.ogg": (["-c:a", "libvorbis", "-ar", "16000"], 18),
    "call.opus": (["-c:a", "libopus", "-b:a", "24k"], 18),
    "call.m4a": (["-c:a", "aac", "-ar", "16000", "-b:a", "48k"], 15),
}


def encode(source: Path, out: Path, options: list[str]) -> Path:
    """Encode 8 kHz s16le `source` into `out` with ffmpeg."""
    command = [FFMPEG, "-v", "error", "-y", "-f", "s16le", "-ar", "8000", "-ac", "1", "-i", str(source)]
    subprocess.run([*command, *options, str(out)], check=True, capture_output=True, timeout=60)
    return out


def aligned_snr(reference: np.ndarray, decoded: np.ndarray, max_lag: int = 800) -> tuple[float, int]:
    """Return the SNR (dB) of `decoded` against `reference` at their best alignment, and that lag."""
    size = len(reference) + len(decoded)
    spectrum = np.fft.rfft(decoded, size) * np.conj(np.fft.rfft(reference, size))
    correlation = np.fft.irfft(spectrum, size)
    lags = np.r_[np.arange(0, max_lag + 1), np.arange(-max_lag, 0)]
    lag = int(lags[np.argmax(correlation[lags])])
    shifted = decoded[lag:] if lag >= 0 else np.concatenate([np.zeros(-lag), decoded])
    count = min(len(reference), len(shifted))
    error = reference[:count] - shifted[:count]
    return float(10 * np.log10(np.sum(reference[:count] ** 2) / np.sum(error**2))), lag


@pytest.fixture(scope="module")
def source() -> np.ndarray:
    return pcm_to_int16(SOURCE.read_bytes()).astype(np.float64)


@needs_ffmpeg
@pytest.mark.parametrize("name", ENCODINGS)
def test_each_format_decodes_to_the_same_speech_at_8k(tmp_path: Path, source: np.ndarray, name: str) -> None:
    options, lowest_snr = ENCODINGS[name]
    decoded = pcm_to_int16(read_audio_file(encode(SOURCE, tmp_path / name, options))).astype(np.float64)
    snr, lag = aligned_snr(source, decoded)
    assert snr >= lowest_snr, f"{name}: SNR {snr:.1f} dB"
    assert abs(lag) <= 8 * 30, f"{name}: shifted by {lag / 8:.1f} ms"
    assert abs(len(decoded) - len(source)) <= 8 * 60, f"{name}: {len(decoded)} samples, source {len(source)}"


def test_plain_slin_reads_back_byte_for_byte(tmp_path: Path) -> None:
    for name in ("call.sln", "call.slin"):
        shutil.copy(SOURCE, tmp_path / name)
        assert read_audio_file(tmp_path / name) == SOURCE.read_bytes()


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("junk.mp3", bytes(range(256)) * 20, "corrupt MP3 file (ffmpeg: "),
        ("text.m4a", b"hello, not a movie", "corrupt M4A file (ffmpeg: "),
        ("text.ogg", b"OggS but not really", "corrupt OGG file (ffmpeg: "),
        ("half.gsm", bytes([0xD0]) * 40, "corrupt GSM file"),
        ("noise.gsm", bytes(33), "corrupt GSM file"),
        ("odd.sln16", b"\x00\x01\x02", "odd byte count 3"),
        ("empty.ulaw", b"", "no audio"),
        ("notes.txt", b"hello", "unsupported audio file type '.txt'"),
    ],
)
def test_corrupt_files_are_one_line_errors_naming_the_file(
    tmp_path: Path, name: str, content: bytes, problem: str
) -> None:
    if FFMPEG is None and name.endswith((".mp3", ".m4a", ".ogg")):
        pytest.skip("ffmpeg is not installed (apt-get install ffmpeg)")
    (tmp_path / name).write_bytes(content)
    with pytest.raises(AudioFileError) as caught:
        read_audio_file(tmp_path / name)
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / name}: ") and problem in message, message
    assert "\n" not in message


@needs_ffmpeg
def test_without_ffmpeg_compressed_files_name_the_missing_decoder_and_asterisk_formats_still_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mp3 = encode(SOURCE, tmp_path / "call.mp3", [])
    ulaw = encode(SOURCE, tmp_path / "call.ulaw", ["-f", "mulaw"])
    monkeypatch.setenv("PATH", str(tmp_path / "no-tools"))
    with pytest.raises(AudioFileError) as caught:
        read_audio_file(mp3)
    assert str(caught.value) == (
        f"{mp3}: MP3 files need ffmpeg and ffprobe to be decoded, which are not installed (apt-get install ffmpeg)"
    )
    assert len(read_audio_file(ulaw)) == len(SOURCE.read_bytes())


@needs_ffmpeg
def test_an_ffmpeg_without_the_codec_is_named_as_the_missing_decoder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    m4a = encode(SOURCE, tmp_path / "call.m4a", ["-c:a", "aac"])
    tools = tmp_path / "tools"
    tools.mkdir()
    (tools / "ffprobe").symlink_to(shutil.which("ffprobe"))
    fake = tools / "ffmpeg"  # what Debian's ffmpeg 5.1 prints when built without the decoder
    fake.write_text('#!/bin/sh\necho "Decoder (codec aac) not found for input stream #0:0" >&2\nexit 1\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tools}{os.pathsep}/usr/bin{os.pathsep}/bin")
    with pytest.raises(AudioFileError) as caught:
        read_audio_file(m4a)
    assert str(caught.value) == f"{m4a}: this ffmpeg has no decoder for aac (install an ffmpeg built with it)"


@needs_ffmpeg
def test_simulate_without_ffmpeg_exits_2_with_one_line_and_no_traceback(tmp_path: Path) -> None:
    mp3 = encode(SOURCE, tmp_path / "call.mp3", [])
    result = run(["simulate", str(mp3)], env={"PATH": str(tmp_path / "no-tools")})
    err = result.stderr.decode()
    assert result.returncode == 2, err
    assert "need ffmpeg and ffprobe" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


@needs_ffmpeg
@pytest.mark.slow
def test_simulate_plays_mp3_and_ulaw_versions_of_a_fixture_call_to_the_same_slots(tmp_path: Path) -> None:
    fixture = ROOT / "fixtures" / "calls" / "entrega"
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"directory": {"path": str(ROOT / "data" / "apartamentos.json")}}))
    calls = [
        encode(fixture.with_suffix(".slin"), tmp_path / "entrega.mp3", ["-ar", "44100", "-b:a", "64k"]),
        encode(fixture.with_suffix(".slin"), tmp_path / "entrega_ulaw.ulaw", ["-f", "mulaw"]),
    ]
    for call in calls:
        shutil.copy(fixture.with_suffix(".json"), call.with_suffix(".json"))
    result = run(["simulate", *map(str, calls), "--json", "--config", str(config)], timeout=300)
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    report = json.loads(result.stdout)
    expected = json.loads(fixture.with_suffix(".json").read_text())["expected"]
    assert [Path(call["file"]).name for call in report["calls"]] == ["entrega.mp3", "entrega_ulaw.ulaw"]
    for call in report["calls"]:
        assert call["passed"] is True and call["mismatches"] == [] and call["expected"] == expected
        assert call["outcome"] == "completed"
        assert call["final"]["valid_for_action"] is True
        assert {key: call["final"]["dados"][key] for key in expected if key != "valid_for_action"} == {
            key: value for key, value in expected.items() if key != "valid_for_action"
        }
