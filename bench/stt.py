"""Benchmark: how long local Whisper takes per phone utterance, and what it hears.

Utterances are gate phrases spoken by RHVoice Letícia and resampled to 8 kHz (the recorded
test utterance in tests/speech/data when RHVoice is absent). Each setting transcribes every
utterance `--repeat` times after one warm-up; prints median and p95 milliseconds and how
many key items (apartment numbers, names) were heard. Also times the model assembly.

    .venv/bin/python bench/stt.py --repeat 3

The other modes use the recorded calls instead (every caller turn of fixtures/calls, cut at its
JSON start/end ±0.3 s, with the directory prompt of data/apartamentos.json), scored like
`scripts/make_fixtures.py --check`: key items (apartment in digits, names, intent word) kept,
near (spelling variant) or lost, and WER after accent/case/number normalization.

    .venv/bin/python bench/stt.py --nbest [SETTING ...] --repeat 5
        WhisperTranscriber itself (the production path) greedy and with N-best readings (b3n3 =
        beam 3 with 3 readings, b5n3, b5n5), and "before" (faster-whisper's own greedy decoding): wall and CPU ms per turn, key items in the best reading, and how often the
        turn's apartment number is in the best reading vs in any reading.
    .venv/bin/python bench/stt.py --no-speech [--no-prompt]
        Whisper's no-speech probability and the best reading's average log-prob on noise-only clips
        (phone-band white/pink/brown noise at -60 to -25 dBFS, sox noise, a dial tone, digital
        silence, the quiet gaps between fixture turns) and on the fixture turns, with what the
        no-speech rule would silence at several thresholds.

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

from concierge.speech.base import Transcript
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
        setting: WhisperTranscriber(WhisperOptions(beam_size=setting.beam, alternatives=0, cpu_threads=setting.threads))
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


def faster_whisper_decoding(options: WhisperOptions, prompt: str | None) -> dict[str, Any]:
    """faster-whisper `transcribe()` arguments for the telephony settings, greedy (what
    WhisperTranscriber used before it decoded through CTranslate2 itself): --chunk and
    --concurrency time faster-whisper's own path with them."""
    return {
        "language": options.language,
        "beam_size": options.beam_size,
        "temperature": 0.0,
        "condition_on_previous_text": False,
        "without_timestamps": True,
        "max_new_tokens": options.max_new_tokens,
        "vad_filter": False,
        "initial_prompt": prompt or None,
    }


def apartment_keys(turn: Turn) -> list[str]:
    """The turn's key items that are apartment numbers (digits)."""
    return [key for key in turn.keys if key.isdigit()]


def digits_in(text: str, number: str) -> bool:
    """Whether `number` appears in the digits-only text (the matrix's substring check)."""
    return number in "".join(ch for ch in text if ch.isdigit())


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
        decoding = {**faster_whisper_decoding(base.options, prompt), "chunk_length": chunk}
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
        decoding = faster_whisper_decoding(transcriber.options, prompt)
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


# --------------------------------------------------------------------------------------------
# --nbest: N-best readings, their cost and what they add
# --------------------------------------------------------------------------------------------

NBEST_SETTINGS: dict[str, WhisperOptions] = {
    "greedy": WhisperOptions(alternatives=0),
    "b3n3": WhisperOptions(alternatives=3),  # beam 3, 3 readings
    "b5n3": WhisperOptions(alternatives=3, beam_size=5),  # beam 5, 3 readings
    "b5n5": WhisperOptions(alternatives=5),  # beam 5, 5 readings
}


class FasterWhisperGreedy:
    """WhisperTranscriber as it was before N-best decoding: faster-whisper's own `transcribe()`
    (greedy, the telephony settings) on the same windowed shared model. The "before" of --nbest."""

    def __init__(self) -> None:
        self.inner = WhisperTranscriber(WhisperOptions(alternatives=0))

    def transcribe(self, pcm8k: bytes, prompt: str | None = None) -> Transcript:
        started = time.perf_counter()
        audio = pcm_to_float32(pcm8k, SAMPLE_RATE, WHISPER_RATE)
        segments, _info = self.inner._model().transcribe(audio, **faster_whisper_decoding(self.inner.options, prompt))
        text = " ".join(segment.text.strip() for segment in segments).strip()
        return Transcript(text, len(pcm8k) / 2 / SAMPLE_RATE, (time.perf_counter() - started) * 1000.0)


def run_nbest(repeat: int, names: list[str] | None) -> None:
    """Time every N-best setting of WhisperTranscriber (the production path) on every fixture
    turn, interleaved; report wall time per turn (all rounds, and each turn's fastest round, which
    is what a busy shared machine can still measure), CPU time (all threads of this process), key
    items in the best reading, and apartment numbers found in the best reading vs in any reading."""
    tools = fixture_tools()
    turns = fixture_turns(tools)
    prompt = full_directory_prompt()
    settings = [label for label in ("before", *NBEST_SETTINGS) if not names or label in names]
    transcribers = {
        label: FasterWhisperGreedy() if label == "before" else WhisperTranscriber(NBEST_SETTINGS[label])
        for label in settings
    }
    for transcriber in transcribers.values():  # load + warm-up
        transcriber.transcribe(turns[0].pcm, prompt)
    wall: dict[str, list[float]] = {label: [] for label in settings}
    cpu: dict[str, list[float]] = {label: [] for label in settings}
    heard: dict[str, list[Any]] = {label: [] for label in settings}
    loads = []
    for round_number in range(repeat):
        loads.append(os.getloadavg()[0])
        for turn in turns:
            for label, transcriber in transcribers.items():
                cpu_before = time.process_time()
                transcript = transcriber.transcribe(turn.pcm, prompt)
                cpu[label].append((time.process_time() - cpu_before) * 1000.0)
                wall[label].append(transcript.elapsed_ms)
                if round_number == 0:
                    heard[label].append(transcript)
    apartments = [(index, key) for index, turn in enumerate(turns) for key in apartment_keys(turn)]
    print(
        f"{len(turns)} fixture turns ({len(apartments)} say an apartment number), {repeat} rounds, "
        f"{os.cpu_count()} CPUs, load average {min(loads):.2f}-{max(loads):.2f}, directory prompt {len(prompt)} chars"
    )
    print("| setting | wall p50 ms | wall p95 ms | fastest of rounds p50 / p95 ms | CPU p50 ms | "
          "key items in best (ok/near/lost) | apartment in best | apartment in any reading | readings per turn |")
    print("|---|---|---|---|---|---|---|---|---|")
    for label in settings:
        score = Score()
        for turn, transcript in zip(turns, heard[label], strict=True):
            score.add(tools, turn, transcript.text)
        best = sum(digits_in(heard[label][i].text, key) for i, key in apartments)
        anywhere = sum(
            any(digits_in(text, key) for text in (heard[label][i].text, *heard[label][i].alternatives))
            for i, key in apartments
        )
        readings = statistics.mean(1 + len(t.alternatives) for t in heard[label])
        total = score.keys_ok + score.keys_near + score.keys_lost
        fastest = [min(wall[label][i :: len(turns)]) for i in range(len(turns))]  # per turn, the least disturbed round
        print(
            f"| {label} | {statistics.median(wall[label]):.0f} | {percentile(wall[label], 0.95):.0f} | "
            f"{statistics.median(fastest):.0f} / {percentile(fastest, 0.95):.0f} | {statistics.median(cpu[label]):.0f} | {score.keys_ok}/{total} / {score.keys_near} / {score.keys_lost} | "
            f"{best}/{len(apartments)} | {anywhere}/{len(apartments)} | {readings:.1f} |"
        )
    for index, key in apartments:
        print(f"  {turns[index].name} ({key}):")
        for label in settings:
            transcript = heard[label][index]
            print(f"    {label:20} {transcript.text!r}  alternatives {list(transcript.alternatives)}")


# --------------------------------------------------------------------------------------------
# --no-speech: Whisper's no-speech probability on noise alone and on speech
# --------------------------------------------------------------------------------------------


def noise_clips() -> list[tuple[str, bytes]]:
    """Noise-only 8 kHz slin clips, 1-4 s: white, pink and brown noise band-limited to
    300-3400 Hz (numpy, seeded) at several levels, sox's own pink/white/brown noise through the
    same band, the 425 Hz Brazilian dial tone, digital silence; and every quiet gap of at least
    1 s between the turns of the recorded calls (hiss, pink noise, zeros)."""
    import subprocess

    import numpy as np

    rng = np.random.default_rng(2024)
    clips: list[tuple[str, bytes]] = []

    def s16(x: Any) -> bytes:
        return np.clip(np.round(x * 32767), -32768, 32767).astype("<i2").tobytes()

    def band(n: int, exponent: float) -> Any:
        spectrum = np.fft.rfft(rng.standard_normal(n))
        freqs = np.fft.rfftfreq(n, 1.0 / SAMPLE_RATE)
        inside = (freqs >= 300) & (freqs <= 3400)
        y = np.fft.irfft(spectrum * np.where(inside, np.maximum(freqs, 1.0) ** -exponent, 0.0), n)
        return y / np.sqrt(np.mean(y**2))

    for colour, exponent in (("white", 0.0), ("pink", 0.5), ("brown", 1.0)):
        for level in (-60, -45, -35, -25):
            for seconds in (1.0, 2.5, 4.0):
                clips.append((f"{colour} {level} dBFS {seconds:.1f} s", s16(band(int(seconds * SAMPLE_RATE), exponent) * 10 ** (level / 20))))
    for colour in ("whitenoise", "pinknoise", "brownnoise"):
        for level, seconds in ((-40, 1.5), (-28, 3.0)):
            raw = subprocess.run(
                ["sox", "-R", "-V1", "-n", "-r", str(SAMPLE_RATE), "-c", "1", "-b", "16", "-e", "signed", "-t", "raw", "-",
                 "synth", str(seconds), colour, "sinc", "300-3400", "gain", "-n", str(level)],
                check=True, stdout=subprocess.PIPE,
            ).stdout
            clips.append((f"sox {colour} peak {level} dBFS {seconds:.1f} s", raw))
    tone = np.sin(2 * np.pi * 425 * np.arange(2 * SAMPLE_RATE) / SAMPLE_RATE) * 10 ** (-20 / 20)
    clips.append(("dial tone 425 Hz -20 dBFS 2.0 s", s16(tone)))
    clips.append(("digital silence 2.0 s", bytes(4 * SAMPLE_RATE)))
    for path in sorted(CALLS_DIR.glob("*.json")):
        audio_file = next((p for p in (path.with_suffix(".slin"), path.with_suffix(".wav")) if p.exists()), None)
        if audio_file is None:
            continue
        pcm = read_audio_file(audio_file)
        meta = json.loads(path.read_text(encoding="utf-8"))
        edges = [0.0] + [t for turn in meta["turns"] for t in (turn["start_seconds"], turn["end_seconds"])]
        edges.append(len(pcm) / 2 / SAMPLE_RATE)
        for start, end in zip(edges[::2], edges[1::2], strict=True):
            start, end = start + TURN_MARGIN_SECONDS, end - TURN_MARGIN_SECONDS
            dtmf = [d["at_seconds"] for d in meta.get("dtmf", [])]
            if end - start >= 1.0 and not any(start - 1 <= at <= end for at in dtmf):
                end = min(end, start + 4.0)
                clips.append((f"gap {path.stem} {start:.1f}-{end:.1f} s", pcm[int(start * SAMPLE_RATE) * 2 : int(end * SAMPLE_RATE) * 2]))
    return clips


def run_no_speech(with_prompt: bool) -> None:
    """Decode noise-only clips and the fixture turns with the no-speech rule off; print each
    clip's no_speech_prob, best average log-prob and text, the distributions, and what the rule
    (no_speech_prob > T and avg log-prob < -1) would silence for several T."""
    tools = fixture_tools()
    prompt = full_directory_prompt() if with_prompt else None
    transcriber = WhisperTranscriber(WhisperOptions(no_speech_threshold=1.0))
    groups = {"noise": noise_clips(), "speech": [(turn.name, turn.pcm) for turn in fixture_turns(tools)]}
    results: dict[str, list[tuple[str, float, float, str]]] = {}
    for group, clips in groups.items():
        results[group] = []
        for name, pcm in clips:
            window = transcriber._windows(pcm_to_float32(pcm, SAMPLE_RATE, WHISPER_RATE), prompt)[0]
            text = window.readings[0] if window.readings else ""
            results[group].append((name, window.no_speech_prob, window.avg_logprob, text))
            print(f"{group:6} {name:42} no_speech {window.no_speech_prob:.3f}  avg_logprob {window.avg_logprob:6.2f}  {text!r}")
    print(f"\nprompt: {'directory' if with_prompt else 'none'}")
    print("| clips | n | no_speech_prob min / p10 / p50 / p90 / max | avg_logprob min / p50 / max | non-empty text |")
    print("|---|---|---|---|---|")
    for group, rows in results.items():
        probs = sorted(r[1] for r in rows)
        logps = sorted(r[2] for r in rows)
        q = [percentile(probs, f) for f in (0.10, 0.50, 0.90)]
        print(
            f"| {group} | {len(rows)} | {probs[0]:.3f} / {q[0]:.3f} / {q[1]:.3f} / {q[2]:.3f} / {probs[-1]:.3f} | "
            f"{logps[0]:.2f} / {statistics.median(logps):.2f} / {logps[-1]:.2f} | {sum(bool(r[3]) for r in rows)} |"
        )
    print("| threshold T | noise clips silenced (rule) | noise clips with text left | speech turns silenced (rule) |")
    print("|---|---|---|---|")
    for threshold in (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8):
        def silenced(row: tuple[str, float, float, str], t: float = threshold) -> bool:
            return row[1] > t and row[2] < LOG_PROB_RULE
        noise_silenced = sum(silenced(r) for r in results["noise"])
        left = sum(bool(r[3]) and not silenced(r) for r in results["noise"])
        speech_silenced = [r[0] for r in results["speech"] if silenced(r)]
        print(f"| {threshold:.1f} | {noise_silenced}/{len(results['noise'])} | {left} | {len(speech_silenced)} {speech_silenced or ''} |")


LOG_PROB_RULE = -1.0


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
    parser.add_argument("--nbest", nargs="*", metavar="SETTING", help=f"N-best settings on the recorded calls (all, or some of: before, {', '.join(NBEST_SETTINGS)})")
    parser.add_argument("--no-speech", action="store_true", help="no-speech probability on noise-only clips and on speech turns")
    parser.add_argument("--no-prompt", action="store_true", help="--no-speech without the directory prompt")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.nbest is not None:
        run_nbest(args.repeat, args.nbest)
        return
    if args.no_speech:
        run_no_speech(not args.no_prompt)
        return
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
