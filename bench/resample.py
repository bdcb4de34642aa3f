"""soxr against the hand-written Kaiser resampler it replaced, on every path Apoena resamples.

Paths (callers of `concierge.audio.pcm.resample`/`pcm_to_float32`):
- an utterance 8k→16k for Whisper (1, 3 and 7 s; `speech/whisper.py`);
- a TTS sentence to 8k (espeak-ng 22.05 kHz, RHVoice 24 kHz, 2 s);
- a recording file to 8k (16/44.1/48 kHz, 10 s; `read_audio_file`, `apoena simulate`);
- one 20 ms AudioSocket frame 16k→8k (Asterisk sending slin16; `call/session.py`, `call/visit.py`,
  `apps/mic.py` playback), each frame resampled on its own as those callers do.

Speed: median wall time over many runs of the same input. Quality, against exact sines:
- `worst SNR`: sines 100–3400 Hz (the phone band), resampled, compared with the same sine
  computed at the output rate (middle 80 %);
- `ripple`: max − min gain over those sines;
- `alias/image`: the worst leak, relative to the input, of sines the output rate cannot hold
  (downsampling: 4.2 kHz up to the input's Nyquist) or of images above the input's Nyquist
  (upsampling);
- for 20 ms frames, the SNR of a 1 kHz tone resampled frame by frame against resampled whole,
  and soxr's streaming resampler (`soxr.ResampleStream`) for comparison.

    .venv/bin/python bench/resample.py [--seconds 1.5]   # the time budget per measurement
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from functools import lru_cache
from math import gcd
from pathlib import Path

import numpy as np
import soxr

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from concierge.audio.pcm import _resample_float  # noqa: E402

Resampler = Callable[[np.ndarray, int, int], np.ndarray]

PATHS = [
    # label, source rate, target rate, seconds
    ("utterance for Whisper, 1 s", 8000, 16000, 1.0),
    ("utterance for Whisper, 3 s", 8000, 16000, 3.0),
    ("utterance for Whisper, 7 s", 8000, 16000, 7.0),
    ("espeak-ng sentence, 2 s", 22050, 8000, 2.0),
    ("RHVoice sentence, 2 s", 24000, 8000, 2.0),
    ("recording file, 10 s", 16000, 8000, 10.0),
    ("recording file, 10 s", 44100, 8000, 10.0),
    ("recording file, 10 s", 48000, 8000, 10.0),
    ("one AudioSocket frame, 20 ms", 16000, 8000, 0.02),
]
BAND = (100, 300, 700, 1000, 1500, 2000, 2500, 3000, 3400)


def kaiser_resample(samples: np.ndarray, src_rate: int, dst_rate: int) -> np.ndarray:
    """The resampler `concierge/audio/pcm.py` had before soxr, kept verbatim to compare with.

    Polyphase Kaiser-windowed sinc (32 zero crossings, beta 8, cut at 0.95 of the lower Nyquist),
    evaluated with numpy in chunks of 4096 outputs.
    """
    if src_rate == dst_rate or not len(samples):
        return samples
    divisor = gcd(src_rate, dst_rate)
    up, down = dst_rate // divisor, src_rate // divisor
    phases, center = _kaiser_phases(up, down)
    taps = phases.shape[1]
    out_count = -(-len(samples) * up // down)
    padded = np.concatenate([np.zeros(taps), samples, np.zeros(taps + 1)])
    out = np.empty(out_count)
    for first in range(0, out_count, 4096):
        position = np.arange(first, min(first + 4096, out_count)) * down + center
        base, phase = np.divmod(position, up)
        index = base[:, None] - np.arange(taps)[None, :] + taps
        out[first : first + len(position)] = np.einsum("ij,ij->i", phases[phase], padded[index])
    return out


@lru_cache(maxsize=16)
def _kaiser_phases(up: int, down: int) -> tuple[np.ndarray, int]:
    factor = max(up, down)
    center = 32 * factor
    cutoff = 0.95 / factor
    offsets = np.arange(-center, center + 1)
    kernel = cutoff * np.sinc(cutoff * offsets) * np.kaiser(len(offsets), 8.0) * up
    taps = -(-len(kernel) // up)
    kernel = np.concatenate([kernel, np.zeros(taps * up - len(kernel))])
    return kernel.reshape(taps, up).T.copy(), center


RESAMPLERS: dict[str, Resampler] = {"kaiser (old)": kaiser_resample, "soxr HQ (now)": _resample_float}


def sine(frequency: float, rate: int, seconds: float, amplitude: float = 0.5) -> np.ndarray:
    return (amplitude * np.sin(2 * np.pi * frequency * np.arange(round(rate * seconds)) / rate)).astype(np.float32)


def middle(samples: np.ndarray) -> np.ndarray:
    edge = len(samples) // 10
    return samples[edge : len(samples) - edge].astype(np.float64)


def median_ms(run: Callable[[], object], budget_s: float) -> tuple[float, int]:
    """Return the median time of `run` in ms over as many runs as fit in the budget (5–2000)."""
    times: list[float] = []
    spent = 0.0
    while len(times) < 5 or (spent < budget_s and len(times) < 2000):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
        spent += times[-1]
    return float(np.median(times)) * 1000, len(times)


def band_quality(resampler: Resampler, src: int, dst: int) -> tuple[float, float]:
    """Return the worst SNR (dB) and the gain ripple (dB) over the phone band's sines."""
    snrs, gains = [], []
    for frequency in BAND:
        out = middle(resampler(sine(frequency, src, 1.0), src, dst))
        want = middle(sine(frequency, dst, 1.0))[: len(out)]
        out = out[: len(want)]
        snrs.append(10 * np.log10(np.sum(want**2) / np.sum((out - want) ** 2)))
        gains.append(20 * np.log10(np.sqrt(np.mean(out**2)) / np.sqrt(np.mean(want**2))))
    return min(snrs), max(gains) - min(gains)


def leak_db(resampler: Resampler, src: int, dst: int) -> float:
    """Return the worst alias (downsampling) or image (upsampling) level, in dB below the input."""
    worst = -np.inf
    if dst < src:  # sines above the output's Nyquist must vanish
        for frequency in np.linspace(dst / 2 * 1.05, min(src / 2 * 0.95, 20000), 12):
            out = middle(resampler(sine(frequency, src, 1.0), src, dst))
            worst = max(worst, 20 * np.log10(np.sqrt(np.mean(out**2)) / (0.5 / np.sqrt(2)) + 1e-12))
    else:  # nothing may appear above the input's Nyquist
        for frequency in BAND:
            out = middle(resampler(sine(frequency, src, 1.0), src, dst))
            spectrum = np.abs(np.fft.rfft(out * np.hanning(len(out)))) ** 2
            above = np.fft.rfftfreq(len(out), 1 / dst) > src / 2 * 1.05
            worst = max(worst, 10 * np.log10(spectrum[above].sum() / spectrum.sum() + 1e-30))
    return float(worst)


def framewise_snr(resample_frame: Callable[[np.ndarray], np.ndarray], src: int, dst: int) -> float:
    """Return the SNR (dB) of a 1 kHz tone resampled 20 ms at a time against the exact tone."""
    tone = sine(1000, src, 1.0)
    step = src // 50
    out = np.concatenate([resample_frame(tone[i : i + step]) for i in range(0, len(tone), step)])
    want = sine(1000, dst, 1.0)
    count = min(len(out), len(want))  # a stream holds back its filter's delay until flushed
    out, want = middle(out[:count]), middle(want[:count])
    return float(10 * np.log10(np.sum(want**2) / np.sum((out - want) ** 2)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.5, help="time budget per measurement")
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    print("| path | rates | kaiser (old) median | soxr (now) median | speed-up |")
    print("|---|---|---|---|---|")
    for label, src, dst, seconds in PATHS:
        noise = (rng.standard_normal(round(src * seconds)) * 0.1).astype(np.float32)
        times = {name: median_ms(lambda r=r: r(noise, src, dst), args.seconds) for name, r in RESAMPLERS.items()}
        (old, _), (new, _) = times.values()
        runs = "/".join(str(n) for _, n in times.values())
        print(f"| {label} | {src / 1000:g}k→{dst / 1000:g}k | {old:.3f} ms | {new:.3f} ms | {old / new:.0f}× ({runs} runs) |")

    print("\n| rates | resampler | worst SNR 100–3400 Hz | ripple | alias/image |")
    print("|---|---|---|---|---|")
    for src, dst in sorted({(src, dst) for _, src, dst, _ in PATHS}):
        for name, resampler in RESAMPLERS.items():
            snr, ripple = band_quality(resampler, src, dst)
            print(f"| {src / 1000:g}k→{dst / 1000:g}k | {name} | {snr:.1f} dB | {ripple:.3f} dB | {leak_db(resampler, src, dst):.0f} dB |")

    src, dst = 16000, 8000
    print(f"\n20 ms frames {src / 1000:g}k→{dst / 1000:g}k, each resampled on its own vs streamed:")
    for name, resampler in RESAMPLERS.items():
        print(f"  {name}, frame by frame: SNR {framewise_snr(lambda f, r=resampler: r(f, src, dst), src, dst):.1f} dB")
    stream = soxr.ResampleStream(src, dst, 1, dtype="float32", quality="HQ")
    snr = framewise_snr(lambda f: stream.resample_chunk(f), src, dst)
    frame = sine(1000, src, 0.02)
    chunk_ms, runs = median_ms(lambda: stream.resample_chunk(frame), args.seconds)
    print(f"  soxr.ResampleStream: SNR {snr:.1f} dB, {chunk_ms:.3f} ms a frame ({runs} runs)")


if __name__ == "__main__":
    main()
