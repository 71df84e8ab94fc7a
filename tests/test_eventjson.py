"""Events survive the trip to a JSON line and back exactly, and bad lines are named.

The round trip is checked on one instance of every class in ``EVENT_TYPES``, built
generically from the class's field types, so a new event kind is covered the day it is
added.
"""

from __future__ import annotations

import json
import math
import types
import typing
from collections.abc import Sequence
from typing import Any, Literal

import msgspec
import pytest

from flowtrace.eventjson import (
    DECODER,
    EventDecodeError,
    UnknownKindError,
    decode_event,
    decode_line,
    encode_event,
    encode_lines,
    event_to_json,
)
from flowtrace.events import (
    EVENT_TYPES,
    ErrorInfo,
    Event,
    FlowStarted,
    GraphInfo,
    InputRead,
    InputsGathered,
    NodeErrored,
    NodeInfo,
    NodeStarted,
    PortInfo,
    SleepBegan,
)

REPRESENTATIVE_JSON: Any = {
    "text": 'héllo\n"quoted" \udc80',
    "n": [1, -2.5, True, None],
    "repr": {"$repr": "<Thing at 0x1>", "$type": "mod.Thing", "$truncated": False},
}


def sample_value(tp: Any, name: str, fill_optional: bool, salt: int) -> Any:
    """A representative value of declared type ``tp`` (``None`` for optionals unless
    ``fill_optional``)."""
    origin = typing.get_origin(tp)
    if tp is Any:
        return REPRESENTATIVE_JSON if fill_optional else 7
    if origin in (typing.Union, types.UnionType):
        args: Sequence[Any] = [a for a in typing.get_args(tp) if a is not type(None)]
        if not fill_optional and len(args) < len(typing.get_args(tp)):
            return None
        return sample_value(args[0], name, fill_optional, salt)
    if origin is Literal:
        return typing.get_args(tp)[salt % len(typing.get_args(tp))]
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(sample_value(args[0], name, fill_optional, salt + k) for k in range(2))
        return tuple(sample_value(a, name, fill_optional, salt) for a in args)
    if isinstance(tp, type) and issubclass(tp, msgspec.Struct):
        return sample_instance(tp, fill_optional, salt)
    if tp is int:
        return 1_000_000_007 + salt
    if tp is float:
        return 0.25 + salt
    if tp is bool:
        return bool(salt % 2)
    if tp is str:
        return f"{name}-é-{salt}\t"
    raise AssertionError(f"no sample for {tp!r} ({name})")


def sample_instance(cls: type, fill_optional: bool, salt: int = 0) -> Any:
    hints = typing.get_type_hints(cls)
    values = [
        sample_value(hints[name], name, fill_optional, salt + i)
        for i, name in enumerate(f.name for f in msgspec.structs.fields(cls))
    ]
    return cls(*values)


@pytest.mark.parametrize("fill_optional", [True, False], ids=["filled", "nulls"])
@pytest.mark.parametrize("event_type", EVENT_TYPES, ids=lambda t: t.__name__)
def test_every_event_kind_round_trips_equal(event_type: type[Event], fill_optional: bool) -> None:
    event = sample_instance(event_type, fill_optional)
    line = encode_event(event)
    back = decode_event(json.loads(line))
    # Struct equality compares field values, so a list where a tuple was written (or
    # an int where a float was) would fail here.
    assert back == event
    assert type(back) is event_type
    assert decode_line(line) == event  # the reader's path (the json module's for a
    # line with a lone surrogate, which msgspec cannot write as UTF-8)
    assert "\n" not in line
    assert encode_lines([event, event]) == (line + "\n").encode() * 2


def test_a_line_is_a_compact_object_with_kind_first_then_fields_in_order() -> None:
    event = NodeStarted(3, 44, "flow-1", "sum", (2, 1), 1)
    line = encode_event(event)
    assert line == (
        '{"kind":"NodeStarted","seq":3,"t_ns":44,"run_id":"flow-1","node_id":"sum",'
        '"generation":[2,1],"run_level":1}'
    )
    assert list(event_to_json(event)) == [
        "kind",
        "seq",
        "t_ns",
        "run_id",
        "node_id",
        "generation",
        "run_level",
    ]


def test_nested_records_are_objects_without_a_kind() -> None:
    port = PortInfo(0, "x", 0, True, 5, None, None)
    graph = GraphInfo((NodeInfo("a", "A", "mono", False, False, (port,), 1),))
    obj: dict[str, Any] = event_to_json(FlowStarted(0, 1, "r", "f", 2, graph))
    node = obj["graph"]["nodes"][0]
    assert node["inputs"][0] == {
        "index": 0,
        "name": "x",
        "min_run_level": 0,
        "has_default": True,
        "default": 5,
        "producer": None,
        "producer_output": None,
    }
    assert "kind" in node and node["kind"] == "mono"  # NodeInfo's own field, not a tag


def test_text_is_written_as_utf8_and_read_back_by_msgspec() -> None:
    event = NodeStarted(0, 1, "r", "n\u00e9\u2603\U0001f600", (0,), 0)
    line = encode_event(event)
    assert "n\u00e9\u2603\U0001f600" in line and "\\u" not in line
    assert DECODER.decode(line.encode()) == event


def test_a_lone_surrogate_is_written_as_an_ascii_escape_and_read_back_exactly() -> None:
    event = NodeStarted(0, 1, "r", "file-\udc80", (0,), 0)
    line = encode_event(event)
    assert line.isascii() and "\\udc80" in line
    assert decode_line(line) == event


def test_a_sleep_without_end_is_null_and_infinity_tokens_still_read() -> None:
    event = SleepBegan(0, 1, "r", 1, None, None)
    assert '"duration":null,"deadline":null' in encode_event(event)
    assert decode_line(encode_event(event)) == event
    # Schema 1.x wrote Infinity tokens, which msgspec does not parse: the json module
    # reads such a line, msgspec converts it.
    old = '{"kind":"SleepBegan","seq":0,"t_ns":1,"run_id":"r","task_id":1,'
    back = decode_line(old + '"duration":Infinity,"deadline":NaN}')
    assert isinstance(back, SleepBegan) and back.duration == math.inf
    assert back.deadline is not None and math.isnan(back.deadline)


def _obj(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "kind": "NodeStarted",
        "seq": 1,
        "t_ns": 2,
        "run_id": "r",
        "node_id": "a",
        "generation": [0],
        "run_level": 0,
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not ...}


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        (_obj(seq="1"), "NodeStarted: Expected `int`, got `str` - at `$.seq`"),
        (_obj(seq=True), "NodeStarted: Expected `int`, got `bool` - at `$.seq`"),
        (_obj(generation=["x"]), "Expected `int`, got `str` - at `$.generation[0]`"),
        (_obj(generation=5), "- at `$.generation`"),
        (_obj(run_level=...), "NodeStarted: Object missing required field `run_level`"),
        ({"seq": 1}, "no 'kind'"),
        ([1, 2], "expected a JSON object"),
    ],
)
def test_a_bad_object_is_refused_naming_the_field(obj: Any, message: str) -> None:
    with pytest.raises(EventDecodeError) as info:
        decode_event(obj)
    assert message in str(info.value)


def test_a_bad_nested_record_names_its_path() -> None:
    obj: dict[str, Any] = event_to_json(
        InputsGathered(0, 1, "r", "a", (0,), (InputRead(0, "p", 0, (1,), 3, False, False),), ())
    )
    obj["inputs"][0]["producer_generation"] = "one"
    with pytest.raises(EventDecodeError, match=r"at `\$\.inputs\[0\]\.producer_generation`"):
        decode_event(obj)
    obj["inputs"] = [5]
    with pytest.raises(
        EventDecodeError,
        match=r"InputsGathered: Expected `object`, got `int` - at `\$\.inputs\[0\]`",
    ):
        decode_event(obj)


def test_an_unknown_kind_is_its_own_error() -> None:
    with pytest.raises(UnknownKindError) as info:
        decode_event({"kind": "FromTheFuture", "seq": 0})
    assert info.value.kind == "FromTheFuture"


def test_unknown_fields_are_ignored_and_newer_files_get_missing_ones_filled() -> None:
    assert decode_event(_obj(added_later=[1])) == NodeStarted(1, 2, "r", "a", (0,), 0)
    with pytest.warns(UserWarning, match="missing field 'generation'"):
        event = decode_event(_obj(generation=...), allow_newer=True)
    assert event == NodeStarted(1, 2, "r", "a", None, 0)


def test_newer_files_may_lack_fields_of_nested_records_too() -> None:
    obj: dict[str, Any] = event_to_json(
        FlowStarted(
            0, 1, "r", "f", 2, GraphInfo((NodeInfo("a", "A", "mono", False, False, (), 1),))
        )
    )
    obj["graph"]["nodes"][0]["colour"] = "red"
    del obj["graph"]["nodes"][0]["stateful"]
    with pytest.raises(EventDecodeError, match="missing required field `stateful`"):
        decode_event(obj)
    with pytest.warns(UserWarning, match="missing field 'stateful'"):
        back = decode_event(obj, allow_newer=True)
    assert isinstance(back, FlowStarted) and back.graph.nodes[0].node_id == "a"
    assert back.graph.nodes[0].stateful is False


def test_error_text_with_control_characters_survives_exactly() -> None:
    info = ErrorInfo("ValueError", "bad\x00 value \u2603\r", "Traceback…\n  line\n")
    event = NodeErrored(5, 6, "r", "a", (0,), info, "call")
    line = encode_event(event)
    assert "\n" not in line and "\r" not in line
    assert decode_event(json.loads(line)) == event
