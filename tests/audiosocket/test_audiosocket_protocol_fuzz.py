"""Property-based fuzzing of the AudioSocket parser: chunking never matters, junk never crashes."""

from hypothesis import given
from hypothesis import strategies as st

from concierge.audiosocket.protocol import (
    DTMF_DIGITS,
    Audio,
    Dtmf,
    Error,
    Hangup,
    Message,
    Parser,
    ProtocolError,
    Uuid,
    encode,
)

RATES = [8000, 12000, 16000, 24000, 32000, 44100, 48000, 96000, 192000]

pcm = st.integers(min_value=1, max_value=350).flatmap(
    lambda samples: st.binary(min_size=2 * samples, max_size=2 * samples)
)
messages = st.one_of(
    st.just(Hangup()),
    st.uuids().map(Uuid),
    st.sampled_from(sorted(DTMF_DIGITS)).map(Dtmf),
    st.builds(Audio, pcm, st.sampled_from(RATES)),
    st.binary(max_size=16).map(Error),
)


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    """`data` split at the given offsets."""
    edges = [0, *sorted({cut % (len(data) + 1) for cut in cuts}), len(data)]
    return [data[start:end] for start, end in zip(edges, edges[1:])]


def parse_all(chunks: list[bytes]) -> list[Message]:
    parser = Parser()
    return [message for chunk in chunks for message in parser.feed(chunk)]


def parse_until_error(chunks: list[bytes]) -> tuple[list[Message], str | None]:
    """Every message delivered, including those riding on the error, and the error text."""
    parser = Parser()
    delivered: list[Message] = []
    try:
        for chunk in chunks:
            delivered += parser.feed(chunk)
    except ProtocolError as error:
        return delivered + error.messages, str(error)
    return delivered, None


@given(st.lists(messages, max_size=20), st.lists(st.integers(min_value=0), max_size=40))
def test_any_chunking_of_a_valid_stream_yields_the_same_messages(sent, cuts):
    stream = b"".join(encode(message) for message in sent)
    assert parse_all(chunked(stream, cuts)) == sent


@given(messages)
def test_encoding_then_parsing_any_message_gives_it_back(message):
    assert Parser().feed(encode(message)) == [message]


@given(st.binary(max_size=2000), st.lists(st.integers(min_value=0), max_size=20))
def test_arbitrary_bytes_either_parse_or_raise_protocol_error(data, cuts):
    try:
        parse_all(chunked(data, cuts))
    except ProtocolError:
        pass


@given(st.lists(messages, min_size=1, max_size=5), st.binary(min_size=1, max_size=200))
def test_junk_after_valid_frames_either_parses_or_raises_protocol_error(sent, junk):
    parser = Parser()
    assert parser.feed(b"".join(encode(message) for message in sent)) == sent
    try:
        parser.feed(junk)
    except ProtocolError:
        pass


@given(
    st.lists(messages, max_size=6),
    st.binary(min_size=1, max_size=100),
    st.lists(st.integers(min_value=0), max_size=20),
)
def test_chunking_never_changes_what_is_delivered_before_an_error(sent, junk, cuts):
    stream = b"".join(encode(message) for message in sent) + junk
    assert parse_until_error(chunked(stream, cuts)) == parse_until_error([stream])


@given(
    st.lists(messages, min_size=1, max_size=8),
    st.lists(st.tuples(st.integers(min_value=0), st.integers(0, 255)), min_size=1, max_size=4),
    st.lists(st.integers(min_value=0), max_size=10),
)
def test_corrupted_valid_streams_either_parse_or_raise_protocol_error(sent, corruptions, cuts):
    stream = bytearray(b"".join(encode(message) for message in sent))
    for position, value in corruptions:
        stream[position % len(stream)] = value
    try:
        parse_all(chunked(bytes(stream), cuts))
    except ProtocolError:
        pass
