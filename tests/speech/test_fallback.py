"""The voice's spare, with real engines: RHVoice failing (its program exits with an error, as when
its voice data is broken) has espeak-ng say the sentence, logged; once RHVoice works again it
speaks again, and the spare's audio was never cached as RHVoice's."""

from __future__ import annotations

import logging
import shutil
import stat
from pathlib import Path

import pytest

from concierge.speech.cache import CachedSynthesizer
from concierge.speech.espeak import EspeakSynthesizer
from concierge.speech.factory import make_synthesizer
from concierge.speech.fallback import FallbackSynthesizer
from concierge.speech.rhvoice import RHVoiceSynthesizer

needs_rhvoice = pytest.mark.skipif(not RHVoiceSynthesizer.available(), reason="RHVoice Leticia-F123 is not installed")


def breakable_rhvoice(folder: Path) -> tuple[RHVoiceSynthesizer, Path]:
    """The real RHVoice-test behind a wrapper that fails while `broken` exists."""
    broken = folder / "broken"
    wrapper = folder / "RHVoice-test"
    wrapper.write_text(
        "#!/bin/sh\n"
        f'if [ -e "{broken}" ]; then echo "RHVoice: cannot load voice data" >&2; exit 1; fi\n'
        f'exec {shutil.which("RHVoice-test")} "$@"\n'
    )
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IEXEC)
    return RHVoiceSynthesizer(program=str(wrapper)), broken


def same_rendering(a: bytes, b: bytes) -> bool:
    """One engine's two renderings of a sentence: the same length to within a 20 ms frame (espeak-ng
    does not repeat itself sample for sample; the two voices differ by 0.2 s on this sentence)."""
    return abs(len(a) - len(b)) <= 320


@needs_rhvoice
def test_a_sentence_rhvoice_cannot_say_is_said_by_espeak_and_rhvoice_speaks_again_once_it_can(tmp_path: Path, caplog):
    rhvoice, broken = breakable_rhvoice(tmp_path)
    voice = FallbackSynthesizer(CachedSynthesizer(rhvoice, tmp_path / "cache"), CachedSynthesizer(EspeakSynthesizer(), tmp_path / "cache"))
    sentence = "O morador do apartamento cento e quatro já foi avisado."
    broken.touch()
    with caplog.at_level(logging.WARNING, "concierge.speech.fallback"):
        spoken = voice.synthesize(sentence)
    assert same_rendering(spoken, EspeakSynthesizer().synthesize(sentence)), "espeak-ng said it"
    assert voice.failures == 1
    assert "rhvoice failed (RHVoice failed (exit 1): RHVoice: cannot load voice data); espeak speaks instead" in caplog.text
    broken.unlink()
    again = voice.synthesize(sentence)
    assert same_rendering(again, RHVoiceSynthesizer().synthesize(sentence)), "RHVoice again, not espeak-ng's audio from the cache"
    assert not same_rendering(again, spoken)
    assert voice.failures == 1


@needs_rhvoice
def test_the_configured_local_voice_has_espeak_as_its_spare_and_espeak_has_none(tmp_path: Path):
    voice = make_synthesizer("auto", tmp_path)
    assert isinstance(voice, FallbackSynthesizer) and (voice.name, voice.spare.name) == ("rhvoice", "espeak")
    assert isinstance(make_synthesizer("espeak", tmp_path), CachedSynthesizer)
