"""The synthesis cache: memory LRU plus atomic disk entries keyed by engine, voice and text."""

from __future__ import annotations

from pathlib import Path

from concierge.speech.base import Synthesizer
from concierge.speech.cache import CachedSynthesizer


class CountingSynthesizer:
    """A real, deterministic synthesizer (one sample per character) that counts its renderings."""

    def __init__(self, name: str = "counting", voice: str = "v1") -> None:
        self.name = name
        self.voice = voice
        self.calls = 0

    def synthesize(self, text: str) -> bytes:
        self.calls += 1
        return b"".join(ord(char).to_bytes(2, "little") for char in f"{self.voice}:{text}")


def test_repeated_text_is_rendered_once_and_returned_identically(tmp_path: Path) -> None:
    inner = CountingSynthesizer()
    cache = CachedSynthesizer(inner, tmp_path)
    assert isinstance(cache, Synthesizer)

    first = cache.synthesize("Um momento, por favor.")
    second = cache.synthesize("Um momento, por favor.")

    assert first == second == CountingSynthesizer().synthesize("Um momento, por favor.")
    assert inner.calls == 1


def test_disk_entries_serve_a_new_process_without_rendering(tmp_path: Path) -> None:
    original = CachedSynthesizer(CountingSynthesizer(), tmp_path).synthesize("Bom dia.")
    inner = CountingSynthesizer()

    assert CachedSynthesizer(inner, tmp_path).synthesize("Bom dia.") == original
    assert inner.calls == 0
    assert not list(tmp_path.rglob("*.tmp"))


def test_other_voice_or_engine_does_not_reuse_a_rendering(tmp_path: Path) -> None:
    CachedSynthesizer(CountingSynthesizer(voice="v1"), tmp_path).synthesize("Bom dia.")
    other_voice, other_engine = CountingSynthesizer(voice="v2"), CountingSynthesizer(name="other")

    CachedSynthesizer(other_voice, tmp_path).synthesize("Bom dia.")
    CachedSynthesizer(other_engine, tmp_path).synthesize("Bom dia.")
    assert (other_voice.calls, other_engine.calls) == (1, 1)


def test_memory_keeps_only_the_most_recent_renderings() -> None:
    inner = CountingSynthesizer()
    cache = CachedSynthesizer(inner, cache_dir=None, max_entries=2)
    for text in ("um", "dois", "um", "três"):
        cache.synthesize(text)
    assert inner.calls == 3

    cache.synthesize("um")
    cache.synthesize("dois")
    assert inner.calls == 4


def test_unwritable_cache_still_speaks(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache folder should be")
    inner = CountingSynthesizer()

    assert CachedSynthesizer(inner, blocker).synthesize("Bom dia.") == CountingSynthesizer().synthesize("Bom dia.")
