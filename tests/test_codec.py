"""The value codec: user values become bounded plain JSON data, once, at event time."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from flowtrace.codec import DEFAULT_CODEC, OMITTED, REDACTED, ValueCodec, describe, is_marker


@pytest.mark.parametrize("value", [None, True, False, 0, -7, 2**70, 1.5, "", "text"])
def test_json_scalars_pass_unchanged(value: Any) -> None:
    assert DEFAULT_CODEC.encode(value) == value
    assert type(DEFAULT_CODEC.encode(value)) is type(value)


def test_small_lists_and_dicts_are_copied() -> None:
    value: dict[str, Any] = {"a": [1, 2, {"b": None}], "c": "d"}
    encoded = DEFAULT_CODEC.encode(value)
    assert encoded == value and encoded is not value
    value["a"].append(3)
    assert encoded == {"a": [1, 2, {"b": None}], "c": "d"}  # later mutation is not seen
    json.dumps(encoded)


@pytest.mark.parametrize(
    ("value", "type_name"),
    [
        ((1, 2), "tuple"),
        ({1, 2}, "set"),
        (b"bytes", "bytes"),
        (math.nan, "float"),
        (math.inf, "float"),
        ({1: "int key"}, "dict"),
        ({"$repr": "spoof"}, "dict"),
        ([1, (2,)], "list"),
    ],
)
def test_anything_else_becomes_a_repr_marker(value: Any, type_name: str) -> None:
    encoded = DEFAULT_CODEC.encode(value)
    assert is_marker(encoded)
    assert encoded == {"$repr": repr(value), "$type": type_name, "$truncated": False}


def test_objects_are_named_by_qualified_type() -> None:
    class Thing:
        def __repr__(self) -> str:
            return "<thing>"

    encoded = DEFAULT_CODEC.encode(Thing())
    assert encoded == {
        "$repr": "<thing>",
        "$type": f"{__name__}.test_objects_are_named_by_qualified_type.<locals>.Thing",
        "$truncated": False,
    }


def test_long_strings_and_reprs_are_cut_and_marked() -> None:
    codec = ValueCodec(max_repr=10)
    encoded = codec.encode("x" * 50)
    assert isinstance(encoded, dict)
    assert encoded["$truncated"] is True and len(str(encoded["$repr"])) == 10
    assert codec.encode("x" * 10) == "x" * 10


def test_big_or_deep_containers_become_markers() -> None:
    codec = ValueCodec(max_items=5, max_depth=2)
    assert codec.encode([1, 2, 3, 4]) == [1, 2, 3, 4]
    assert is_marker(codec.encode(list(range(10))))
    assert codec.encode([["ok"]]) == [["ok"]]
    assert is_marker(codec.encode([[["too deep"]]]))


def test_a_broken_repr_does_not_break_encoding() -> None:
    class Broken:
        def __repr__(self) -> str:
            raise RuntimeError("no")

    encoded = DEFAULT_CODEC.encode(Broken())
    assert isinstance(encoded, dict)
    assert encoded["$repr"] == "<repr failed: RuntimeError>"


def test_no_values_mode_omits_everything() -> None:
    codec = ValueCodec(include_values=False)
    first = codec.encode("secret")
    assert first == OMITTED and first is not OMITTED
    assert codec.encode_tuple((1, 2)) == [OMITTED, OMITTED]


def test_redaction_hook_replaces_or_redacts_values() -> None:
    def redact(value: Any) -> Any:
        if value == "password":
            return REDACTED
        if isinstance(value, dict) and "token" in value:
            return {**value, "token": "***"}
        return value

    codec = ValueCodec(redact=redact)
    assert codec.encode("password") == {"$redacted": True}
    assert codec.encode({"token": "abc", "user": "me"}) == {"token": "***", "user": "me"}
    assert codec.encode(3) == 3


def test_describe_gives_short_text() -> None:
    assert describe("hi") == "'hi'"
    assert describe([1, "a"]) == "[1, 'a']"
    assert describe({"k": None}) == "{'k': None}"
    assert describe({"$repr": "(1, 2)", "$type": "tuple", "$truncated": False}) == "(1, 2)"
    assert describe({"$repr": "abc", "$type": "str", "$truncated": True}) == "abc…"
    assert describe(OMITTED) == "<omitted>" and describe(REDACTED) == "<redacted>"
    assert describe("x" * 100, limit=10) == "'xxxxxxxx…"
    assert not is_marker({"plain": 1}) and not is_marker(3)


def test_codec_is_immutable() -> None:
    with pytest.raises(AttributeError):
        DEFAULT_CODEC.max_repr = 5  # type: ignore[misc]
