"""Choosing speech engines by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from concierge.speech.base import SpeechError, Transcriber
from concierge.speech.espeak import EspeakSynthesizer
from concierge.speech.factory import make_synthesizer, make_transcriber
from concierge.speech.rhvoice import RHVoiceSynthesizer


def test_auto_falls_back_to_espeak_without_rhvoice(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(RHVoiceSynthesizer, "available", classmethod(lambda cls: False))
    synthesizer = make_synthesizer("auto", tmp_path)
    assert isinstance(synthesizer.inner, EspeakSynthesizer)
    assert synthesizer.synthesize("Bom dia.")


@pytest.mark.skipif(not RHVoiceSynthesizer.available(), reason="RHVoice Leticia-F123 is not installed")
def test_auto_prefers_rhvoice_when_installed(tmp_path: Path) -> None:
    assert make_synthesizer("auto", tmp_path).name == "rhvoice"


def test_unknown_engine_names_the_choices(tmp_path: Path) -> None:
    with pytest.raises(SpeechError, match="unknown speech synthesizer 'festival': choose one of auto, rhvoice, espeak"):
        make_synthesizer("festival", tmp_path)


def test_transcriber_is_configured_without_loading_its_model(tmp_path: Path) -> None:
    transcriber = make_transcriber("base", cache_dir=tmp_path / "never-written", beam_size=1)
    assert isinstance(transcriber, Transcriber)
    assert not (tmp_path / "never-written").exists()
