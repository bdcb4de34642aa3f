#!/usr/bin/env python3
"""The apartment-number matrix: how Whisper base writes spoken apartment numbers on a phone line.

For a deterministic set of apartment numbers (2-digit 11–98, 3-digit floor+unit such as 304 or
316, 4-digit such as 1102 or 1504; with a share of 6s, said "meia" half of the time digit by
digit), each is spoken three ways:

- ``words``: the number in words ("trezentos e dezesseis", "mil cento e dois");
- ``digits``: digit by digit ("três um seis", or "três um meia");
- ``carrier``: in words inside a typical gate sentence ("é para o apartamento trezentos e
  dezesseis", "entrega no quinhentos e quatro").

Each is rendered with RHVoice Letícia-F123 (rate varied 94–106 %), put through a phone band
with sox (``rate 8000``, ``sinc 300-3400``), framed by 0.3 s of line hiss (an endpointer's
pre-roll and tail), mixed with band-limited pink noise at 18 dB SNR for a third of the clips,
and transcribed with the project's ``WhisperTranscriber`` and a ``directory_prompt`` of a
plausible directory (residents' names and ~30 apartment numbers from the matrix; the spoken
number is in the prompt for half of the numbers, column ``in_prompt``). Three decodings per
clip, so the options can be compared: beam 5 with 5 readings (``transcript`` +
``alternatives``), greedy (``greedy``), and beam 3 with 3 readings (``b3`` + ``b3_alternatives``),
from one encoder pass (the clips are single encoder windows); also the beam-5 window's
``no_speech_prob`` and best ``avg_logprob`` with the no-speech rule applied as in ``transcribe``.
The 900 clips took 63 min (4.2 s a clip) on the shared 2-core machine at load 5-10; RHVoice
renders ahead in a thread.

Writes ``bench/data/number_matrix.tsv`` (appending; clips already in the file are skipped, so an
interrupted run resumes), then prints, per form, how often the number's digits appear in the
digits-only text of the greedy transcript, the best reading, and any reading.

    .venv/bin/python scripts/number_matrix.py [--limit N] [--summary-only]

The pt-BR number words are written here on purpose (not the brain's reader): the matrix must
not share the code it is meant to test.
"""

from __future__ import annotations

import argparse
import csv
import random
import re
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

OUT = ROOT / "bench" / "data" / "number_matrix.tsv"
RATE = 8000
VOICE = "Leticia-F123"
SEED = 20240611
QUOTAS = {2: 45, 3: 150, 4: 105}
NOISE_SNR_DB = 18.0
LINE_HISS_DBFS = -60.0
PAD_SECONDS = 0.3
SPEECH_DBFS = -20.0
PROMPT_APARTMENTS = 30
FIELDS = (
    "number", "form", "spoken_text", "noise", "transcript", "alternatives",
    "in_prompt", "rate", "greedy", "b3", "b3_alternatives", "no_speech_prob", "avg_logprob",
)
FORMS = ("words", "digits", "carrier")
NAMES = (
    "Ana Beatriz Souza", "Roberto Almeida", "Francisca Oliveira", "Joana Prado", "Raimundo Nonato Ferreira",
    "Maria Silva", "Fernanda Costa", "Luciana Martins", "Beatriz Andrade", "Júlia Mendes", "Helena Vasconcelos",
    "João Santos", "Maria Carvalho", "Antônio Pereira", "Tereza Gomes", "Camila Ribeiro", "Caio Nogueira",
    "Marcelo Duarte", "Ana Clara Teixeira", "Gabriel Moreira", "Joaquim Barbosa",
)
CARRIERS = (
    "é para o apartamento {n}",
    "entrega no {n}",
    "vim visitar o morador do {n}",
    "boa tarde, encomenda para o apartamento {n}, por favor",
    "é do apartamento {n}",
    "tenho uma entrega para o {n}",
    "oi, vim ver a moradora do apartamento {n}",
    "o pedido é para o {n}",
)

# --------------------------------------------------------------------------------------------
# pt-BR numbers in words
# --------------------------------------------------------------------------------------------

UNITS = ("zero", "um", "dois", "três", "quatro", "cinco", "seis", "sete", "oito", "nove")
TEENS = ("dez", "onze", "doze", "treze", "catorze", "quinze", "dezesseis", "dezessete", "dezoito", "dezenove")
TENS = ("", "", "vinte", "trinta", "quarenta", "cinquenta", "sessenta", "setenta", "oitenta", "noventa")
HUNDREDS = ("", "cento", "duzentos", "trezentos", "quatrocentos", "quinhentos", "seiscentos", "setecentos",
            "oitocentos", "novecentos")


def below_thousand(n: int) -> str:
    """1–999 in words: "cem", "cento e dois", "trezentos e dezesseis", "quarenta e dois"."""
    if n == 100:
        return "cem"
    hundreds, rest = divmod(n, 100)
    parts = [HUNDREDS[hundreds]] if hundreds else []
    if rest >= 20:
        tens, unit = divmod(rest, 10)
        parts.append(TENS[tens] + (f" e {UNITS[unit]}" if unit else ""))
    elif rest >= 10:
        parts.append(TEENS[rest - 10])
    elif rest:
        parts.append(UNITS[rest])
    return " e ".join(parts)


def in_words(n: int) -> str:
    """0–9999 in pt-BR words: "mil cento e dois", "mil e oito", "dois mil e cem"."""
    if n == 0:
        return "zero"
    thousands, rest = divmod(n, 1000)
    if not thousands:
        return below_thousand(rest)
    head = "mil" if thousands == 1 else f"{below_thousand(thousands)} mil"
    if not rest:
        return head
    joiner = " e " if rest < 100 or rest % 100 == 0 else " "
    return head + joiner + below_thousand(rest)


def digit_by_digit(n: int, meia: bool) -> str:
    """ "três um seis", or with `meia` "três um meia" (how 6 is said on the phone)."""
    return " ".join("meia" if meia and d == "6" else UNITS[int(d)] for d in str(n))


# --------------------------------------------------------------------------------------------
# The matrix
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Clip:
    number: int
    form: str
    spoken_text: str
    noise: int
    in_prompt: int
    rate: int
    seed: int

    @property
    def key(self) -> tuple[str, str]:
        return str(self.number), self.form


def pick_numbers(rng: random.Random) -> list[int]:
    """A realistic mix, by quota: 45 2-digit (11–98), 150 3-digit floor+unit (floors 1–9),
    105 4-digit (floors 10–20); units mostly 01–08, some 09–12 and teens 13–18 (113, 316, 417);
    in each group at least a fifth have a 6 (for "meia")."""

    def draw(digits: int) -> int:
        if digits == 2:
            return rng.randint(11, 98)
        floor = rng.randint(1, 9) if digits == 3 else rng.randint(10, 20)
        unit = rng.choices((rng.randint(1, 8), rng.randint(9, 12), rng.randint(13, 18)), weights=(70, 10, 20))[0]
        return floor * 100 + unit

    numbers: list[int] = []
    for digits, quota in QUOTAS.items():
        picked: set[int] = set()
        while sum("6" in str(n) for n in picked) < round(quota * 0.2):
            if "6" in str(n := draw(digits)):
                picked.add(n)
        while len(picked) < quota:
            picked.add(draw(digits))
        numbers += sorted(picked)
    rng.shuffle(numbers)
    return numbers


def build_clips(numbers: list[int], rng: random.Random) -> list[Clip]:
    """Three forms per number; noise on a third of the clips, in-prompt on half of the numbers,
    "meia" for every other number with a 6, carrier sentences in rotation."""
    clips: list[Clip] = []
    sixes = 0
    for index, number in enumerate(numbers):
        meia = False
        if "6" in str(number):
            meia = sixes % 2 == 0
            sixes += 1
        in_prompt = int(index % 2 == 0)
        spoken = {
            "words": in_words(number),
            "digits": digit_by_digit(number, meia),
            "carrier": CARRIERS[index % len(CARRIERS)].format(n=in_words(number)),
        }
        for form in FORMS:
            clips.append(Clip(number, form, spoken[form], int(rng.random() < 1 / 3), in_prompt,
                              rng.choice((94, 97, 100, 103, 106)), rng.randrange(1 << 30)))
    return clips


def directory_for(clip: Clip, numbers: list[int]) -> list[str]:
    """~30 apartments of a plausible directory: the matrix's numbers, seeded by the clip, with
    the spoken number among them only when `in_prompt` (at a random place)."""
    rng = random.Random(clip.seed)
    others = [n for n in numbers if n != clip.number]
    picked = rng.sample(others, PROMPT_APARTMENTS - clip.in_prompt)
    if clip.in_prompt:
        picked.insert(rng.randrange(len(picked) + 1), clip.number)
    return [str(n) for n in sorted(picked)]


# --------------------------------------------------------------------------------------------
# Audio
# --------------------------------------------------------------------------------------------


def render(clip: Clip, workdir: Path) -> bytes:
    """RHVoice -> phone band -> speech at -20 dBFS, 0.3 s of hiss on each side, optional pink
    noise at 18 dB SNR -> 8 kHz s16le."""
    wav = workdir / f"{clip.number}-{clip.form}.wav"
    subprocess.run(["RHVoice-test", "-p", VOICE, "-r", str(clip.rate), "-o", str(wav)],
                   input=clip.spoken_text.encode(), check=True, stdout=subprocess.DEVNULL)
    raw = subprocess.run(
        ["sox", "-V1", str(wav), "-t", "raw", "-e", "floating-point", "-b", "32", "-L", "-c", "1", "-",
         "rate", str(RATE), "sinc", "300-3400"],
        check=True, stdout=subprocess.PIPE,
    ).stdout
    wav.unlink()
    speech = trim(np.frombuffer(raw, dtype="<f4").astype(np.float64))
    speech *= 10 ** (SPEECH_DBFS / 20) / rms(speech)
    pad = np.zeros(int(PAD_SECONDS * RATE))
    audio = np.concatenate([pad, speech, pad])
    audio += band_noise(len(audio), clip.seed, pink=False) * 10 ** (LINE_HISS_DBFS / 20)
    if clip.noise:
        audio += band_noise(len(audio), clip.seed + 1, pink=True) * rms(speech) / 10 ** (NOISE_SNR_DB / 20)
    audio *= min(1.0, 0.89 / float(np.max(np.abs(audio))))
    return np.clip(np.round(audio * 32767), -32768, 32767).astype("<i2").tobytes()


def trim(x: np.ndarray, floor_db: float = -40.0) -> np.ndarray:
    """Cut the synthesizer's own silence: 10 ms frames quieter than the peak frame + floor_db."""
    hop = RATE // 100
    frames = np.sqrt(np.mean(x[: len(x) // hop * hop].reshape(-1, hop) ** 2, axis=1))
    loud = np.nonzero(frames > frames.max() * 10 ** (floor_db / 20))[0]
    return x[max(0, loud[0] * hop - 240) : (loud[-1] + 1) * hop + 240]


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x**2)))


def band_noise(n: int, seed: int, pink: bool) -> np.ndarray:
    """Unit-RMS noise in the phone band (300–3400 Hz), white or pink."""
    spectrum = np.fft.rfft(np.random.default_rng(seed).standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1.0 / RATE)
    band = (freqs >= 300) & (freqs <= 3400)
    shape = np.where(band, 1.0 / np.sqrt(np.maximum(freqs, 1.0)) if pink else 1.0, 0.0)
    y = np.fft.irfft(spectrum * shape, n)
    return y / rms(y)


# --------------------------------------------------------------------------------------------
# Run and summary
# --------------------------------------------------------------------------------------------


def digits_of(text: str) -> str:
    return re.sub(r"\D", "", text)


def done_keys() -> set[tuple[str, str]]:
    if not OUT.exists():
        return set()
    with OUT.open(encoding="utf-8", newline="") as handle:
        return {(row["number"], row["form"]) for row in csv.DictReader(handle, delimiter="\t")}


class Decoders:
    """Beam 5 × 5 readings (the transcript), greedy, and beam 3 × 3 of one clip, from one encoder
    pass: the clips are single encoder windows, so this is `WhisperTranscriber.transcribe` with
    the encoder shared (a third of the time of three transcriptions)."""

    def __init__(self) -> None:
        from concierge.speech.whisper import WhisperOptions, WhisperTranscriber

        self.settings = {
            "b5": WhisperTranscriber(WhisperOptions(alternatives=5)),
            "greedy": WhisperTranscriber(WhisperOptions(alternatives=0)),
            "b3": WhisperTranscriber(WhisperOptions(alternatives=3)),
        }

    def decode(self, pcm: bytes, prompt: str) -> dict[str, object]:
        from concierge.audio.pcm import pcm_to_float32
        from concierge.speech.whisper import WHISPER_RATE, _prompt_tokens

        model = self.settings["b5"]._model()
        extractor = model.feature_extractor
        features = extractor(pcm_to_float32(pcm, RATE, WHISPER_RATE))
        content = features.shape[-1] - 1
        assert content <= extractor.nb_max_frames, "a matrix clip is longer than one encoder window"
        encoded = model.encode(np.pad(features[:, :content], [(0, 0), (0, extractor.nb_max_frames - content)]))
        windows = {}
        for name, transcriber in self.settings.items():
            tokenizer = transcriber._prompt_tokenizer(model)
            windows[name] = transcriber._decode_window(
                model, tokenizer, encoded, _prompt_tokens(tokenizer, prompt, model.max_length),
                content * extractor.time_per_frame,
            )
        readings = {name: [] if w.silent else w.readings for name, w in windows.items()}
        return {
            "transcript": (readings["b5"] or [""])[0], "alternatives": " || ".join(readings["b5"][1:]),
            "greedy": (readings["greedy"] or [""])[0],
            "b3": (readings["b3"] or [""])[0], "b3_alternatives": " || ".join(readings["b3"][1:]),
            "no_speech_prob": f"{windows['b5'].no_speech_prob:.4f}", "avg_logprob": f"{windows['b5'].avg_logprob:.3f}",
        }


def run(clips: list[Clip], numbers: list[int]) -> None:
    from concierge.speech.whisper import directory_prompt

    todo = [clip for clip in clips if clip.key not in done_keys()]
    print(f"{len(clips)} clips, {len(clips) - len(todo)} already in {OUT.relative_to(ROOT)}, {len(todo)} to go",
          flush=True)
    if not todo:
        return
    decoders = Decoders()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    new_file = not OUT.exists()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch, OUT.open("a", encoding="utf-8", newline="") as handle, \
            ThreadPoolExecutor(max_workers=1) as renderer:
        writer = csv.DictWriter(handle, FIELDS, delimiter="\t", lineterminator="\n")
        if new_file:
            writer.writeheader()
        pending = [renderer.submit(render, clip, Path(scratch)) for clip in todo[:2]]
        for index, clip in enumerate(todo):
            pcm = pending.pop(0).result()
            if index + 2 < len(todo):  # render ahead while Whisper works
                pending.append(renderer.submit(render, todo[index + 2], Path(scratch)))
            prompt = directory_prompt(list(NAMES), directory_for(clip, numbers))
            listed = re.search(rf"Apartamentos:.*\b{clip.number}\b", prompt) is not None
            assert listed == bool(clip.in_prompt), f"prompt budget cut the directory: {prompt}"
            heard = decoders.decode(pcm, prompt)
            writer.writerow({
                "number": clip.number, "form": clip.form, "spoken_text": clip.spoken_text, "noise": clip.noise,
                "in_prompt": clip.in_prompt, "rate": clip.rate, **heard,
            })
            handle.flush()
            if (index + 1) % 25 == 0 or index + 1 == len(todo):
                rate = (time.perf_counter() - started) / (index + 1)
                print(f"{index + 1}/{len(todo)}  {rate:.1f} s/clip  last: {clip.spoken_text!r} -> {heard['transcript']!r}",
                      flush=True)


def summary() -> None:
    """Per form (and noise, in-prompt): the number's digits in the digits-only text of the greedy
    transcript, the best reading, any reading; beam 3 likewise."""
    with OUT.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))

    def hit(row: dict, *columns: str) -> bool:
        texts = [row[c] for c in columns if c in ("greedy", "transcript", "b3")]
        texts += [t for c in columns if c.endswith("alternatives") for t in row[c].split(" || ") if t]
        return any(row["number"] in digits_of(text) for text in texts)

    def line(label: str, group: list[dict]) -> str:
        n = max(1, len(group))
        pct = lambda k: f"{100.0 * k / n:5.1f} %"  # noqa: E731
        return (f"| {label} | {len(group)} | {pct(sum(hit(r, 'greedy') for r in group))} | "
                f"{pct(sum(hit(r, 'transcript') for r in group))} | "
                f"{pct(sum(hit(r, 'transcript', 'alternatives') for r in group))} | "
                f"{pct(sum(hit(r, 'b3') for r in group))} | {pct(sum(hit(r, 'b3', 'b3_alternatives') for r in group))} |")

    print(f"\n{len(rows)} clips in {OUT.relative_to(ROOT)}: the number's digits appear in the digits-only text of …")
    print("| clips | n | greedy | beam-5 best | beam-5 any of 5 | beam-3 best | beam-3 any of 3 |")
    print("|---|---|---|---|---|---|---|")
    print(line("all", rows))
    for form in FORMS:
        print(line(form, [r for r in rows if r["form"] == form]))
    for name, column in (("noise", "noise"), ("in prompt", "in_prompt")):
        for value in ("0", "1"):
            print(line(f"{name} = {value}", [r for r in rows if r[column] == value]))
    for digits in (2, 3, 4):
        print(line(f"{digits}-digit", [r for r in rows if len(r["number"]) == digits]))
    print(line("has a 6", [r for r in rows if "6" in r["number"]]))
    print(line("digits said 'meia'", [r for r in rows if "meia" in r["spoken_text"]]))
    probs = sorted(float(r["no_speech_prob"]) for r in rows)
    if probs:
        print(f"no_speech_prob of these speech clips: p50 {probs[len(probs) // 2]:.3f}, p99 "
              f"{probs[int(len(probs) * 0.99)]:.3f}, max {probs[-1]:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, help="only the first N clips (a quick look)")
    parser.add_argument("--summary-only", action="store_true", help="summarize the existing TSV")
    args = parser.parse_args()
    rng = random.Random(SEED)
    numbers = pick_numbers(rng)
    clips = build_clips(numbers, rng)
    if not args.summary_only:
        run(clips[: args.limit] if args.limit else clips, numbers)
    summary()


if __name__ == "__main__":
    main()
