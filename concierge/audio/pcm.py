"""PCM helpers: read and write audio files as 8 kHz s16le mono ("slin"), resample, chunk.

Everything here works on raw little-endian signed 16-bit mono bytes, the format that
Asterisk's AudioSocket carries. No I/O apart from `read_audio_file` (decoding is in
`recordings`) and `write_wav`.
"""

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import soundfile
import soxr

from concierge.audio.recordings import SUPPORTED_SUFFIXES, AudioFileError, decode_file

SAMPLE_RATE = 8000
"""The telephone rate that AudioSocket uses (kind 0x10)."""
SAMPLE_WIDTH = 2
"""Bytes per sample (s16le)."""
FRAME_BYTES = 320
"""One AudioSocket frame: 20 ms at 8 kHz."""
FRAME_SECONDS = 0.02

_RESAMPLE_QUALITY = "HQ"
"""soxr's default: linear phase, 20-bit precision. `VHQ` is 1.2–2× slower for no audible gain."""

__all__ = [
    "FRAME_BYTES", "FRAME_SECONDS", "SAMPLE_RATE", "SAMPLE_WIDTH", "SUPPORTED_SUFFIXES",
    "AudioFileError", "duration_seconds", "frames", "pcm_to_float32", "pcm_to_int16",
    "read_audio_file", "resample", "silence", "write_wav",
]


def read_audio_file(path: str | Path) -> bytes:
    """Return a recording's audio as 8 kHz s16le mono, whatever its format (see `recordings`)."""
    samples, rate = decode_file(Path(path))
    return _float_to_pcm(_resample_float(samples, rate, SAMPLE_RATE))


def write_wav(path: str | Path, pcm: bytes, rate: int = SAMPLE_RATE) -> None:
    """Write s16le mono PCM as a 16-bit WAV file at `rate`."""
    soundfile.write(Path(path), pcm_to_int16(pcm), rate, subtype="PCM_16")


def pcm_to_int16(pcm: bytes) -> np.ndarray:
    """Return s16le bytes as an int16 array (a copy, writable)."""
    if len(pcm) % SAMPLE_WIDTH:
        raise ValueError(f"PCM has an odd byte count ({len(pcm)})")
    return np.frombuffer(pcm, dtype="<i2").astype(np.int16)


def pcm_to_float32(pcm: bytes, rate: int = SAMPLE_RATE, out_rate: int = 16000) -> np.ndarray:
    """Return s16le PCM as float32 samples in [-1, 1) at `out_rate` (Whisper wants 16 kHz)."""
    samples = pcm_to_int16(pcm).astype(np.float32) / 32768.0
    return _resample_float(samples, rate, out_rate).astype(np.float32)


def resample(pcm: bytes, src_rate: int, dst_rate: int) -> bytes:
    """Return s16le PCM resampled from `src_rate` to `dst_rate` (soxr, one-shot)."""
    samples = pcm_to_int16(pcm).astype(np.float32) / 32768.0
    return _float_to_pcm(_resample_float(samples, src_rate, dst_rate))


def _float_to_pcm(samples: np.ndarray) -> bytes:
    """Return float samples in [-1, 1] as s16le bytes, clipping what overflows."""
    scaled = np.clip(np.rint(samples * 32768.0), -32768, 32767)
    return scaled.astype("<i2").tobytes()


def _resample_float(samples: np.ndarray, src_rate: int, dst_rate: int) -> np.ndarray:
    """Return float `samples` resampled from `src_rate` to `dst_rate` by soxr, same start time.

    soxr replaced a hand-written Kaiser polyphase resampler, being faster on every path
    (bench/resample.py): 0.23 ms against 78 ms for a 3 s turn 8k→16k, 4 ms against 473 ms for
    10 s 44.1k→8k, 0.069 ms against 0.152 ms for one 20 ms frame 16k→8k; and aliases 54–58 dB
    lower.
    """
    if src_rate <= 0 or dst_rate <= 0:
        raise ValueError(f"sample rates must be positive, got {src_rate} -> {dst_rate}")
    if src_rate == dst_rate or not len(samples):
        return samples
    return soxr.resample(samples, src_rate, dst_rate, quality=_RESAMPLE_QUALITY)


def frames(pcm: bytes, size: int = FRAME_BYTES) -> Iterator[bytes]:
    """Yield `pcm` in chunks of `size` bytes; the last one may be shorter."""
    if size <= 0 or size % SAMPLE_WIDTH:
        raise ValueError(f"frame size must be a positive even byte count, got {size}")
    for start in range(0, len(pcm), size):
        yield pcm[start : start + size]


def silence(duration_s: float, rate: int = SAMPLE_RATE) -> bytes:
    """Return `duration_s` seconds of digital silence (rounded to whole samples)."""
    return bytes(round(duration_s * rate) * SAMPLE_WIDTH)


def duration_seconds(pcm: bytes, rate: int = SAMPLE_RATE) -> float:
    """Return how long s16le mono `pcm` plays at `rate`."""
    return len(pcm) / (SAMPLE_WIDTH * rate)
