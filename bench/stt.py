"""Benchmark: how long local Whisper takes per phone utterance, by beam size and CPU threads.

Utterances are gate phrases spoken by RHVoice Letícia and resampled to 8 kHz (the recorded
test utterance in tests/speech/data when RHVoice is absent). Each setting transcribes every
utterance `--repeat` times after one warm-up; prints median and p95 milliseconds and how
many key items (apartment numbers, names) were heard. Also times the model assembly.

    .venv/bin/python bench/stt.py --repeat 3

Two more modes use the recorded calls instead (every caller turn of fixtures/calls, cut at its
JSON start/end ±0.3 s, with the directory prompt of data/apartamentos.json), scored like
`scripts/make_fixtures.py --check`: key items (apartment in digits, names, intent word) kept,
near (spelling variant) or lost, and WER after accent/case/number normalization.

    .venv/bin/python bench/stt.py --chunk 30 15 10 8
        Each N two ways: "arg" = faster-whisper's transcribe(chunk_length=N) (our
        transcribe(chunk_length=N)), and "window" = the encoder really fed N s of features
        (a model copy whose encode() trims faster-whisper's fixed 30 s padding to N s).
    .venv/bin/python bench/stt.py --concurrency 1 2 4 --workers 1 2 --threads 1 2 [--window 30 15]
        k transcriptions started at the same moment on one shared model (k threads, a barrier),
        for every num_workers x cpu_threads (x window): per-call latency, throughput, CPU per call.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from concierge.audio.pcm import SAMPLE_RATE, pcm_to_float32, read_audio_file

from concierge.speech.rhvoice import RHVoiceSynthesizer
from concierge.speech.whisper import WHISPER_RATE, WhisperOptions, WhisperTranscriber, directory_prompt, windowed
from concierge.speech.whisper_model import ensure_base_model

ROOT = Path(__file__).resolve().parent.parent
TEST_UTTERANCE = ROOT / "tests" / "speech" / "data" / "entrega_apartamento_104.slin"
CALLS_DIR = ROOT / "fixtures" / "calls"
DIRECTORY = ROOT / "data" / "apartamentos.json"
TURN_MARGIN_SECONDS = 0.3
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


# --------------------------------------------------------------------------------------------
# Recorded calls: turns, scoring
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Turn:
    """One caller turn of a recorded call, cut as an endpointer with pre-roll would."""

    name: str
    pcm: bytes
    text: str
    keys: tuple[str, ...]

    @property
    def seconds(self) -> float:
        return len(self.pcm) / 2 / SAMPLE_RATE


def fixture_tools() -> ModuleType:
    """Return scripts/make_fixtures.py as a module: its call scripts (key items) and scoring."""
    spec = importlib.util.spec_from_file_location("make_fixtures", ROOT / "scripts" / "make_fixtures.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_fixtures"] = module  # dataclasses look their module up while defining
    spec.loader.exec_module(module)
    return module


def fixture_turns(tools: ModuleType) -> list[Turn]:
    """Return every caller turn of the recorded calls (8 kHz slin) with its key items."""
    turns: list[Turn] = []
    for call in tools.CALLS:
        meta = json.loads((CALLS_DIR / f"{call.name}.json").read_text(encoding="utf-8"))
        pcm = read_audio_file(tools.audio_path(call))  # the 16 kHz WAV comes back as 8 kHz
        says = [item for item in call.script if isinstance(item, tools.Say)]
        for index, (turn, say) in enumerate(zip(meta["turns"], says, strict=True), 1):
            start = max(0, int((turn["start_seconds"] - TURN_MARGIN_SECONDS) * SAMPLE_RATE)) * 2
            end = min(len(pcm), int((turn["end_seconds"] + TURN_MARGIN_SECONDS) * SAMPLE_RATE) * 2)
            turns.append(Turn(f"{call.name}#{index}", pcm[start:end], turn["text"], say.keys))
    return turns


def full_directory_prompt() -> str:
    """The prompt the concierge gives Whisper: `directory_prompt` of data/apartamentos.json."""
    entries = json.loads(DIRECTORY.read_text(encoding="utf-8"))
    names = [name for entry in entries for name in entry["residents"]]
    return directory_prompt(names, [entry["apartment_number"] for entry in entries])


@dataclass
class Score:
    """Accuracy of one setting over the turns."""

    keys_ok: int = 0
    keys_near: int = 0
    keys_lost: int = 0
    errors: int = 0
    words: int = 0
    lost: list[str] = field(default_factory=list)

    def add(self, tools: ModuleType, turn: Turn, hypothesis: str) -> None:
        ref, hyp = tools.normalize(turn.text), tools.normalize(hypothesis)
        self.errors += tools.edit_distance(ref, hyp)
        self.words += len(ref)
        for key in turn.keys:
            kind, _what = tools.classify(hyp, key)
            if kind == "ok":
                self.keys_ok += 1
            elif kind == "near":
                self.keys_near += 1
            else:
                self.keys_lost += 1
                self.lost.append(f"{turn.name}:{key}")

    @property
    def summary(self) -> str:
        total = self.keys_ok + self.keys_near + self.keys_lost
        wer = 100.0 * self.errors / max(1, self.words)
        return (
            f"keys ok {self.keys_ok}/{total} near {self.keys_near} lost {self.keys_lost}  "
            f"WER {wer:4.1f} % ({self.errors}/{self.words})"
        )


def percentile(values: list[float], fraction: float) -> float:
    """Return the `fraction` quantile (inclusive method), or the only value."""
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(fraction * 100) - 1]


# --------------------------------------------------------------------------------------------
# --chunk: a shorter window
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChunkSetting:
    """A window length and how it is applied ("arg": chunk_length only; "window": encoder)."""

    seconds: int
    how: str

    @property
    def label(self) -> str:
        return f"{self.how:6} {self.seconds:2d} s"


def run_chunks(windows: list[int], repeat: int, threads: int) -> None:
    """Time and score every window length both ways on every fixture turn, interleaved."""
    tools = fixture_tools()
    turns = fixture_turns(tools)
    prompt = full_directory_prompt()
    longest = max(turn.seconds for turn in turns)
    print(f"{len(turns)} turns, {min(t.seconds for t in turns):.2f}-{longest:.2f} s (with ±0.3 s), prompt {len(prompt)} chars")
    base = WhisperTranscriber(WhisperOptions(cpu_threads=threads, window_seconds=30))
    base.load()
    model = base._model()  # the shared faster-whisper model; every setting decodes through it
    settings = [ChunkSetting(seconds, how) for seconds in windows for how in ("arg", "window")]
    decoders: dict[ChunkSetting, tuple[Any, dict[str, Any]]] = {}
    for setting in settings:
        chunk = None if setting.seconds == 30 else setting.seconds
        decoding = {**base._decoding(prompt), "chunk_length": chunk}
        decoders[setting] = (model if setting.how == "arg" else windowed(model, setting.seconds), decoding)
    times: dict[ChunkSetting, list[float]] = {setting: [] for setting in settings}
    texts: dict[ChunkSetting, list[str]] = {setting: [] for setting in settings}
    audio = [pcm_to_float32(turn.pcm, SAMPLE_RATE, WHISPER_RATE) for turn in turns]
    for setting in settings:  # warm-up
        decoder, decoding = decoders[setting]
        list(decoder.transcribe(audio[0], **decoding)[0])
    for round_number in range(repeat):
        for samples in audio:
            for setting in settings:
                decoder, decoding = decoders[setting]
                started = time.perf_counter()
                segments, _info = decoder.transcribe(samples, **decoding)
                text = " ".join(segment.text.strip() for segment in segments).strip()
                times[setting].append((time.perf_counter() - started) * 1000.0)
                if round_number == 0:
                    texts[setting].append(text)
    reference = texts[settings[0]]
    print(f"\ncpu_threads {threads}, {repeat} rounds, load average {os.getloadavg()[0]:.2f}")
    print("| window | median ms | p95 ms | key items ok / near / lost | WER | transcripts ≠ arg 30 s |")
    print("|---|---|---|---|---|---|")
    for setting in settings:
        score = Score()
        for turn, text in zip(turns, texts[setting], strict=True):
            score.add(tools, turn, text)
        changed = sum(a != b for a, b in zip(reference, texts[setting], strict=True))
        total = score.keys_ok + score.keys_near + score.keys_lost
        print(
            f"| {setting.label} | {statistics.median(times[setting]):.0f} | {percentile(times[setting], 0.95):.0f} | "
            f"{score.keys_ok}/{total} / {score.keys_near} / {score.keys_lost} | "
            f"{100.0 * score.errors / score.words:.1f} % ({score.errors}/{score.words}) | {changed} |"
        )
    for setting in settings:
        diffs = [
            f"    {turn.name}: {text!r}  (30 s: {ref!r})"
            for turn, text, ref in zip(turns, texts[setting], reference, strict=True)
            if text != ref
        ]
        score = Score()
        for turn, text in zip(turns, texts[setting], strict=True):
            score.add(tools, turn, text)
        print(f"{setting.label}: lost {', '.join(score.lost) or 'none'}")
        print("\n".join(diffs))


# --------------------------------------------------------------------------------------------
# --concurrency: one shared model, several calls at once
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelSetting:
    """How the shared model is loaded and how long its encoder window is."""

    workers: int
    threads: int
    window: int


def run_concurrency(levels: list[int], workers: list[int], threads: list[int], rounds: int, windows: list[int]) -> None:
    """Start k transcriptions together (k threads behind a barrier) on one shared model, for
    every setting and k, `rounds` times, interleaved so a change in machine load hits all alike."""
    tools = fixture_tools()
    turns = fixture_turns(tools)
    prompt = full_directory_prompt()
    audio = [pcm_to_float32(turn.pcm, SAMPLE_RATE, WHISPER_RATE) for turn in turns]
    settings = [ModelSetting(w, t, n) for n in windows for w in workers for t in threads]
    decoders: dict[ModelSetting, tuple[Any, dict[str, Any]]] = {}
    for setting in settings:
        transcriber = WhisperTranscriber(
            WhisperOptions(cpu_threads=setting.threads, num_workers=setting.workers, window_seconds=setting.window)
        )
        decoder = transcriber._model()
        decoding = transcriber._decoding(prompt)
        decoders[setting] = (decoder, decoding)
        for samples in audio[:2]:  # warm-up
            list(decoder.transcribe(samples, **decoding)[0])
    latencies: dict[tuple[ModelSetting, int], list[float]] = {(s, k): [] for s in settings for k in levels}
    walls: dict[tuple[ModelSetting, int], float] = dict.fromkeys(latencies, 0.0)
    cpu: dict[tuple[ModelSetting, int], float] = dict.fromkeys(latencies, 0.0)
    loads: list[float] = []
    next_turn = 0
    for _round in range(rounds):
        loads.append(os.getloadavg()[0])
        for level in levels:
            batch = [(next_turn + i) % len(audio) for i in range(level)]
            next_turn += level
            for setting in settings:
                decoder, decoding = decoders[setting]
                barrier = threading.Barrier(level)
                results: list[tuple[float, float]] = []

                def one(index: int, barrier: threading.Barrier = barrier, results: list = results) -> None:
                    barrier.wait()
                    started = time.perf_counter()
                    segments, _info = decoder.transcribe(audio[index], **decoding)
                    list(segments)
                    results.append((started, time.perf_counter()))

                callers = [threading.Thread(target=one, args=(index,)) for index in batch]
                cpu_before = time.process_time()
                for caller in callers:
                    caller.start()
                for caller in callers:
                    caller.join()
                cpu[setting, level] += time.process_time() - cpu_before
                latencies[setting, level] += [(end - start) * 1000.0 for start, end in results]
                walls[setting, level] += max(end for _, end in results) - min(start for start, _ in results)
    print(
        f"{len(turns)} turns, {rounds} rounds, {os.cpu_count()} CPUs, load average during the run "
        f"{min(loads):.2f}-{max(loads):.2f} (this process adds up to ~2)"
    )
    print("| window | num_workers | cpu_threads | at once | median ms | p95 ms | max ms | turns/s | CPU ms/turn |")
    print("|---|---|---|---|---|---|---|---|---|")
    for setting in settings:
        for level in levels:
            times = latencies[setting, level]
            print(
                f"| {setting.window} s | {setting.workers} | {setting.threads} | {level} | {statistics.median(times):.0f} | "
                f"{percentile(times, 0.95):.0f} | {max(times):.0f} | {len(times) / walls[setting, level]:.2f} | "
                f"{1000.0 * cpu[setting, level] / len(times):.0f} |"
            )


def main() -> None:
    """Parse options, then run the phrase benchmark, the window comparison or the concurrency one."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="transcriptions of each utterance per setting")
    parser.add_argument("--chunk", type=int, nargs="+", metavar="N", help="compare windows of N seconds on the recorded calls")
    parser.add_argument("--concurrency", type=int, nargs="+", metavar="K", help="K transcriptions at once on one model")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="num_workers values (--concurrency)")
    parser.add_argument("--threads", type=int, nargs="+", help="cpu_threads values (--concurrency: 1 2; --chunk: 2)")
    parser.add_argument("--rounds", type=int, default=8, help="batches of K per setting (--concurrency)")
    parser.add_argument("--window", type=int, nargs="+", default=[30], help="encoder windows in seconds (--concurrency)")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.chunk:
        run_chunks(args.chunk, args.repeat, (args.threads or [2])[0])
        return
    if args.concurrency:
        run_concurrency(args.concurrency, args.workers, args.threads or [1, 2], args.rounds, args.window)
        return
    time_assembly()
    clips = utterances()
    prompt = directory_prompt(["Carlos Pereira", "Joaquim Barbosa", "Maria Silva"], ["102", "301", "804", "1204"])
    print(f"{len(clips)} utterances, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    run_settings(clips, args.repeat, prompt)


if __name__ == "__main__":
    main()
