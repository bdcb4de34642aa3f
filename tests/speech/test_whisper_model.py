"""Assembling the offline Whisper base model from its two packages into a verified cache."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from concierge.speech.base import SpeechError
from concierge.speech.whisper_model import (
    BASE_MODEL_SHA256,
    MARKER,
    ModelSources,
    ensure_base_model,
    find_sources,
)


def test_installed_packages_assemble_into_the_verified_base_model(base_model_dir: Path) -> None:
    sources = find_sources()
    halves = (sources.part1 / "model.bin.part1", sources.part2 / "model.bin.part2")
    assert (base_model_dir / "model.bin").stat().st_size == sum(half.stat().st_size for half in halves)
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        assert (base_model_dir / name).read_bytes() == (sources.part1 / name).read_bytes()
    assert (base_model_dir / MARKER).read_text().startswith(BASE_MODEL_SHA256)


def test_second_start_trusts_the_marker_and_leaves_the_model_alone(fake_packages, tmp_path: Path) -> None:
    sources, sha256 = fake_packages
    target = ensure_base_model(tmp_path / "cache", sources, sha256)
    before = (target / "model.bin").stat()
    (sources.part2 / "model.bin.part2").unlink()

    assert ensure_base_model(tmp_path / "cache", sources, sha256) == target
    after = (target / "model.bin").stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_tampered_part_fails_the_hash_and_leaves_no_model(fake_packages, tmp_path: Path) -> None:
    sources, sha256 = fake_packages
    half = sources.part2 / "model.bin.part2"
    half.write_bytes(half.read_bytes().replace(b"second", b"SECOND", 1))
    target = tmp_path / "cache"

    with pytest.raises(SpeechError, match=r"corrupt.*\./dev\.sh setup"):
        ensure_base_model(target, sources, sha256)
    assert sorted(path.name for path in target.iterdir()) == ["config.json", "tokenizer.json", "vocabulary.txt"]


def test_truncated_model_is_assembled_again(fake_packages, tmp_path: Path) -> None:
    sources, sha256 = fake_packages
    target = ensure_base_model(tmp_path / "cache", sources, sha256)
    whole = (target / "model.bin").read_bytes()
    (target / "model.bin").write_bytes(whole[:100])

    ensure_base_model(target, sources, sha256)
    assert (target / "model.bin").read_bytes() == whole


def test_racing_assemblies_all_end_with_one_whole_model(fake_packages, tmp_path: Path) -> None:
    sources, sha256 = fake_packages
    target = tmp_path / "cache"
    results: list[Path] = []
    threads = [
        threading.Thread(target=lambda: results.append(ensure_base_model(target, sources, sha256))) for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert results == [target] * 4
    assert (target / "model.bin").read_bytes() == b"first half " * 1000 + b"second half " * 1000
    assert not list(target.glob(".*.tmp"))


def test_missing_package_says_how_to_install_it() -> None:
    with pytest.raises(SpeechError, match=r"no-such-model-part1 is not installed.*\./dev\.sh setup"):
        find_sources(("no_such_model_part1", "no_such_model_part2"))


def test_missing_file_in_a_package_is_named(fake_packages, tmp_path: Path) -> None:
    sources, sha256 = fake_packages
    (sources.part1 / "tokenizer.json").unlink()
    with pytest.raises(SpeechError, match="tokenizer.json is missing"):
        ensure_base_model(tmp_path / "cache", ModelSources(sources.part1, sources.part2), sha256)


def test_unwritable_cache_is_one_clear_error(fake_packages, tmp_path: Path) -> None:
    sources, sha256 = fake_packages
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(SpeechError, match="cannot write the Whisper model into .*a-file"):
        ensure_base_model(blocker / "whisper-base", sources, sha256)
