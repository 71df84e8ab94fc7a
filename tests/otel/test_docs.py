"""docs/otel.md lists every attribute and event name the mapping produces."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from flowtrace.otel import attributes as A
from flowtrace.otel.mapping import MappingOptions, spans_from_events

from . import scenarios as S

DOC = (Path(__file__).resolve().parents[2] / "docs" / "otel.md").read_text()


def documented(name: str) -> bool:
    return f"`{name}`" in DOC


def pattern(name: str) -> str:
    name = re.sub(r"^flowtrace\.input\.\d+\.", "flowtrace.input.<port>.", name)
    return re.sub(r"^flowtrace\.output\.\d+$", "flowtrace.output.<i>", name)


@pytest.mark.parametrize("name", A.ATTRIBUTES)
def test_every_declared_attribute_is_documented(name: str) -> None:
    assert documented(name)


@pytest.mark.parametrize("field", A.INPUT_FIELDS)
def test_every_input_attribute_field_is_documented(field: str) -> None:
    assert documented(f"flowtrace.input.<port>.{field}")


@pytest.mark.parametrize("name", A.EVENT_NAMES)
def test_every_event_name_is_documented(name: str) -> None:
    assert documented(name)


def test_everything_the_mapping_produces_is_declared_and_documented() -> None:
    seen: set[str] = set()
    events: set[str] = set()
    for scenario in (
        S.dag,
        S.cycle,
        S.stream_cancel,
        S.error,
        lambda: S.many_items(200),
        S.offloaded,
    ):
        for mode in ("events", "spans"):
            options = MappingOptions(stream_items=mode)
            for span in spans_from_events(scenario().events, options, seed=1):
                seen.update(pattern(k) for k in span.attributes)
                for event in span.events:
                    events.add(event.name)
                    seen.update(pattern(k) for k in event.attributes)
                for link in span.links:
                    seen.update(pattern(k) for k in link.attributes)
    undocumented = sorted(name for name in seen | events if not documented(name))
    assert undocumented == []
    assert events <= set(A.EVENT_NAMES)
