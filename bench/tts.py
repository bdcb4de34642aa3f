"""Benchmark: synthesis time per reply for each installed engine, uncached and cached.

For espeak-ng and (if installed) RHVoice, renders typical concierge replies: the engine's
first call (start-up included), then uncached renders, memory-cache hits, and disk-cache
hits from a fresh cache object (as after a restart). Prints median and p95 milliseconds
and the real-time factor of the uncached renders.

    .venv/bin/python bench/tts.py --repeat 5
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from concierge.speech.base import Synthesizer
from concierge.speech.cache import CachedSynthesizer
from concierge.speech.espeak import EspeakSynthesizer
from concierge.speech.rhvoice import RHVoiceSynthesizer

REPLIES = [
    "Condomínio Apoena, em que posso ajudar?",
    "Qual é o seu nome, por favor?",
    "Entrega para o apartamento cento e quatro. Vou avisar a moradora, um momento.",
    "Não encontrei esse apartamento. Pode repetir o número, por favor?",
    "Obrigado, Carlos. Estou chamando o morador do apartamento trezentos e um; aguarde na linha.",
]


def engines() -> list[Callable[[], Synthesizer]]:
    """Return constructors of the engines installed here."""
    found: list[Callable[[], Synthesizer]] = [EspeakSynthesizer]
    if RHVoiceSynthesizer.available():
        found.append(RHVoiceSynthesizer)
    else:
        print("RHVoice absent: espeak only")
    return found


def timed_ms(call: Callable[[str], object], text: str) -> float:
    started = time.perf_counter()
    call(text)
    return (time.perf_counter() - started) * 1000


def summary(times: list[float]) -> str:
    p95 = statistics.quantiles(times, n=20)[18] if len(times) > 1 else times[0]
    return f"median {statistics.median(times):8.2f} ms  p95 {p95:8.2f} ms"


def bench_engine(make: Callable[[], Synthesizer], repeat: int, cache_dir: Path) -> None:
    """Print first-call, uncached, memory-hit and disk-hit times for one engine."""
    engine = make()
    first = timed_ms(engine.synthesize, REPLIES[0])
    uncached: list[float] = []
    audio_seconds = 0.0
    for _ in range(repeat):
        for text in REPLIES:
            started = time.perf_counter()
            audio_seconds += len(engine.synthesize(text)) / 16000
            uncached.append((time.perf_counter() - started) * 1000)
    cached = CachedSynthesizer(engine, cache_dir)
    for text in REPLIES:
        cached.synthesize(text)
    memory = [timed_ms(cached.synthesize, text) for _ in range(repeat) for text in REPLIES]
    disk = [timed_ms(CachedSynthesizer(engine, cache_dir).synthesize, text) for _ in range(repeat) for text in REPLIES]
    print(f"{engine.name} ({engine.voice}): first call {first:.0f} ms")
    print(f"  uncached     {summary(uncached)}  real-time factor {sum(uncached) / 1000 / audio_seconds:.3f}")
    print(f"  memory hit   {summary(memory)}")
    print(f"  disk hit     {summary(disk)}")


def main() -> None:
    """Parse options and benchmark every installed engine."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="renders of each reply per measurement")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        for make in engines():
            bench_engine(make, args.repeat, Path(scratch))


if __name__ == "__main__":
    main()
