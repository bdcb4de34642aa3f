"""Listening like a person, over real sockets: a greeting and what follows a pause are one turn;
a silent caller is prompted, then released; line noise never becomes a turn; the visitor's own
voice saying their name is reported with the call."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid

from concierge.audio.pcm import silence
from concierge.audiosocket.client import AudioSocketClient
from concierge.audiosocket.stream import ConnectionClosed
from concierge.call.events import CallEnded, Outcome, StateChanged, Turn, VisitorNameHeard
from concierge.call.services import NO_INPUT_PROMPT
from concierge.config import CallState

from .helpers import (
    LengthTranscriber,
    NoiseTranscriber,
    ScriptedTranscriber,
    clip,
    collect,
    fixture_turns,
    make_services,
    noise_bursts,
    pace,
    running_server,
)

GREETING_THEN_DELIVERY = "Bom dia. Tenho uma entrega para a Joana Prado."
IA, USER = CallState.IA_TURN, CallState.USER_TURN


def states(events: list) -> list[CallState]:
    return [event.state for event in events if isinstance(event, StateChanged)]


def turns(events: list) -> list[Turn]:
    return [event for event in events if isinstance(event, Turn)]


def outcomes(events: list) -> list[Outcome]:
    return [event.outcome for event in events if isinstance(event, CallEnded)]


async def send_silence_until(client, condition, seconds: float = 20.0) -> None:
    """Keep the line alive with silence, like a phone, until `condition()` holds or we are hung up on."""
    deadline = time.monotonic() + seconds
    with contextlib.suppress(ConnectionClosed):
        while not condition():
            assert time.monotonic() < deadline, "timed out waiting"
            await pace(client, bytes(320 * 5))


async def after_the_greeting(client, events: list) -> None:
    await send_silence_until(client, lambda: USER in states(events))


def concierge_lines(services, call_id: uuid.UUID) -> list[str]:
    return [line.text for line in services.concierge.conversation(str(call_id)).history if line.role == "concierge"]


# -- a greeting, a pause, the reason for the call --------------------------------------------


def test_a_bare_greeting_and_the_sentence_after_a_pause_are_one_turn_answered_at_the_normal_silence(
    directory, redis_server, tmp_path
):
    hearing = LengthTranscriber("Bom dia.", GREETING_THEN_DELIVERY, seconds=2.0)
    services = make_services(directory, redis_server.url, hearing, tmp_path)
    events: list = []

    async def scenario():
        async with running_server(services, events) as server:
            client = await AudioSocketClient.connect("127.0.0.1", server.port)
            await after_the_greeting(client, events)
            await pace(client, clip("bom_dia") + silence(1.0) + clip("entrega"))
            await send_silence_until(client, lambda: turns(events))
            await pace(client, silence(2.5))
            await client.close()

    asyncio.run(scenario())
    [turn] = turns(events)
    assert turn.transcript == GREETING_THEN_DELIVERY
    assert turn.speculative, "the transcript started in the last pause was used"
    assert turn.response_ms < 1300, "a long turn ends at the configured 0.5 s silence"
    assert min(hearing.heard) < 2.0 < max(hearing.heard)


def test_a_bare_greeting_alone_is_answered_after_the_opening_wait_and_later_short_answers_at_once(
    directory, redis_server, tmp_path
):
    hearing = LengthTranscriber("Bom dia.", "não usado", seconds=2.0)
    services = make_services(directory, redis_server.url, hearing, tmp_path)
    events: list = []

    async def scenario():
        async with running_server(services, events) as server:
            client = await AudioSocketClient.connect("127.0.0.1", server.port)
            await after_the_greeting(client, events)
            await pace(client, clip("bom_dia"))
            await send_silence_until(client, lambda: turns(events) and states(events)[-1:] == [USER])
            await pace(client, clip("bom_dia"))
            await send_silence_until(client, lambda: len(turns(events)) == 2)
            await client.close()

    asyncio.run(scenario())
    first, second = turns(events)
    assert first.transcript == "Bom dia." and first.speculative
    assert 1700 < first.response_ms < 3000, "a short first turn waits the 1.8 s opening silence"
    assert len(hearing.heard) == 2, "each turn was transcribed once, in its first pause"
    assert second.response_ms < 1300, "after the first turn, a short answer ends at the normal silence"


def test_a_complete_first_sentence_is_answered_at_the_normal_silence(directory, redis_server, tmp_path):
    pcm, spoken = fixture_turns("entrega")
    first_turn = pcm[: int(spoken[0]["end_seconds"] * 16000)]
    hearing = ScriptedTranscriber(["Tenho uma entrega para a Joana Prado."] * 3)
    services = make_services(directory, redis_server.url, hearing, tmp_path)
    events: list = []

    async def scenario():
        async with running_server(services, events) as server:
            client = await AudioSocketClient.connect("127.0.0.1", server.port)
            await after_the_greeting(client, events)
            await pace(client, first_turn)
            await send_silence_until(client, lambda: turns(events))
            await client.close()

    asyncio.run(scenario())
    [turn] = turns(events)
    assert turn.speculative and turn.response_ms < 1300


# -- a silent caller ---------------------------------------------------------------------------


def test_a_silent_caller_is_prompted_twice_then_told_goodbye_and_hung_up_on(directory, redis_server, tmp_path):
    services = make_services(directory, redis_server.url, ScriptedTranscriber([]), tmp_path, no_input_prompt_seconds=1.0)
    events: list = []
    call_id = uuid.uuid4()

    async def scenario():
        async with running_server(services, events) as server:
            client = await AudioSocketClient.connect("127.0.0.1", server.port, call_id)
            listener = asyncio.create_task(collect(client, 30))
            await send_silence_until(client, listener.done, seconds=30)
            frames, hung_up = await listener
            await client.close()
            return hung_up

    assert asyncio.run(scenario()) is True
    assert outcomes(events) == [Outcome.NO_INPUT]
    assert states(events) == [IA, USER, IA, USER, IA, USER, IA, CallState.STANDBY]
    assert concierge_lines(services, call_id)[1:] == [NO_INPUT_PROMPT, NO_INPUT_PROMPT]
    assert turns(events) == []


def test_with_the_default_five_seconds_a_caller_who_sends_nothing_is_released_within_about_20_s(
    directory, redis_server, tmp_path
):
    services = make_services(directory, redis_server.url, ScriptedTranscriber([]), tmp_path)
    events: list = []
    listening_since: list[float] = []

    def note_the_greetings_end(event) -> None:
        if isinstance(event, StateChanged) and event.state == USER and not listening_since:
            listening_since.append(time.monotonic())

    async def scenario():
        async with running_server(services, events, note_the_greetings_end) as server:
            client = await AudioSocketClient.connect("127.0.0.1", server.port)  # a phone in DTX: no frames at all
            _, hung_up = await collect(client, 40)
            await client.close()
            return hung_up, time.monotonic()

    hung_up, hung_up_at = asyncio.run(scenario())
    assert hung_up and outcomes(events) == [Outcome.NO_INPUT]
    assert hung_up_at - listening_since[0] < 25, "three 5 s silences and three short phrases, not max_transaction_time"


def test_speech_after_a_prompt_starts_the_count_over(directory, redis_server, tmp_path):
    pcm, spoken = fixture_turns("entrega")
    first_turn = pcm[int(spoken[0]["start_seconds"] * 16000) - 4800 : int(spoken[0]["end_seconds"] * 16000)]
    hearing = ScriptedTranscriber(["Tenho uma entrega para a Joana Prado."] * 3)
    services = make_services(directory, redis_server.url, hearing, tmp_path, no_input_prompt_seconds=1.0)
    events: list = []
    call_id = uuid.uuid4()

    async def scenario():
        async with running_server(services, events) as server:
            client = await AudioSocketClient.connect("127.0.0.1", server.port, call_id)
            listener = asyncio.create_task(collect(client, 40))
            await send_silence_until(client, lambda: states(events).count(IA) == 2 and states(events)[-1:] == [USER])
            await pace(client, first_turn)  # answers the first prompt
            await send_silence_until(client, listener.done, seconds=30)
            _, hung_up = await listener
            await client.close()
            return hung_up

    assert asyncio.run(scenario()) is True
    assert len(turns(events)) == 1
    assert outcomes(events) == [Outcome.NO_INPUT]
    assert concierge_lines(services, call_id).count(NO_INPUT_PROMPT) == 3, "one before the visitor spoke, two after"


def test_a_key_pressed_in_the_silence_starts_the_count_over(directory, redis_server, tmp_path):
    services = make_services(directory, redis_server.url, ScriptedTranscriber([]), tmp_path, no_input_prompt_seconds=1.0)
    events: list = []

    async def scenario():
        async with running_server(services, events) as server:
            client = await AudioSocketClient.connect("127.0.0.1", server.port)
            await after_the_greeting(client, events)
            for _ in range(6):  # a key every 0.6 s: never a second of silence (and never '#')
                await pace(client, silence(0.6))
                await client.send_dtmf("1")
            prompted_while_typing = states(events).count(IA) > 1
            await client.close()
            return prompted_while_typing

    assert asyncio.run(scenario()) is False


# -- line noise --------------------------------------------------------------------------------


def test_line_noise_never_becomes_a_turn_and_the_silent_caller_is_still_released(directory, redis_server, tmp_path):
    hearing = NoiseTranscriber()
    services = make_services(directory, redis_server.url, hearing, tmp_path, no_input_prompt_seconds=2.0)
    events: list = []
    call_id = uuid.uuid4()
    noise = noise_bursts(90, level_dbfs=-25.0, seed=3)

    async def scenario():
        async with running_server(services, events) as server:
            client = await AudioSocketClient.connect("127.0.0.1", server.port, call_id)
            listener = asyncio.create_task(collect(client, 80))
            sender = asyncio.create_task(pace(client, noise))
            _, hung_up = await listener
            sender.cancel()
            await client.close()
            return hung_up

    assert asyncio.run(scenario()) is True
    assert hearing.calls >= 2, "the noise did reach speech recognition"
    assert turns(events) == [], "and none of what it made of it reached the brain"
    assert outcomes(events) == [Outcome.NO_INPUT]
    history = services.concierge.conversation(str(call_id)).history
    assert [line.role for line in history if line.role == "visitor"] == []
    assert CallState.WAITING in states(events)


# -- the visitor's name, in their voice ---------------------------------------------------------


def test_the_turn_that_gives_or_changes_the_visitors_name_is_reported_with_its_audio(directory, redis_server, tmp_path):
    pcm, spoken = fixture_turns("primeiro_nome")
    texts = ["Oi, sou a Patrícia, vim visitar uma amiga.", "É a Camila. Meu nome completo é Patrícia Lima."]
    services = make_services(directory, redis_server.url, LengthTranscriber(texts[0], texts[1], seconds=3.9), tmp_path)
    events: list = []

    async def scenario():
        async with running_server(services, events) as server:
            client = await AudioSocketClient.connect("127.0.0.1", server.port)
            for index, turn in enumerate(spoken):
                await send_silence_until(client, lambda: len(turns(events)) == index and states(events)[-1:] == [USER])
                start, end = int(turn["start_seconds"] * 16000) - 3200, int(turn["end_seconds"] * 16000)
                await pace(client, pcm[start:end], speed=2.0)
            await send_silence_until(client, lambda: len(turns(events)) == len(spoken))
            await client.close()

    asyncio.run(scenario())
    heard = [event for event in events if isinstance(event, VisitorNameHeard)]
    assert [(event.turn, event.visitor_name) for event in heard] == [(1, "Patrícia"), (2, "Patrícia Lima")]
    for event, turn in zip(heard, spoken):
        assert event.sample_rate == 8000
        assert abs(event.seconds - (turn["end_seconds"] - turn["start_seconds"])) < 1.0
