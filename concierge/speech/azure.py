"""Azure Speech, the cloud option of the seed: pt-BR recognition and neural voices, both at 8 kHz.

The SDK (`azure-cognitiveservices-speech`, the `azure` extra) is imported only when an engine
is made, so nothing else pays for it. The key and region come from `AZURE_SPEECH_KEY` and
`AZURE_SPEECH_REGION`. Every wait on the service is bounded by our own clock: the SDK's own
waits are unbounded (a silent service held a synthesis 80 s), and it takes 1 to 10 s to let go
of a finished session, so finished SDK objects are released in a background thread.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from concierge.audio.pcm import SAMPLE_RATE, SAMPLE_WIDTH, duration_seconds
from concierge.speech.base import SpeechError, Transcript

log = logging.getLogger(__name__)

KEY_VARIABLE = "AZURE_SPEECH_KEY"
REGION_VARIABLE = "AZURE_SPEECH_REGION"
DEFAULT_VOICE = "pt-BR-AntonioNeural"
INSTALL_HINT = "install the azure extra: .venv/bin/pip install -e '.[azure]'"
MAX_PHRASES = 500
"""Azure's phrase list takes up to 500 phrases."""
_CHECK_PHRASE = "Olá."
_CHECK_SILENCE = bytes(SAMPLE_RATE * SAMPLE_WIDTH // 2)
_DETAIL_CHARS = 240
_SESSION_END_S = 1.0
_HINTS = {
    "AuthenticationFailure": f"check {KEY_VARIABLE} and {REGION_VARIABLE}",
    "Forbidden": f"check {KEY_VARIABLE} and {REGION_VARIABLE}",
    "ConnectionFailure": f"check the network and {REGION_VARIABLE}",
    "ServiceTimeout": "check the network",
    "ServiceUnavailable": "the service is unavailable, try again later",
    "TooManyRequests": "the Azure Speech quota is spent or the rate too high",
    "BadRequest": "check the language and the voice (greeting.voice)",
}
_LISTING = re.compile(r"[^\s,.:;]+:\s*|[,.;]\s*")


class AzureOptions(BaseModel):
    """How to talk to Azure Speech; the defaults suit gate calls in Brazilian Portuguese."""

    model_config = ConfigDict(frozen=True)

    language: str = Field("pt-BR", description="Recognition language (BCP-47).")
    timeout_s: float = Field(
        6.0,
        gt=0,
        description="Longest wait for the service, beyond the utterance's own length: a caller "
        "hears silence meanwhile, and the session re-asks after a failure.",
    )


@dataclass(frozen=True)
class AzureCredentials:
    """The subscription key and region of an Azure Speech resource."""

    key: str = field(repr=False)
    region: str

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> AzureCredentials:
        """Read `AZURE_SPEECH_KEY` and `AZURE_SPEECH_REGION`; raise SpeechError naming what is missing."""
        env = os.environ if environ is None else environ
        key, region = env.get(KEY_VARIABLE, "").strip(), env.get(REGION_VARIABLE, "").strip()
        missing = [name for name, value in ((KEY_VARIABLE, key), (REGION_VARIABLE, region)) if not value]
        if missing:
            raise SpeechError(
                f"Azure Speech needs {KEY_VARIABLE} and {REGION_VARIABLE} in the environment "
                f"(missing: {', '.join(missing)}): copy them from the Speech resource in the Azure portal"
            )
        return cls(key=key, region=region)


def load_sdk() -> ModuleType:
    """Import the Azure Speech SDK, or raise SpeechError saying how to install it."""
    try:
        import azure.cognitiveservices.speech as speechsdk
    except ImportError:
        raise SpeechError(f"the Azure Speech SDK is not installed: {INSTALL_HINT}") from None
    except OSError as error:  # its native library is there but cannot load (e.g. no libssl)
        raise SpeechError(f"the Azure Speech SDK cannot load its native library: {error}") from None
    return speechsdk


class AzureTranscriber:
    """Recognizes one 8 kHz slin utterance with Azure Speech; safe to call from many threads."""

    def __init__(
        self,
        options: AzureOptions | None = None,
        environ: Mapping[str, str] | None = None,
        sdk: ModuleType | None = None,
    ) -> None:
        self.options = options or AzureOptions()
        self._credentials = AzureCredentials.from_env(environ)
        self._sdk = sdk or load_sdk()

    def check(self) -> None:
        """Recognize half a second of silence now: raise SpeechError if the service cannot be used."""
        self.transcribe(_CHECK_SILENCE)

    def transcribe(self, pcm8k: bytes, prompt: str | None = None) -> Transcript:
        """Return what was said in `pcm8k`; the names and numbers listed in `prompt` become phrase hints.

        Recognition runs until the audio ends, so pauses inside the utterance do not cut it short.
        """
        started = time.perf_counter()
        pcm = pcm8k[: len(pcm8k) - len(pcm8k) % SAMPLE_WIDTH]
        if not pcm:
            return Transcript(text="", duration_s=0.0, elapsed_ms=0.0)
        utterance = _Utterance(self._sdk)
        cleanup = [self._start(pcm, prompt_phrases(prompt), utterance)]
        try:
            text = utterance.text(timeout=self.options.timeout_s + duration_seconds(pcm))
        finally:
            _release_in_background(cleanup)
        return Transcript(
            text=text, duration_s=duration_seconds(pcm), elapsed_ms=(time.perf_counter() - started) * 1000.0
        )

    def _start(self, pcm8k: bytes, phrases: list[str], utterance: _Utterance) -> Callable[[], object]:
        """Start recognizing `pcm8k` into `utterance`; return the cleanup that owns the SDK recognizer."""
        sdk = self._sdk
        try:
            recognizer = sdk.SpeechRecognizer(
                speech_config=self._speech_config(), audio_config=sdk.audio.AudioConfig(stream=push_stream(sdk, pcm8k))
            )
            add_phrases(sdk, recognizer, phrases)
            recognizer.recognized.connect(utterance.on_recognized)
            recognizer.canceled.connect(utterance.on_canceled)
            recognizer.session_stopped.connect(utterance.on_stopped)
            starting = recognizer.start_continuous_recognition_async()
        except (RuntimeError, ValueError) as error:  # the SDK reports failed native calls as RuntimeError
            raise SpeechError(f"Azure Speech recognition cannot start: {error}") from None

        def cleanup() -> None:
            starting.get()
            ended = utterance.session_ended(within=_SESSION_END_S)
            for signal in (recognizer.recognized, recognizer.canceled, recognizer.session_stopped):
                signal.disconnect_all()  # a late event while Python shuts down aborts the process
            if not ended:  # stopping an ended session makes its release take 10 s, not 1
                recognizer.stop_continuous_recognition_async().get()

        return cleanup

    def _speech_config(self) -> Any:
        config = self._sdk.SpeechConfig(subscription=self._credentials.key, region=self._credentials.region)
        config.speech_recognition_language = self.options.language
        return config


class AzureSynthesizer:
    """An Azure neural voice, rendered by the service directly as 8 kHz slin (Raw8Khz16BitMonoPcm)."""

    name = "azure"

    def __init__(
        self,
        voice: str = DEFAULT_VOICE,
        options: AzureOptions | None = None,
        environ: Mapping[str, str] | None = None,
        sdk: ModuleType | None = None,
    ) -> None:
        self.voice = voice
        self.options = options or AzureOptions()
        self._credentials = AzureCredentials.from_env(environ)
        self._sdk = sdk or load_sdk()
        self._speakers = threading.local()

    def check(self) -> None:
        """Say a short word now: raise SpeechError if the key, region, voice or network is wrong."""
        self.synthesize(_CHECK_PHRASE)

    def synthesize(self, text: str) -> bytes:
        """Render `text` as 8 kHz s16le mono; blank text gives no audio."""
        if not text.strip():
            return b""
        return synthesized_audio(self._speaker().speak(text, self.options.timeout_s), self._sdk)

    def _speaker(self) -> _Speaker:
        speaker: _Speaker | None = getattr(self._speakers, "current", None)
        if speaker is None or speaker.broken:
            speaker = self._speakers.current = _Speaker(self._sdk, self._speech_config())
        return speaker

    def _speech_config(self) -> Any:
        sdk = self._sdk
        config = sdk.SpeechConfig(subscription=self._credentials.key, region=self._credentials.region)
        config.speech_synthesis_voice_name = self.voice
        config.set_speech_synthesis_output_format(sdk.SpeechSynthesisOutputFormat.Raw8Khz16BitMonoPcm)
        return config


def push_stream(sdk: ModuleType, pcm8k: bytes) -> Any:
    """Return a closed SDK push stream holding `pcm8k`, declared as 8 kHz, 16-bit, mono PCM."""
    stream_format = sdk.audio.AudioStreamFormat(samples_per_second=SAMPLE_RATE, bits_per_sample=16, channels=1)
    stream = sdk.audio.PushAudioInputStream(stream_format=stream_format)
    stream.write(pcm8k)
    stream.close()
    return stream


def prompt_phrases(prompt: str | None) -> list[str]:
    """Return the names and numbers listed in a `directory_prompt` ("Moradores: a, b. Apartamentos: 1.")."""
    items = _LISTING.split(prompt or "")
    return list(dict.fromkeys(item.strip() for item in items if item.strip()))[:MAX_PHRASES]


def add_phrases(sdk: ModuleType, recognizer: Any, phrases: list[str]) -> None:
    """Give `recognizer` the phrases it should prefer (residents' names, apartments)."""
    if not phrases:
        return
    grammar = sdk.PhraseListGrammar.from_recognizer(recognizer)
    for phrase in phrases:
        grammar.addPhrase(phrase)


def recognized_text(result: Any, sdk: ModuleType) -> str:
    """Return the text of a recognition result: "" when nothing was understood; SpeechError when canceled."""
    if result.reason == sdk.ResultReason.RecognizedSpeech:
        return result.text.strip()
    if result.reason == sdk.ResultReason.NoMatch:
        return ""
    if result.reason == sdk.ResultReason.Canceled:
        details = result.cancellation_details
        raise SpeechError(_failure("recognition", details.code, details.error_details))
    raise SpeechError(f"Azure Speech recognition gave an unexpected result: {result.reason}")


def synthesized_audio(result: Any, sdk: ModuleType) -> bytes:
    """Return the 8 kHz slin of a synthesis result; SpeechError when canceled or empty."""
    if result.reason == sdk.ResultReason.SynthesizingAudioCompleted:
        audio = bytes(result.audio_data)
        if not audio:
            raise SpeechError("Azure Speech synthesis returned no audio")
        return audio[: len(audio) - len(audio) % SAMPLE_WIDTH]
    if result.reason == sdk.ResultReason.Canceled:
        details = result.cancellation_details
        raise SpeechError(_failure("synthesis", details.error_code, details.error_details))
    raise SpeechError(f"Azure Speech synthesis gave an unexpected result: {result.reason}")


class _Utterance:
    """The events of one continuous recognition, gathered until its session stops.

    The SDK calls these methods from its own threads and swallows what they raise, so they
    only record; `text()` raises in the caller's thread.
    """

    def __init__(self, sdk: ModuleType) -> None:
        self._sdk = sdk
        self._texts: list[str] = []
        self._failure: SpeechError | None = None
        self._done = threading.Event()
        self._ended = threading.Event()

    def on_recognized(self, event: Any) -> None:
        try:
            text = recognized_text(event.result, self._sdk)
        except SpeechError as error:
            self._fail(error)
            return
        if text:
            self._texts.append(text)

    def on_canceled(self, event: Any) -> None:
        if event.result.cancellation_details.reason == self._sdk.CancellationReason.EndOfStream:
            return  # the audio ended: the session stops next
        try:
            recognized_text(event.result, self._sdk)
        except SpeechError as error:
            self._fail(error)

    def on_stopped(self, _event: Any) -> None:
        self._ended.set()
        self._done.set()

    def text(self, timeout: float) -> str:
        """Wait up to `timeout` seconds for the session to end; return all it recognized, joined."""
        if not self._done.wait(timeout):
            raise SpeechError(f"Azure Speech recognition timed out after {timeout:.1f} s: check the network")
        if self._failure is not None:
            raise self._failure
        return " ".join(self._texts)

    def session_ended(self, within: float) -> bool:
        """Whether the SDK's session ends within `within` seconds (it follows a failure closely)."""
        return self._ended.wait(within)

    def _fail(self, error: SpeechError) -> None:
        if self._failure is None:
            self._failure = error
        self._done.set()


class _Speaker:
    """One SDK synthesizer (it keeps its connection open between sentences), used by one thread."""

    def __init__(self, sdk: ModuleType, config: Any) -> None:
        self.broken = False
        self._finished = finished = threading.Event()
        try:
            self._synthesizer = sdk.SpeechSynthesizer(speech_config=config, audio_config=None)
        except (RuntimeError, ValueError) as error:
            raise SpeechError(f"Azure Speech synthesis cannot start: {error}") from None
        self._synthesizer.synthesis_completed.connect(lambda _event: finished.set())
        self._synthesizer.synthesis_canceled.connect(lambda _event: finished.set())

    def speak(self, text: str, timeout: float) -> Any:
        """Return the SDK's result for `text`, waiting at most `timeout` seconds for it."""
        self._finished.clear()
        try:
            pending = self._synthesizer.speak_text_async(text)
        except RuntimeError as error:
            self.broken = True
            raise SpeechError(f"Azure Speech synthesis cannot start: {error}") from None
        if not self._finished.wait(timeout):
            self.broken = True
            self._retire(pending)
            raise SpeechError(f"Azure Speech synthesis timed out after {timeout:.1f} s: check the network")
        return pending.get()

    def _retire(self, pending: Any) -> None:
        """Stop and drop a synthesizer whose service went silent (measured instant).

        Its events are disconnected first: one arriving late from the SDK's thread while
        Python shuts down aborts the process.
        """
        synthesizer, self._synthesizer = self._synthesizer, None
        synthesizer.synthesis_completed.disconnect_all()
        synthesizer.synthesis_canceled.disconnect_all()
        synthesizer.stop_speaking_async().get()
        pending.get()


def _release_in_background(cleanup: list[Callable[[], object]]) -> None:
    """Take the one cleanup out of `cleanup` and run it in a daemon thread.

    The caller keeps no other reference to the SDK objects the cleanup holds, so they are
    released when it returns, in that thread: the SDK takes 1 to 10 s to let go of a session.
    """

    def run() -> None:
        finish = cleanup.pop()
        try:
            finish()
        except RuntimeError as error:
            log.debug("Azure Speech cleanup: %s", error)

    threading.Thread(target=run, name="azure-release", daemon=True).start()


def _failure(what: str, code: Any, details: str | None) -> str:
    """One line: what failed, the SDK's error code and first line of details, and what to check."""
    name = getattr(code, "name", str(code))
    lines = (details or "").strip().splitlines()
    detail = lines[0].strip() if lines else "no details"
    if len(detail) > _DETAIL_CHARS:
        detail = detail[: _DETAIL_CHARS - 1] + "…"
    hint = _HINTS.get(name)
    return f"Azure Speech {what} failed ({name}): {detail}" + (f" — {hint}" if hint else "")
