"""Azure Speech up to the network: keys, the SDK's absence, the audio we push, result handling, time bounds.

Most tests drive the engines through `FakeSDK`, shaped like `azure.cognitiveservices.speech`
as far as the engines reach into it. The last ones use the real SDK, when installed, against a
region that does not exist, to show the failure is one clear line within seconds.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import threading
import time
from enum import Enum
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from concierge.speech import azure
from concierge.speech.azure import (
    AzureCredentials,
    AzureOptions,
    AzureSynthesizer,
    AzureTranscriber,
    prompt_phrases,
    recognized_text,
    synthesized_audio,
)
from concierge.speech.base import SpeechError, Synthesizer, Transcriber
from concierge.speech.cache import CachedSynthesizer
from concierge.speech.factory import make_synthesizer, make_transcriber
from concierge.speech.whisper import directory_prompt

ENV = {"AZURE_SPEECH_KEY": "0" * 32, "AZURE_SPEECH_REGION": "brazilsouth"}

ResultReason = Enum("ResultReason", "RecognizedSpeech NoMatch Canceled SynthesizingAudioCompleted")
CancellationReason = Enum("CancellationReason", "Error EndOfStream CancelledByUser")
CancellationErrorCode = Enum(
    "CancellationErrorCode", "NoError AuthenticationFailure BadRequest ConnectionFailure ServiceTimeout"
)
OutputFormat = Enum("SpeechSynthesisOutputFormat", "Riff16Khz16BitMonoPcm Raw8Khz16BitMonoPcm")


def speech(text: str) -> SimpleNamespace:
    return SimpleNamespace(reason=ResultReason.RecognizedSpeech, text=text)


def no_match() -> SimpleNamespace:
    return SimpleNamespace(reason=ResultReason.NoMatch, text="")


def audio(pcm: bytes) -> SimpleNamespace:
    return SimpleNamespace(reason=ResultReason.SynthesizingAudioCompleted, audio_data=pcm)


def canceled(
    code: CancellationErrorCode = CancellationErrorCode.ConnectionFailure,
    details: str = "Connection failed (no connection to the remote host).\nX-ConnectionId: 42",
    reason: CancellationReason = CancellationReason.Error,
) -> SimpleNamespace:
    """A canceled result as both SDK result kinds carry it (recognition: `code`; synthesis: `error_code`)."""
    cancellation = SimpleNamespace(reason=reason, code=code, error_code=code, error_details=details)
    return SimpleNamespace(reason=ResultReason.Canceled, cancellation_details=cancellation)


END_OF_STREAM = canceled(CancellationErrorCode.NoError, "", CancellationReason.EndOfStream)


class Signal:
    def __init__(self) -> None:
        self.callbacks: list[Any] = []

    def connect(self, callback: Any) -> None:
        self.callbacks.append(callback)

    def disconnect_all(self) -> None:
        self.callbacks.clear()

    def fire(self, result: Any) -> None:
        for callback in list(self.callbacks):
            callback(SimpleNamespace(result=result))


class Done:
    def __init__(self, value: Any = None) -> None:
        self.value = value

    def get(self) -> Any:
        return self.value


class FakeSDK:
    """Records what the engines build; answers recognitions with `events`, syntheses with `results`.

    `events` is a list of ("recognized" | "canceled" | "stopped", result); `results` a list of
    synthesis results, where None means the service never answers.
    """

    ResultReason = ResultReason
    CancellationReason = CancellationReason
    SpeechSynthesisOutputFormat = OutputFormat

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = [
            ("recognized", speech("Bom dia.")),
            ("canceled", END_OF_STREAM),
            ("stopped", None),
        ]
        self.results: list[Any] = []
        self.configs: list[SimpleNamespace] = []
        self.streams: list[SimpleNamespace] = []
        self.recognizers: list[FakeRecognizer] = []
        self.synthesizers: list[FakeSynthesizer] = []
        self.audio = SimpleNamespace(
            AudioStreamFormat=lambda **fields: SimpleNamespace(**fields),
            PushAudioInputStream=self._push_stream,
            AudioConfig=lambda stream: SimpleNamespace(stream=stream),
        )
        self.PhraseListGrammar = SimpleNamespace(
            from_recognizer=lambda recognizer: SimpleNamespace(addPhrase=recognizer.phrases.append)
        )

    def SpeechConfig(self, subscription: str, region: str) -> SimpleNamespace:
        config = SimpleNamespace(subscription=subscription, region=region)
        config.set_speech_synthesis_output_format = lambda output: setattr(config, "output_format", output)
        self.configs.append(config)
        return config

    def SpeechRecognizer(self, speech_config: Any, audio_config: Any) -> FakeRecognizer:
        self.recognizers.append(FakeRecognizer(self.events, speech_config, audio_config))
        return self.recognizers[-1]

    def SpeechSynthesizer(self, speech_config: Any, audio_config: Any) -> FakeSynthesizer:
        assert audio_config is None, "audio must come back in memory, not play on a speaker"
        self.synthesizers.append(FakeSynthesizer(self.results, speech_config))
        return self.synthesizers[-1]

    def _push_stream(self, stream_format: Any) -> SimpleNamespace:
        stream = SimpleNamespace(format=stream_format, written=bytearray(), closed=False)
        stream.write = stream.written.extend
        stream.close = lambda: setattr(stream, "closed", True)
        self.streams.append(stream)
        return stream


class FakeRecognizer:
    def __init__(self, events: list[tuple[str, Any]], config: Any, audio_config: Any) -> None:
        self.events, self.config, self.audio_config = list(events), config, audio_config
        self.recognized, self.canceled, self.session_stopped = Signal(), Signal(), Signal()
        self.phrases: list[str] = []
        self.stopped = threading.Event()

    def start_continuous_recognition_async(self) -> Done:
        signals = {"recognized": self.recognized, "canceled": self.canceled, "stopped": self.session_stopped}
        threading.Thread(target=lambda: [signals[kind].fire(result) for kind, result in self.events]).start()
        return Done()

    def stop_continuous_recognition_async(self) -> Done:
        self.stopped.set()
        return Done()


class FakeSynthesizer:
    def __init__(self, results: list[Any], config: Any) -> None:
        self.results, self.config = results, config
        self.synthesis_completed, self.synthesis_canceled = Signal(), Signal()
        self.texts: list[str] = []
        self.stopped = False

    def speak_text_async(self, text: str) -> Done:
        self.texts.append(text)
        result = self.results.pop(0)
        if result is None:
            return Done(canceled(CancellationErrorCode.NoError, "stopped", CancellationReason.CancelledByUser))
        signal = self.synthesis_canceled if result.reason == ResultReason.Canceled else self.synthesis_completed
        threading.Thread(target=signal.fire, args=(result,)).start()
        return Done(result)

    def stop_speaking_async(self) -> Done:
        self.stopped = True
        return Done()


@pytest.fixture
def sdk() -> FakeSDK:
    return FakeSDK()


# configuration


@pytest.mark.parametrize(
    ("environ", "missing"),
    [
        ({}, "AZURE_SPEECH_KEY, AZURE_SPEECH_REGION"),
        ({"AZURE_SPEECH_KEY": "k"}, "AZURE_SPEECH_REGION"),
        ({"AZURE_SPEECH_KEY": "  ", "AZURE_SPEECH_REGION": "brazilsouth"}, "AZURE_SPEECH_KEY"),
    ],
)
def test_missing_keys_name_both_variables_and_what_is_missing(environ: dict[str, str], missing: str) -> None:
    expected = f"needs AZURE_SPEECH_KEY and AZURE_SPEECH_REGION in the environment (missing: {missing})"
    with pytest.raises(SpeechError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        AzureCredentials.from_env(environ)


def test_keys_are_read_from_the_environment(sdk: FakeSDK) -> None:
    environ = {"AZURE_SPEECH_KEY": " abc ", "AZURE_SPEECH_REGION": "eastus"}
    AzureTranscriber(environ=environ, sdk=sdk).transcribe(b"\0\0")
    assert (sdk.configs[0].subscription, sdk.configs[0].region) == ("abc", "eastus")


@pytest.mark.parametrize("make", [AzureTranscriber, AzureSynthesizer])
def test_missing_sdk_says_how_to_install_the_azure_extra(make: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "azure.cognitiveservices.speech", None)  # makes the import fail
    hint = r"not installed: install the azure extra: \.venv/bin/pip install -e '\.\[azure\]'"
    with pytest.raises(SpeechError, match=hint):
        make(environ=ENV)


def test_speech_package_imports_without_loading_the_sdk() -> None:
    code = "import sys, concierge.speech.factory; print('azure.cognitiveservices.speech' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "False"


def test_factory_builds_and_checks_azure_engines(sdk: FakeSDK, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(azure, "load_sdk", lambda: sdk)
    sdk.results = [audio(b"\1\0" * 80)]

    synthesizer = make_synthesizer("azure", tmp_path, voice="pt-BR-FranciscaNeural", environ=ENV)
    transcriber = make_transcriber(engine="azure", environ=ENV, language="pt-PT")

    assert (synthesizer.name, synthesizer.voice) == ("azure", "pt-BR-FranciscaNeural")
    assert sdk.synthesizers[0].texts == ["Olá."]
    assert isinstance(transcriber, AzureTranscriber) and isinstance(transcriber, Transcriber)
    assert sdk.configs[-1].speech_recognition_language == "pt-PT"
    assert len(sdk.recognizers) == 1


def test_factory_stops_on_a_failed_check(sdk: FakeSDK, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(azure, "load_sdk", lambda: sdk)
    sdk.results = [canceled(CancellationErrorCode.AuthenticationFailure, "WebSocket upgrade failed (401)")]
    refused = r"synthesis failed \(AuthenticationFailure\): WebSocket upgrade failed \(401\) — check AZURE_SPEECH_KEY"
    with pytest.raises(SpeechError, match=refused):
        make_synthesizer("azure", tmp_path, environ=ENV)


def test_factory_names_the_recognizer_choices() -> None:
    with pytest.raises(SpeechError, match="unknown speech recognizer 'vosk': choose one of whisper, azure"):
        make_transcriber(engine="vosk")


# audio


@pytest.mark.parametrize("pcm", [bytes(range(256)) * 25, bytes(range(256)) * 25 + b"\x7f"])
def test_utterance_is_pushed_byte_exact_as_closed_8khz_16bit_mono(sdk: FakeSDK, pcm: bytes) -> None:
    AzureTranscriber(environ=ENV, sdk=sdk).transcribe(pcm)
    (stream,) = sdk.streams
    assert vars(stream.format) == {"samples_per_second": 8000, "bits_per_sample": 16, "channels": 1}
    assert bytes(stream.written) == pcm[: len(pcm) // 2 * 2]
    assert stream.closed
    assert sdk.recognizers[0].audio_config.stream is stream
    assert sdk.recognizers[0].config.speech_recognition_language == "pt-BR"


def test_empty_utterance_is_not_sent(sdk: FakeSDK) -> None:
    assert AzureTranscriber(environ=ENV, sdk=sdk).transcribe(b"\0").text == ""
    assert not sdk.recognizers


def test_synthesizer_asks_for_raw_8khz_pcm_in_the_configured_voice(sdk: FakeSDK, tmp_path: Path) -> None:
    pcm = bytes(range(200))
    sdk.results = [audio(pcm + b"\x01")]
    synthesizer = AzureSynthesizer("pt-BR-FranciscaNeural", environ=ENV, sdk=sdk)

    assert isinstance(synthesizer, Synthesizer)
    assert synthesizer.synthesize("Bom dia.") == pcm
    config = sdk.synthesizers[0].config
    assert config.speech_synthesis_voice_name == "pt-BR-FranciscaNeural"
    assert config.output_format == OutputFormat.Raw8Khz16BitMonoPcm
    antonio = CachedSynthesizer(AzureSynthesizer(environ=ENV, sdk=sdk), tmp_path)
    assert antonio.voice == "pt-BR-AntonioNeural"
    assert antonio.key("Bom dia.") != CachedSynthesizer(synthesizer, tmp_path).key("Bom dia.")


def test_one_thread_reuses_its_connection_and_blank_text_asks_nothing(sdk: FakeSDK) -> None:
    sdk.results = [audio(b"\1\0"), audio(b"\2\0")]
    synthesizer = AzureSynthesizer(environ=ENV, sdk=sdk)
    assert [synthesizer.synthesize(text) for text in ("Um.", "  ", "Dois.")] == [b"\1\0", b"", b"\2\0"]
    assert [s.texts for s in sdk.synthesizers] == [["Um.", "Dois."]]


# phrase hints


def test_directory_prompt_becomes_phrase_hints(sdk: FakeSDK) -> None:
    prompt = directory_prompt(["Ana Maria Silva", "João", "Ana Maria Silva"], ["101", "204B"])
    assert prompt_phrases(prompt) == ["Ana Maria Silva", "João", "101", "204B"]

    AzureTranscriber(environ=ENV, sdk=sdk).transcribe(b"\0\0" * 800, prompt)
    assert sdk.recognizers[0].phrases == ["Ana Maria Silva", "João", "101", "204B"]


def test_no_prompt_gives_no_phrase_list() -> None:
    assert prompt_phrases(None) == prompt_phrases("") == []


# results


@pytest.mark.parametrize(
    ("result", "text"), [(speech(" Entrega para o 104. "), "Entrega para o 104."), (no_match(), "")]
)
def test_recognized_speech_is_text_and_no_match_is_empty(result: Any, text: str) -> None:
    assert recognized_text(result, FakeSDK()) == text


def test_canceled_recognition_is_one_line_with_the_sdk_reason_and_a_hint() -> None:
    with pytest.raises(SpeechError) as raised:
        recognized_text(canceled(), FakeSDK())
    assert str(raised.value) == (
        "Azure Speech recognition failed (ConnectionFailure): Connection failed (no connection to the remote host)."
        " — check the network and AZURE_SPEECH_REGION"
    )


def test_synthesis_result_is_its_audio_or_a_speech_error() -> None:
    assert synthesized_audio(audio(b"\1\2\3\4"), FakeSDK()) == b"\1\2\3\4"
    unsupported = r"synthesis failed \(BadRequest\): Unsupported voice pt-BR-Nobody\. — check"
    with pytest.raises(SpeechError, match=unsupported):
        synthesized_audio(canceled(CancellationErrorCode.BadRequest, "Unsupported voice pt-BR-Nobody."), FakeSDK())
    with pytest.raises(SpeechError, match="returned no audio"):
        synthesized_audio(audio(b""), FakeSDK())


def test_long_sdk_details_are_cut_to_one_short_line() -> None:
    with pytest.raises(SpeechError) as raised:
        recognized_text(canceled(details="x" * 1000 + "\nsecond line"), FakeSDK())
    message = str(raised.value)
    assert "\n" not in message and "second line" not in message and message.count("x") < 250


def test_phrases_of_one_utterance_are_joined_and_no_match_skipped(sdk: FakeSDK) -> None:
    sdk.events = [
        ("recognized", speech("Boa tarde.")),
        ("recognized", no_match()),
        ("recognized", speech("Entrega para o 104.")),
        ("canceled", END_OF_STREAM),
        ("stopped", None),
    ]
    transcript = AzureTranscriber(environ=ENV, sdk=sdk).transcribe(b"\0\0" * 16000)
    assert transcript.text == "Boa tarde. Entrega para o 104."
    assert transcript.duration_s == 2.0


def test_silence_is_an_empty_transcript(sdk: FakeSDK) -> None:
    sdk.events = [("recognized", no_match()), ("canceled", END_OF_STREAM), ("stopped", None)]
    assert AzureTranscriber(environ=ENV, sdk=sdk).transcribe(b"\0\0" * 4000).text == ""


def test_network_failure_mid_call_is_a_speech_error_and_the_session_is_not_stopped_twice(sdk: FakeSDK) -> None:
    sdk.events = [("canceled", canceled()), ("stopped", None)]
    with pytest.raises(SpeechError, match=r"recognition failed \(ConnectionFailure\)"):
        AzureTranscriber(environ=ENV, sdk=sdk).transcribe(b"\0\0" * 4000)
    recognizer = sdk.recognizers[0]
    _wait_until(lambda: not recognizer.session_stopped.callbacks)
    assert not recognizer.stopped.is_set()


def test_silent_service_times_out_in_bounded_time_and_the_recognition_is_stopped(sdk: FakeSDK) -> None:
    sdk.events = []
    transcriber = AzureTranscriber(AzureOptions(timeout_s=0.2), environ=ENV, sdk=sdk)
    started = time.perf_counter()
    with pytest.raises(SpeechError, match=r"recognition timed out after 0\.7 s: check the network"):
        transcriber.transcribe(b"\0\0" * 4000)  # 0.5 s of audio + 0.2 s
    assert time.perf_counter() - started < 1.5
    assert sdk.recognizers[0].stopped.wait(3)
    assert not sdk.recognizers[0].recognized.callbacks


def test_silent_synthesis_times_out_and_the_next_one_starts_afresh(sdk: FakeSDK) -> None:
    sdk.results = [None, audio(b"\5\0")]
    synthesizer = AzureSynthesizer(options=AzureOptions(timeout_s=0.2), environ=ENV, sdk=sdk)
    started = time.perf_counter()
    with pytest.raises(SpeechError, match=r"synthesis timed out after 0\.2 s"):
        synthesizer.synthesize("Um momento.")
    assert time.perf_counter() - started < 1.0
    assert sdk.synthesizers[0].stopped and not sdk.synthesizers[0].synthesis_completed.callbacks
    assert synthesizer.synthesize("Um momento.") == b"\5\0"
    assert len(sdk.synthesizers) == 2


def test_canceled_synthesis_mid_call_is_a_speech_error(sdk: FakeSDK) -> None:
    late = canceled(CancellationErrorCode.ServiceTimeout, "USP error: timeout waiting for the first audio chunk")
    sdk.results = [late]
    with pytest.raises(SpeechError, match=r"synthesis failed \(ServiceTimeout\): USP error: timeout waiting"):
        AzureSynthesizer(environ=ENV, sdk=sdk).synthesize("Pois não?")


# the real SDK, against a region that does not exist (no network is needed for the answer)


def _sdk_installed() -> bool:
    try:
        return importlib.util.find_spec("azure.cognitiveservices.speech") is not None
    except ModuleNotFoundError:
        return False


needs_sdk = pytest.mark.skipif(not _sdk_installed(), reason="the azure extra is not installed")
NOWHERE = {"AZURE_SPEECH_KEY": "0" * 32, "AZURE_SPEECH_REGION": "apoena-nowhere"}


@needs_sdk
@pytest.mark.timeout(30)
def test_real_sdk_recognition_against_an_unreachable_region_fails_in_seconds_in_one_line() -> None:
    started = time.perf_counter()
    with pytest.raises(SpeechError) as raised:
        AzureTranscriber(AzureOptions(timeout_s=5), environ=NOWHERE).check()
    assert time.perf_counter() - started < 6.5
    message = str(raised.value)
    assert message.startswith("Azure Speech recognition ") and "\n" not in message
    assert "AZURE_SPEECH" in message or "network" in message


@needs_sdk
@pytest.mark.timeout(30)
def test_real_sdk_synthesis_against_an_unreachable_region_fails_in_seconds_in_one_line() -> None:
    started = time.perf_counter()
    with pytest.raises(SpeechError) as raised:
        AzureSynthesizer(options=AzureOptions(timeout_s=5), environ=NOWHERE).check()
    assert time.perf_counter() - started < 5.5
    message = str(raised.value)
    assert message.startswith("Azure Speech synthesis ") and "\n" not in message


def _wait_until(condition: Any, seconds: float = 3.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)
