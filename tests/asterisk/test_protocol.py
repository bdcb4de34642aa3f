"""The Manager wire format: banner, blocks of Key: Value, repeated keys, limits, no line-break smuggling."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from concierge.asterisk.protocol import Message, Parser, ProtocolError, encode_action, encode_message

STREAM = (
    b"Asterisk Call Manager/9.0.0\r\n"
    b"Response: Success\r\nActionID: a1\r\nMessage: Authentication accepted\r\n\r\n"
    b"Event: FullyBooted\r\nPrivilege: system,all\r\nStatus: Fully Booted\r\n\r\n"
)


def test_banner_then_responses_and_events():
    parser = Parser()
    messages = parser.feed(STREAM)
    assert parser.banner == "Asterisk Call Manager/9.0.0"
    assert [m.response for m in messages] == ["Success", None]
    assert messages[0].action_id == "a1" and messages[0].succeeded
    assert messages[1].event == "FullyBooted" and messages[1].get("status") == "Fully Booted"


@given(st.lists(st.integers(min_value=1, max_value=len(STREAM) - 1), max_size=8))
def test_any_split_of_the_stream_gives_the_same_messages(cuts):
    parser, messages, last = Parser(), [], 0
    for cut in sorted(set(cuts)) + [len(STREAM)]:
        messages += parser.feed(STREAM[last:cut])
        last = cut
    assert messages == Parser().feed(STREAM)


def test_a_value_may_contain_colons_and_keys_may_repeat():
    message = Parser().feed(STREAM[:30] + b"Event: X\r\nData: PJSIP/104,30,tT\r\nVariable: a=1\r\nVariable: b=2\r\n\r\n")[0]
    assert message.get("Data") == "PJSIP/104,30,tT"
    assert message.get_all("variable") == ["a=1", "b=2"]


def test_not_a_manager_port_is_refused():
    with pytest.raises(ProtocolError, match="not an Asterisk Manager banner"):
        Parser().feed(b"HTTP/1.1 400 Bad Request\r\n")


def test_an_endless_message_is_refused():
    parser = Parser(max_message=1024)
    parser.feed(b"Asterisk Call Manager/9.0.0\r\n")
    with pytest.raises(ProtocolError, match="longer than"):
        parser.feed(b"Event: X\r\nData: " + b"x" * 2000)


def test_actions_repeat_list_values_and_skip_none():
    data = encode_action("Originate", {"ActionID": "7", "Priority": 1, "CallerID": None, "Variable": ["A=1", "B=2"]})
    assert data == b"Action: Originate\r\nActionID: 7\r\nPriority: 1\r\nVariable: A=1\r\nVariable: B=2\r\n\r\n"


@pytest.mark.parametrize("value", ["Carlos\r\nAction: Redirect", "x\ny"])
def test_a_value_cannot_smuggle_another_action(value):
    with pytest.raises(ProtocolError, match="line break"):
        encode_action("Originate", {"CallerID": value})


def test_server_blocks_round_trip():
    headers = (("Event", "Hangup"), ("Channel", "PJSIP/104-0001"))
    parser = Parser()
    parser.feed(b"Asterisk Call Manager/9.0.0\r\n")
    assert parser.feed(encode_message(headers)) == [Message(headers)]
