"""Decode a recording file into mono float samples at its own rate, chosen by its extension.

Asterisk's headerless formats (`.sln*`, `.ulaw`, `.alaw`, `.gsm`) and WAV/FLAC are read by
libsndfile (the `soundfile` package), which needs nothing else installed. Compressed formats
(`.mp3`, `.ogg`, `.m4a`, …) go through pydub and ffmpeg, imported only when such a file is read.
Every failure is an `AudioFileError` with one line naming the file and what is wrong.
"""

import json
import re
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile


class AudioFileError(Exception):
    """An audio file is missing, empty, corrupt or of an unsupported kind."""


@dataclass(frozen=True)
class RawFormat:
    """A headerless mono format: libsndfile's subtype and the rate Asterisk gives it."""

    subtype: str
    rate: int


_RAW_FORMATS: dict[str, RawFormat] = {
    **dict.fromkeys((".slin", ".sln"), RawFormat("PCM_16", 8000)),
    **{
        f".sln{name}": RawFormat("PCM_16", rate)
        for name, rate in {
            "12": 12000, "16": 16000, "24": 24000, "32": 32000,
            "44": 44100, "48": 48000, "96": 96000, "192": 192000,
        }.items()
    },
    **dict.fromkeys((".ulaw", ".ul", ".mu", ".ulw"), RawFormat("ULAW", 8000)),
    **dict.fromkeys((".alaw", ".al", ".alw"), RawFormat("ALAW", 8000)),
    ".gsm": RawFormat("GSM610", 8000),
}
"""Asterisk's file extensions (format_pcm, format_gsm, format_sln) and what they hold."""

_SOUNDFILE_SUFFIXES = {".wav", ".flac"}
"""Containers libsndfile reads itself (`.WAV`, Asterisk's wav49, is GSM in a WAV)."""
_FFMPEG_SUFFIXES = {".mp3", ".ogg", ".oga", ".opus", ".m4a", ".aac", ".webm"}
"""Compressed formats decoded by ffmpeg through pydub."""

SUPPORTED_SUFFIXES = tuple(sorted({*_RAW_FORMATS, *_SOUNDFILE_SUFFIXES, *_FFMPEG_SUFFIXES}))

_GSM_FRAME_BYTES = 33
_GSM_MAGIC = 0xD0
_MISSING_DECODER = re.compile(
    r"Decoder \(codec (?P<old>\S+)\) not found|no decoder found for: (?P<new>\S+)"
)


def decode_file(path: Path) -> tuple[np.ndarray, int]:
    """Return a recording's samples as mono float32 in [-1, 1] and their sample rate."""
    if not path.is_file():
        raise AudioFileError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix in _RAW_FORMATS:
        samples, rate = _read_raw(path, _RAW_FORMATS[suffix])
    elif suffix in _SOUNDFILE_SUFFIXES:
        samples, rate = _read_with_soundfile(path)
    elif suffix in _FFMPEG_SUFFIXES:
        samples, rate = _read_with_ffmpeg(path)
    else:
        wanted = " ".join(SUPPORTED_SUFFIXES)
        raise AudioFileError(f"{path}: unsupported audio file type {suffix!r}, want one of {wanted}")
    if not len(samples):
        raise AudioFileError(f"{path}: no audio in file")
    return samples, rate


def _read_raw(path: Path, kind: RawFormat) -> tuple[np.ndarray, int]:
    """Return a headerless file's samples, refusing sizes and frames the format cannot have."""
    data = _read_bytes(path)
    if kind.subtype == "PCM_16" and len(data) % 2:
        raise AudioFileError(f"{path}: odd byte count {len(data)}, not 16-bit samples")
    if kind.subtype == "GSM610" and not _is_gsm(data):
        raise AudioFileError(f"{path}: corrupt GSM file (not whole 33-byte GSM 06.10 frames)")
    try:
        samples, _ = soundfile.read(
            path, dtype="float32", format="RAW", subtype=kind.subtype, samplerate=kind.rate, channels=1
        )
    except (soundfile.SoundFileError, ValueError) as error:
        raise AudioFileError(f"{path}: unreadable {kind.subtype} audio ({_one_line(error)})") from None
    return samples, kind.rate


def _is_gsm(data: bytes) -> bool:
    """Return whether `data` is whole GSM 06.10 frames, each starting with the 0xD signature."""
    if len(data) % _GSM_FRAME_BYTES:
        return False
    firsts = np.frombuffer(data, dtype=np.uint8)[::_GSM_FRAME_BYTES]
    return bool(np.all(firsts & 0xF0 == _GSM_MAGIC))


def _read_with_soundfile(path: Path) -> tuple[np.ndarray, int]:
    """Return a WAV or FLAC file's samples downmixed to mono."""
    try:
        samples, rate = soundfile.read(path, dtype="float32", always_2d=True)
    except (soundfile.SoundFileError, ValueError) as error:
        raise AudioFileError(f"{path}: unreadable {_kind(path)} ({_one_line(error)})") from None
    return samples.mean(axis=1), rate


def _read_with_ffmpeg(path: Path) -> tuple[np.ndarray, int]:
    """Return a compressed file's samples downmixed to mono, decoded by ffmpeg via pydub."""
    missing = [tool for tool in ("ffmpeg", "ffprobe") if shutil.which(tool) is None]
    if missing:
        raise AudioFileError(
            f"{path}: {_kind(path)}s need {' and '.join(missing)} to be decoded,"
            f" which {'is' if len(missing) == 1 else 'are'} not installed (apt-get install ffmpeg)"
        )
    with warnings.catch_warnings():  # pydub warns at import: audioop's deprecation, tools it looks for
        warnings.simplefilter("ignore")
        from pydub import AudioSegment
        from pydub.exceptions import CouldntDecodeError
    try:
        segment = AudioSegment.from_file(path)
    except CouldntDecodeError as error:
        raise AudioFileError(_ffmpeg_failure(path, str(error))) from None
    except (IndexError, KeyError, json.JSONDecodeError):  # ffprobe found no audio stream
        raise AudioFileError(f"{path}: corrupt {_kind(path)} (ffmpeg finds no audio stream in it)") from None
    except OSError as error:
        raise AudioFileError(f"{path}: cannot read ({error.strerror or _one_line(error)})") from None
    width = segment.sample_width
    samples = np.frombuffer(segment.raw_data, dtype=f"<i{width}").astype(np.float32) / 2 ** (8 * width - 1)
    return samples.reshape(-1, segment.channels).mean(axis=1), segment.frame_rate


def _ffmpeg_failure(path: Path, report: str) -> str:
    """Return one line saying why ffmpeg could not decode `path`, from pydub's error text."""
    missing = _MISSING_DECODER.search(report)
    if missing:
        codec = missing.group("old") or missing.group("new")
        return f"{path}: this ffmpeg has no decoder for {codec} (install an ffmpeg built with it)"
    lines = [line.strip() for line in report.splitlines() if line.strip()]
    reason = lines[-1].removeprefix(f"{path}:").strip() if lines else "no output"
    return f"{path}: corrupt {_kind(path)} (ffmpeg: {reason})"


def _read_bytes(path: Path) -> bytes:
    """Return a file's bytes, turning an OS error into an AudioFileError."""
    try:
        return path.read_bytes()
    except OSError as error:
        raise AudioFileError(f"{path}: cannot read ({error.strerror or _one_line(error)})") from None


def _kind(path: Path) -> str:
    """Return how to name a file's format in a message, e.g. 'MP3 file'."""
    return f"{path.suffix.lstrip('.').upper()} file"


def _one_line(error: Exception) -> str:
    """Return an exception's message on a single line."""
    return " ".join(str(error).split())
