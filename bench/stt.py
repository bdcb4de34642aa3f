"""Benchmark: how long local Whisper takes per phone utterance, by beam size and CPU threads.

Utterances are gate phrases spoken by RHVoice Letícia and resampled to 8 kHz (the recorded
test utterance in tests/speech/data when RHVoice is absent). Each setting transcribes every
utterance `--repeat` times after one warm-up; prints median and p95 milliseconds and how
many key items (apartment numbers, names) were heard. Also times the model assembly.

    .venv/bin/python bench/stt.py --repeat 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from concierge.speech.rhvoice import RHVoiceSynthesizer
from concierge.speech.whisper import WhisperOptions, WhisperTranscriber, directory_prompt
from concierge.speech.whisper_model import ensure_base_model

TEST_UTTERANCE = Path(__file__).parent.parent / "tests" / "speech" / "data" / "entrega_apartamento_104.slin"
PHRASES = {
    "Oi, boa tarde, eu vim fazer uma entrega para o apartamento trezentos e um.": ["301"],
    "Meu nome é Carlos Pereira.": ["Carlos Pereira"],
    "Sou visita, vim ver o Joaquim do bloco B apartamento 1204.": ["Joaquim", "1204"],
    "Boa noite, o morador do apartamento cento e dois está?": ["102"],
    "É para a dona Maria Silva.": ["Maria Silva"],
    "Mercado Livre, entrega para o apartamento 804, bloco C.": ["804"],
}


@dataclass(frozen=True)
class Setting:
    """One way to run Whisper, to compare against the others."""

    beam: int
    threads: int
    prompt: bool

    @property
    def label(self) -> str:
        return f"beam {self.beam} threads {self.threads} {'prompt' if self.prompt else 'no prompt'}"


SETTINGS = [Setting(1, 2, True), Setting(5, 2, True), Setting(1, 1, True), Setting(1, 2, False)]


def utterances() -> list[tuple[bytes, list[str]]]:
    """Return (8 kHz slin, key items) pairs: RHVoice phrases, or the recorded test utterance."""
    if not RHVoiceSynthesizer.available():
        print("RHVoice absent: using the recorded test utterance only")
        return [(TEST_UTTERANCE.read_bytes(), ["104"])]
    voice = RHVoiceSynthesizer()
    return [(voice.synthesize(text), keys) for text, keys in PHRASES.items()]


def time_assembly() -> None:
    """Print how long assembling the model takes cold (fresh dir) and warm (marker present)."""
    with tempfile.TemporaryDirectory() as scratch:
        started = time.perf_counter()
        ensure_base_model(Path(scratch))
        cold = time.perf_counter() - started
        started = time.perf_counter()
        ensure_base_model(Path(scratch))
        warm = time.perf_counter() - started
    print(f"model assembly     cold {cold * 1000:.0f} ms, warm {warm * 1000:.2f} ms")


def run_settings(clips: list[tuple[bytes, list[str]]], repeat: int, prompt: str) -> None:
    """Time every setting on every clip, interleaved so a change in machine load hits all alike."""
    transcribers = {
        setting: WhisperTranscriber(WhisperOptions(beam_size=setting.beam, cpu_threads=setting.threads))
        for setting in SETTINGS
    }
    for setting, transcriber in transcribers.items():
        started = time.perf_counter()
        transcriber.transcribe(clips[0][0], prompt)
        print(f"{setting.label}: first call (load + warm-up) {(time.perf_counter() - started) * 1000:.0f} ms")
    times: dict[Setting, list[float]] = {setting: [] for setting in SETTINGS}
    texts: dict[Setting, list[str]] = {setting: [] for setting in SETTINGS}
    for round_number in range(repeat):
        for pcm, _keys in clips:
            for setting, transcriber in transcribers.items():
                transcript = transcriber.transcribe(pcm, prompt if setting.prompt else None)
                times[setting].append(transcript.elapsed_ms)
                if round_number == 0:
                    texts[setting].append(transcript.text)
    for setting in SETTINGS:
        report(setting, times[setting], texts[setting], [keys for _, keys in clips])


def report(setting: Setting, times: list[float], texts: list[str], keys: list[list[str]]) -> None:
    """Print one setting's timing and how many key items its transcripts contain."""
    heard = sum(item.lower() in text.lower() for text, items in zip(texts, keys, strict=True) for item in items)
    total = sum(len(items) for items in keys)
    p95 = statistics.quantiles(times, n=20)[18] if len(times) > 1 else times[0]
    median = statistics.median(times)
    print(f"{setting.label:28} median {median:5.0f} ms  p95 {p95:5.0f} ms  key items {heard}/{total}")
    for text in texts:
        print(f"    {text}")


def main() -> None:
    """Parse options, prepare utterances, time each setting."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="transcriptions of each utterance per setting")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    time_assembly()
    clips = utterances()
    prompt = directory_prompt(["Carlos Pereira", "Joaquim Barbosa", "Maria Silva"], ["102", "301", "804", "1204"])
    print(f"{len(clips)} utterances, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    run_settings(clips, args.repeat, prompt)


if __name__ == "__main__":
    main()
