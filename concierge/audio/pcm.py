"""PCM helpers: read and write audio files as 8 kHz s16le mono ("slin"), resample, chunk.

Everything here works on raw little-endian signed 16-bit mono bytes, the format that
Asterisk's AudioSocket carries. No I/O apart from `read_audio_file` and `write_wav`.
"""

from collections.abc import Iterator
from functools import lru_cache
from math import gcd
from pathlib import Path

import numpy as np
import soundfile

SAMPLE_RATE = 8000
"""The telephone rate that AudioSocket uses (kind 0x10)."""
SAMPLE_WIDTH = 2
"""Bytes per sample (s16le)."""
FRAME_BYTES = 320
"""One AudioSocket frame: 20 ms at 8 kHz."""
FRAME_SECONDS = 0.02

_SLIN_SUFFIXES = {".slin", ".sln"}
_WAV_SUFFIXES = {".wav"}
_ZERO_CROSSINGS = 32
_CUTOFF = 0.95
_KAISER_BETA = 8.0
_CHUNK_OUTPUTS = 4096


class AudioFileError(Exception):
    """An audio file is missing, empty, corrupt or of an unsupported kind."""


def read_audio_file(path: str | Path) -> bytes:
    """Return the file's audio as 8 kHz s16le mono: `.slin`/`.sln` (raw 8 kHz) or `.wav` (any)."""
    path = Path(path)
    if not path.exists():
        raise AudioFileError(f"{path}: no such file")
    suffix = path.suffix.lower()
    try:
        if suffix in _SLIN_SUFFIXES:
            pcm = _read_slin(path)
        elif suffix in _WAV_SUFFIXES:
            pcm = _read_wav(path)
        else:
            raise AudioFileError(f"{path}: unsupported audio file type {suffix!r}, want .slin/.wav")
    except OSError as error:
        reason = error.strerror or _one_line(error)
        raise AudioFileError(f"{path}: cannot read ({reason})") from None
    if not pcm:
        raise AudioFileError(f"{path}: no audio in file")
    return pcm


def _read_slin(path: Path) -> bytes:
    """Return a raw 8 kHz s16le file's bytes, refusing a half sample."""
    pcm = path.read_bytes()
    if len(pcm) % SAMPLE_WIDTH:
        raise AudioFileError(f"{path}: odd byte count {len(pcm)}, not 16-bit samples")
    return pcm


def _read_wav(path: Path) -> bytes:
    """Return a WAV file downmixed to mono and resampled to 8 kHz, as s16le."""
    try:
        samples, rate = soundfile.read(path, dtype="float32", always_2d=True)
    except (soundfile.SoundFileError, ValueError) as error:
        raise AudioFileError(f"{path}: unreadable WAV ({_one_line(error)})") from None
    mono = samples.mean(axis=1)
    return _float_to_pcm(_resample_float(mono, rate, SAMPLE_RATE))


def _one_line(error: Exception) -> str:
    """Return an exception's message on a single line."""
    return " ".join(str(error).split())


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
    """Return s16le PCM resampled from `src_rate` to `dst_rate` (windowed-sinc polyphase)."""
    samples = pcm_to_int16(pcm).astype(np.float64) / 32768.0
    return _float_to_pcm(_resample_float(samples, src_rate, dst_rate))


def _float_to_pcm(samples: np.ndarray) -> bytes:
    """Return float samples in [-1, 1] as s16le bytes, clipping what overflows."""
    scaled = np.clip(np.rint(samples * 32768.0), -32768, 32767)
    return scaled.astype("<i2").tobytes()


def _resample_float(samples: np.ndarray, src_rate: int, dst_rate: int) -> np.ndarray:
    """Return `samples` resampled by the rational factor dst/src, zero-phase, same start time.

    Polyphase evaluation of a Kaiser-windowed sinc low-pass designed at the common
    (upsampled) rate, cut at the lower of the two Nyquist frequencies, so downsampling
    does not alias and upsampling does not image.
    """
    if src_rate <= 0 or dst_rate <= 0:
        raise ValueError(f"sample rates must be positive, got {src_rate} -> {dst_rate}")
    if src_rate == dst_rate or not len(samples):
        return samples
    divisor = gcd(src_rate, dst_rate)
    up, down = dst_rate // divisor, src_rate // divisor
    phases, center = _polyphase_filter(up, down)
    taps = phases.shape[1]
    out_count = -(-len(samples) * up // down)
    padded = np.concatenate([np.zeros(taps), samples, np.zeros(taps + 1)])
    out = np.empty(out_count)
    for first in range(0, out_count, _CHUNK_OUTPUTS):
        position = np.arange(first, min(first + _CHUNK_OUTPUTS, out_count)) * down + center
        base, phase = np.divmod(position, up)
        index = base[:, None] - np.arange(taps)[None, :] + taps
        out[first : first + len(position)] = np.einsum("ij,ij->i", phases[phase], padded[index])
    return out


@lru_cache(maxsize=16)
def _polyphase_filter(up: int, down: int) -> tuple[np.ndarray, int]:
    """Return an up/down resampler's low-pass filter split into `up` phases, and its center.

    Row p holds taps p, p+up, p+2*up, ... so that output sample n is the dot product of row
    (n*down + center) % up with the input samples going back from (n*down + center) // up.
    """
    factor = max(up, down)
    center = _ZERO_CROSSINGS * factor
    cutoff = _CUTOFF / factor
    offsets = np.arange(-center, center + 1)
    kernel = cutoff * np.sinc(cutoff * offsets) * np.kaiser(len(offsets), _KAISER_BETA) * up
    taps = -(-len(kernel) // up)
    kernel = np.concatenate([kernel, np.zeros(taps * up - len(kernel))])
    return kernel.reshape(taps, up).T.copy(), center


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
