"""The VAD endpointer: turns from speech clips, pre-roll, pauses, DTX gaps, forced ends."""

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from concierge.audio.endpoint import (
    Endpointer,
    EndpointParams,
    Event,
    Paused,
    State,
    UtteranceEnded,
)
from concierge.audio.pcm import duration_seconds, read_audio_file, silence

DATA = Path(__file__).parent / "data"
BOM_DIA = read_audio_file(DATA / "bom_dia.slin")
ENTREGA = read_audio_file(DATA / "entrega.slin")


def kinds(events: list[Event]) -> list[str]:
    """Return the events' class names, in order."""
    return [type(event).__name__ for event in events]


def utterances(events: list[Event]) -> list[UtteranceEnded]:
    """Return only the ended utterances."""
    return [event for event in events if isinstance(event, UtteranceEnded)]


def feed_in_frames(endpointer: Endpointer, pcm: bytes, size: int = 320) -> list[Event]:
    """Feed `pcm` in chunks of `size` bytes, as a connection would; return all events."""
    events: list[Event] = []
    for start in range(0, len(pcm), size):
        events += endpointer.feed(pcm[start : start + size])
    return events


def past_opening(params: EndpointParams | None = None) -> Endpointer:
    """An endpointer whose call already had its first turn: every turn ends at the end silence."""
    endpointer = Endpointer(params)
    endpointer.end_opening()
    return endpointer


def two_turn_call() -> bytes:
    """Silence, "Bom dia.", a second of silence, the delivery sentence, a second of silence."""
    return silence(0.6) + BOM_DIA + silence(1.0) + ENTREGA + silence(1.0)


def test_speech_clips_are_voiced_and_small_enough_to_commit() -> None:
    assert 0.4 < duration_seconds(BOM_DIA) < 1.5 and 2.5 < duration_seconds(ENTREGA) < 5
    assert sum(path.stat().st_size for path in DATA.glob("*.slin")) < 200_000


def test_two_sentences_make_two_turns() -> None:
    events = feed_in_frames(past_opening(), two_turn_call())
    assert kinds(events) == ["SpeechStarted", "Paused", "UtteranceEnded"] * 2
    first, second = utterances(events)
    assert first.duration == pytest.approx(0.3 + duration_seconds(BOM_DIA) + 0.25, abs=0.1)
    assert second.duration == pytest.approx(0.3 + duration_seconds(ENTREGA) + 0.25, abs=0.1)
    assert first.silence_seconds == second.silence_seconds == 0.7
    assert not first.forced


def test_events_are_stamped_in_audio_time() -> None:
    events = feed_in_frames(past_opening(), two_turn_call())
    started, paused, ended = events[:3]
    assert started.at == pytest.approx(0.6 + 0.1, abs=0.06)
    speech_end = 0.6 + duration_seconds(BOM_DIA)
    assert paused.at == pytest.approx(speech_end + 0.25, abs=0.1)
    assert ended.at == pytest.approx(speech_end + 0.7, abs=0.1)


def test_pre_roll_keeps_the_first_syllable() -> None:
    first = utterances(feed_in_frames(Endpointer(), two_turn_call()))[0]
    assert BOM_DIA in first.pcm
    assert first.pcm.index(BOM_DIA) == pytest.approx(0.3 * 16000, abs=640)


def test_the_turn_ending_pause_carries_the_same_audio_as_the_end() -> None:
    events = feed_in_frames(Endpointer(), silence(0.5) + ENTREGA + silence(1.0))
    paused, ended = events[1], events[2]
    assert isinstance(paused, Paused) and isinstance(ended, UtteranceEnded)
    assert paused.pcm == ended.pcm


def test_a_short_hesitation_pauses_and_resumes_within_one_turn() -> None:
    call = silence(0.5) + BOM_DIA + silence(0.4) + ENTREGA + silence(1.0)
    events = feed_in_frames(Endpointer(), call)
    assert kinds(events) == ["SpeechStarted", "Paused", "Resumed", "Paused", "UtteranceEnded"]
    assert BOM_DIA in events[-1].pcm and ENTREGA in events[-1].pcm


def test_a_longer_end_silence_joins_sentences_into_one_turn() -> None:
    call = silence(0.5) + BOM_DIA + silence(1.0) + ENTREGA + silence(2.5)
    slow = past_opening(EndpointParams(end_silence_seconds=2.0))
    events = feed_in_frames(slow, call)
    assert kinds(events) == ["SpeechStarted", "Paused", "Resumed", "Paused", "UtteranceEnded"]
    assert events[-1].silence_seconds == 2.0


@settings(max_examples=15, deadline=None)
@given(st.lists(st.integers(1, 2000), min_size=1, max_size=50))
def test_any_chunking_gives_identical_events(sizes: list[int]) -> None:
    call = two_turn_call()
    expected = feed_in_frames(Endpointer(), call)
    assert len(utterances(expected)) == 1  # a bare greeting and the sentence after it: one turn
    endpointer, events, position, turn = Endpointer(), [], 0, 0
    while position < len(call):
        size = sizes[turn % len(sizes)]
        events += endpointer.feed(call[position : position + size])
        position, turn = position + size, turn + 1
    assert events == expected


def test_a_dtx_gap_counts_as_silence_and_ends_the_turn() -> None:
    endpointer = past_opening()
    speech = BOM_DIA[: len(BOM_DIA) // 320 * 320]
    events = feed_in_frames(endpointer, silence(0.5) + speech)
    assert kinds(events) == ["SpeechStarted"]
    assert endpointer.state is State.SPEAKING
    gap_events = endpointer.feed_gap(1.0)
    assert kinds(gap_events) == ["Paused", "UtteranceEnded"]
    assert speech in gap_events[-1].pcm
    assert endpointer.audio_seconds == 0.5 + duration_seconds(speech) + 1.0


def test_a_gap_shorter_than_the_pause_changes_nothing_but_the_clock() -> None:
    endpointer = Endpointer()
    feed_in_frames(endpointer, silence(0.5) + BOM_DIA[:4800])
    assert endpointer.feed_gap(0.12) == []
    assert endpointer.state is State.STOPPING


def test_an_endless_talker_is_cut_at_max_utterance() -> None:
    params = EndpointParams(max_utterance_seconds=2.0)
    events = feed_in_frames(Endpointer(params), silence(0.5) + ENTREGA * 3 + silence(1.0))
    ended = utterances(events)
    assert [event.forced for event in ended][:2] == [True, True]
    assert all(event.duration <= 2.0 for event in ended)
    assert ended[0].duration == 2.0
    assert kinds(events)[:4] == ["SpeechStarted", "UtteranceEnded"] * 2


def test_a_click_shorter_than_min_utterance_is_discarded() -> None:
    click = BOM_DIA[:2560]
    strict = past_opening(EndpointParams(min_utterance_seconds=0.3))
    events = feed_in_frames(strict, silence(0.5) + click + silence(1.0))
    assert kinds(events) == ["SpeechStarted", "SpeechDiscarded"]


def test_quiet_background_noise_is_not_speech() -> None:
    noise = (np.random.default_rng(7).normal(0, 0.003, 8000 * 3) * 32768).astype("<i2").tobytes()
    endpointer = Endpointer()
    assert feed_in_frames(endpointer, noise) == []
    assert endpointer.state in (State.QUIET, State.STARTING)


def test_reset_drops_speech_in_progress() -> None:
    endpointer = Endpointer()
    feed_in_frames(endpointer, silence(0.5) + BOM_DIA)
    endpointer.reset()
    assert endpointer.state is State.QUIET
    assert feed_in_frames(endpointer, silence(1.0)) == []


def test_state_walks_quiet_starting_speaking_stopping() -> None:
    endpointer = past_opening()
    seen = []
    for start in range(0, len(silence(0.2) + BOM_DIA + silence(1.0)), 320):
        endpointer.feed((silence(0.2) + BOM_DIA + silence(1.0))[start : start + 320])
        if not seen or seen[-1] is not endpointer.state:
            seen.append(endpointer.state)
    assert seen == [State.QUIET, State.STARTING, State.SPEAKING, State.STOPPING, State.QUIET]


def test_a_bare_greeting_and_the_sentence_after_a_pause_are_one_turn() -> None:
    for pause in (0.8, 1.0, 1.2):
        events = feed_in_frames(Endpointer(), silence(0.6) + BOM_DIA + silence(pause) + ENTREGA + silence(1.0))
        assert kinds(events) == ["SpeechStarted", "Paused", "Resumed", "Paused", "UtteranceEnded"], pause
        ended = events[-1]
        assert BOM_DIA in ended.pcm and ENTREGA in ended.pcm
        assert ended.silence_seconds == 0.7, "a long first turn still ends at the normal silence"
        assert ended.speech_seconds == pytest.approx(duration_seconds(BOM_DIA) + pause + duration_seconds(ENTREGA), abs=0.15)


def test_a_bare_greeting_alone_ends_after_the_opening_silence_with_the_paused_audio() -> None:
    events = feed_in_frames(Endpointer(), silence(0.6) + BOM_DIA + silence(2.5))
    assert kinds(events) == ["SpeechStarted", "Paused", "UtteranceEnded"]
    paused, ended = events[1], events[2]
    assert ended.silence_seconds == 1.8
    assert ended.pcm == paused.pcm, "the transcript started in the pause is still the turn's"
    assert ended.speech_seconds == pytest.approx(duration_seconds(BOM_DIA), abs=0.1)


def test_a_complete_first_sentence_ends_at_the_normal_silence() -> None:
    events = feed_in_frames(Endpointer(), silence(0.6) + ENTREGA + silence(1.0))
    assert kinds(events) == ["SpeechStarted", "Paused", "UtteranceEnded"]
    assert events[-1].silence_seconds == 0.7


def test_after_the_first_turn_a_short_answer_ends_at_the_normal_silence() -> None:
    endpointer = Endpointer()
    assert endpointer.in_opening
    endpointer.end_opening()
    assert not endpointer.in_opening
    events = feed_in_frames(endpointer, silence(0.6) + BOM_DIA + silence(1.0))
    assert kinds(events) == ["SpeechStarted", "Paused", "UtteranceEnded"]
    assert events[-1].silence_seconds == 0.7


def test_the_opening_silence_is_never_shorter_than_the_end_silence() -> None:
    slow = Endpointer(EndpointParams(end_silence_seconds=2.5))
    events = feed_in_frames(slow, silence(0.6) + BOM_DIA + silence(3.0))
    assert utterances(events)[0].silence_seconds == 2.5


def test_params_refuse_a_pause_longer_than_the_end_of_turn() -> None:
    with pytest.raises(ValidationError, match="first_pause_seconds"):
        EndpointParams(first_pause_seconds=1.0, end_silence_seconds=0.7)
    with pytest.raises(ValidationError):
        EndpointParams(vad_aggressiveness=4)
