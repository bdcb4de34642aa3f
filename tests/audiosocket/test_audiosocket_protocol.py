"""The sans-IO AudioSocket codec: framing, round trips, validation and parser limits."""

import uuid

import pytest

from concierge.audiosocket.protocol import (
    DTMF_DIGITS,
    FRAME_BYTES,
    Audio,
    Dtmf,
    Error,
    Hangup,
    Kind,
    Parser,
    ProtocolError,
    Uuid,
    audio_kind_for,
    encode,
    encode_audio,
    encode_dtmf,
    encode_for_asterisk,
    encode_hangup,
    encode_uuid,
    is_audio_kind,
    sample_rate_of,
    split_audio,
)

CALL_ID = uuid.UUID("4c1d2c4e-8a55-4a7e-b0a4-3f7d2e9a1b01")
RATES = {
    Kind.AUDIO: 8000,
    Kind.AUDIO_12K: 12000,
    Kind.AUDIO_16K: 16000,
    Kind.AUDIO_24K: 24000,
    Kind.AUDIO_32K: 32000,
    Kind.AUDIO_44K: 44100,
    Kind.AUDIO_48K: 48000,
    Kind.AUDIO_96K: 96000,
    Kind.AUDIO_192K: 192000,
}
EVERY_KIND_OF_MESSAGE = [
    Hangup(),
    Uuid(CALL_ID),
    *(Dtmf(digit) for digit in sorted(DTMF_DIGITS)),
    *(Audio(bytes(range(64)) * 5, rate) for rate in RATES.values()),
    Error(b"\x01"),
    Error(),
]


@pytest.mark.parametrize("message", EVERY_KIND_OF_MESSAGE, ids=repr)
def test_every_message_survives_encode_then_parse(message):
    assert Parser().feed(encode(message)) == [message]


def test_kind_bytes_match_the_asterisk_wire_values():
    fixed = [Kind.HANGUP, Kind.UUID, Kind.DTMF, Kind.AUDIO, Kind.ERROR]
    assert fixed == [0x00, 0x01, 0x03, 0x10, 0xFF]
    assert [int(kind) for kind in RATES] == list(range(0x10, 0x19))


@pytest.mark.parametrize(("kind", "rate"), RATES.items())
def test_audio_kinds_map_to_their_sample_rates_both_ways(kind, rate):
    assert is_audio_kind(kind)
    assert sample_rate_of(kind) == rate
    assert audio_kind_for(rate) is kind


@pytest.mark.parametrize("kind", [Kind.HANGUP, Kind.UUID, Kind.DTMF, Kind.ERROR])
def test_non_audio_kinds_have_no_sample_rate(kind):
    assert not is_audio_kind(kind)
    with pytest.raises(ValueError):
        sample_rate_of(kind)


def test_unknown_sample_rate_has_no_audio_kind():
    with pytest.raises(ValueError):
        audio_kind_for(22050)


def test_frame_length_is_big_endian_and_audio_bytes_pass_through_untouched():
    pcm = b"\x01\x02" * 160
    assert encode_audio(pcm) == b"\x10\x01\x40" + pcm


def test_uuid_frame_carries_the_16_raw_bytes():
    assert encode_uuid(CALL_ID) == b"\x01\x00\x10" + CALL_ID.bytes


def test_convenience_encoders_build_the_expected_frames():
    assert encode_hangup() == b"\x00\x00\x00"
    assert encode_dtmf("#") == b"\x03\x00\x01#"
    assert encode_audio(b"\x00\x00", 16000) == b"\x12\x00\x02\x00\x00"


@pytest.mark.parametrize(
    "message",
    [
        Audio(b""),
        Audio(b"\x00"),
        Audio(b"\x00\x00", 22050),
        Audio(b"\x00" * 0x10000),
        Dtmf("e"),
        Dtmf("12"),
        Dtmf(""),
    ],
    ids=repr,
)
def test_encode_refuses_messages_the_parser_would_reject(message):
    with pytest.raises(ValueError):
        encode(message)


def test_encode_refuses_objects_that_are_not_messages():
    with pytest.raises(TypeError):
        encode("hello")  # type: ignore[arg-type]


def test_encode_for_asterisk_passes_hangup_and_audio():
    assert encode_for_asterisk(Hangup()) == b"\x00\x00\x00"
    assert encode_for_asterisk(Audio(b"\x00\x01")) == b"\x10\x00\x02\x00\x01"


@pytest.mark.parametrize(
    "message", [Uuid(CALL_ID), Dtmf("1"), Error(b"\x01"), Audio(b""), Audio(b"\x00" * 3)], ids=repr
)
def test_encode_for_asterisk_refuses_what_would_tear_the_call_down(message):
    with pytest.raises(ValueError):
        encode_for_asterisk(message)


def test_split_audio_cuts_320_byte_frames_and_keeps_a_short_tail():
    frames = split_audio(b"\x00\x01" * 439)
    assert [len(frame) for frame in frames] == [FRAME_BYTES, FRAME_BYTES, 238]
    assert b"".join(frames) == b"\x00\x01" * 439


@pytest.mark.parametrize(
    ("pcm", "frame_bytes"), [(b"", 320), (b"\x00" * 3, 320), (b"\x00" * 4, 3), (b"\x00" * 4, 0)]
)
def test_split_audio_refuses_empty_or_odd_input(pcm, frame_bytes):
    with pytest.raises(ValueError):
        split_audio(pcm, frame_bytes)


def test_parser_fed_one_byte_at_a_time_yields_every_message_once():
    stream = b"".join(encode(message) for message in EVERY_KIND_OF_MESSAGE)
    parser = Parser()
    messages = [message for byte in stream for message in parser.feed(bytes([byte]))]
    assert messages == EVERY_KIND_OF_MESSAGE
    assert not parser.has_partial_frame


def test_parser_reports_a_buffered_partial_frame_until_it_completes():
    frame = encode_audio(b"\x00\x00" * 160)
    parser = Parser()
    assert parser.feed(frame[:100]) == []
    assert parser.has_partial_frame
    assert parser.feed(frame[100:]) == [Audio(b"\x00\x00" * 160)]
    assert not parser.has_partial_frame


def test_hangup_payload_is_ignored():
    assert Parser().feed(b"\x00\x00\x02\xab\xcd") == [Hangup()]


def test_unknown_kind_is_refused_from_its_first_byte():
    with pytest.raises(ProtocolError, match="0x02"):
        Parser().feed(b"\x02")


def test_length_above_the_limit_is_refused_from_the_header_alone():
    with pytest.raises(ProtocolError, match="limit"):
        Parser().feed(b"\x10\xff\xfe")


def test_payload_limit_is_configurable():
    frame = encode_audio(b"\x00" * 640)
    assert Parser(max_payload=640).feed(frame) == [Audio(b"\x00" * 640)]
    with pytest.raises(ProtocolError):
        Parser(max_payload=320).feed(frame[:3])


@pytest.mark.parametrize("max_payload", [0, -1, 0x10000])
def test_payload_limit_must_fit_the_length_field(max_payload):
    with pytest.raises(ValueError):
        Parser(max_payload=max_payload)


@pytest.mark.parametrize(
    "data",
    [
        b"\x01\x00\x0f" + b"\x00" * 15,
        b"\x01\x00\x11",
        b"\x03\x00\x00",
        b"\x03\x00\x02" + b"12",
        b"\x03\x00\x01" + b"x",
        b"\x03\x00\x01" + b"a",
        b"\x10\x00\x00",
        b"\x10\x00\x03" + b"\x00" * 3,
        b"\x18\x00\x01",
    ],
    ids=[
        "short-uuid",
        "long-uuid",
        "empty-dtmf",
        "two-digit-dtmf",
        "bad-digit",
        "lowercase-digit",
        "empty-audio",
        "odd-audio",
        "odd-192k",
    ],
)
def test_malformed_frames_raise_protocol_error(data):
    with pytest.raises(ProtocolError):
        Parser().feed(data)


def test_parser_is_dead_after_an_error():
    parser = Parser()
    with pytest.raises(ProtocolError):
        parser.feed(b"\x42")
    with pytest.raises(ProtocolError, match="already failed"):
        parser.feed(encode_hangup())
    assert not parser.has_partial_frame


def test_messages_before_a_bad_frame_in_the_same_chunk_ride_on_the_error():
    parser = Parser()
    parser.feed(encode_dtmf("1")[:2])
    with pytest.raises(ProtocolError) as raised:
        parser.feed(encode_dtmf("1")[2:] + encode_hangup() + b"\x42")
    assert raised.value.messages == [Dtmf("1"), Hangup()]
