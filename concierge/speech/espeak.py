"""Speech synthesis with espeak-ng, in-process through the `espeakng-loader` wheel (ctypes).

espeak-ng keeps global state and is not re-entrant, so one process-wide engine is
initialised on first use and every synthesis holds its lock. Always available, takes
milliseconds, sounds robotic.
"""

from __future__ import annotations

import ctypes
import threading

from concierge.audio.pcm import SAMPLE_RATE, resample
from concierge.speech.base import SpeechError

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_DONT_EXIT = 0x8000
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_PARAM_RATE = 1
_EE_OK = 0
_RATE_WPM = 165
"""A little slower than espeak's 175 words a minute: easier to follow over a phone line."""

_SynthCallback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


class _Engine:
    """The loaded libespeak-ng: its functions, its sample rate, and the lock that guards it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._chunks: list[bytes] = []
        self._callback = _SynthCallback(self._collect)
        self._voice = ""
        self._lib = _load_library()
        self.sample_rate = self._initialize()

    def render(self, text: str, voice: str) -> bytes:
        """Return `text` as s16le at the engine's own sample rate; the caller holds `lock`."""
        if voice != self._voice:
            self._check(self._lib.espeak_SetVoiceByName(voice.encode()), f"voice {voice!r}")
            self._check(self._lib.espeak_SetParameter(_PARAM_RATE, _RATE_WPM, 0), "rate")
            self._voice = voice
        encoded = text.encode("utf-8")
        self._chunks = []
        self._check(
            self._lib.espeak_Synth(encoded, len(encoded) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None),
            "synthesis",
        )
        pcm = b"".join(self._chunks)
        self._chunks = []
        return pcm

    def _initialize(self) -> int:
        data_path = _data_path().encode()
        rate = self._lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, data_path, _INITIALIZE_DONT_EXIT)
        if rate <= 0:
            raise SpeechError("espeak-ng failed to start: reinstall the speech packages with ./dev.sh setup")
        self._lib.espeak_SetSynthCallback(self._callback)
        return int(rate)

    def _collect(self, samples: ctypes._Pointer[ctypes.c_short], count: int, _events: int | None) -> int:
        if samples and count > 0:
            self._chunks.append(ctypes.string_at(samples, count * 2))
        return 0

    @staticmethod
    def _check(status: int, what: str) -> None:
        if status != _EE_OK:
            raise SpeechError(f"espeak-ng rejected the {what} (error {status})")


def _load_library() -> ctypes.CDLL:
    try:
        import espeakng_loader

        lib = ctypes.CDLL(espeakng_loader.get_library_path())
    except (ImportError, OSError) as error:
        raise SpeechError(
            f"espeak-ng library unavailable ({error}): reinstall the speech packages with ./dev.sh setup"
        ) from None
    lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    lib.espeak_SetSynthCallback.argtypes = [_SynthCallback]
    lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
    lib.espeak_Synth.argtypes = [
        ctypes.c_char_p,
        ctypes.c_size_t,
        ctypes.c_uint,
        ctypes.c_int,
        ctypes.c_uint,
        ctypes.c_uint,
        ctypes.c_void_p,
        ctypes.c_void_p,
    ]
    return lib


def _data_path() -> str:
    import espeakng_loader

    try:
        return espeakng_loader.get_data_path()
    except RuntimeError as error:
        raise SpeechError(
            f"espeak-ng data missing ({error}): reinstall the speech packages with ./dev.sh setup"
        ) from None


_engine: _Engine | None = None
_engine_lock = threading.Lock()


def _shared_engine() -> _Engine:
    global _engine
    with _engine_lock:
        if _engine is None:
            _engine = _Engine()
        return _engine


class EspeakSynthesizer:
    """espeak-ng speaking `voice` (Brazilian Portuguese by default), rendered as 8 kHz slin."""

    name = "espeak"

    def __init__(self, voice: str = "pt-br") -> None:
        self.voice = voice

    def synthesize(self, text: str) -> bytes:
        """Render `text` as 8 kHz s16le mono; blank text gives no audio."""
        if not text.strip():
            return b""
        engine = _shared_engine()
        with engine.lock:
            pcm = engine.render(text, self.voice)
        return resample(pcm, engine.sample_rate, SAMPLE_RATE)
