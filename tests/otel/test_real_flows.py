"""Real flows on the engine, traced live by ``OTelInstrument`` and recorded to a file
that is exported later: the spans are right, and both paths give the same spans."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Literal

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import StatusCode

from flowtrace import FlowHDL, Stream, StreamCancelled, TerminateLimitReached, node
from flowtrace.otel import OTelInstrument, send_events
from flowtrace.otel import attributes as A
from flowtrace.record import Recorder
from flowtrace.tracefile import iter_events

from .receivers import closed_port
from .test_instrument import attributes_of, shape

pytestmark = pytest.mark.timeout(20)


@node
async def Const(v: int = 1) -> int:
    return v


@node
async def Add(x: int, y: int) -> int:
    return x + y


@node
async def Increment(x: int = 42) -> int:
    return x + 1


@node
async def Boom(x: int) -> int:
    raise ValueError(f"boom at {x}")


@node
async def Source() -> AsyncIterator[int]:
    try:
        for i in range(5):
            yield i
    except StreamCancelled:
        raise


@node(stream_in=["xs"])
async def TakeTwo(xs: Stream[int]) -> int:
    got = []
    async for x in xs:
        got.append(x)
        if len(got) == 2:
            await xs.cancel()
            break
    return sum(got)


def by_name(spans: Any, name: str) -> list[ReadableSpan]:
    return sorted((s for s in spans if s.name == name), key=lambda s: s.start_time or 0)


def one(spans: Any, name: str) -> ReadableSpan:
    [span] = by_name(spans, name)
    return span


def attrs(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def test_a_dag(memory: Any) -> None:
    provider, exporter = memory
    with FlowHDL() as f:
        f.a = Const(2)
        f.b = Const(3)
        f.c = Add(f.a, f.b)
    f.run_until_complete(instruments=[OTelInstrument(provider)])
    assert f.c.get_data() == (5,)
    spans = exporter.get_finished_spans()
    root, a, b, c = (one(spans, n) for n in ("flow.run", "a", "b", "c"))
    assert {s.context.trace_id for s in spans} == {root.context.trace_id}
    assert c.parent is not None and c.parent.span_id == root.context.span_id
    assert [link.context.span_id for link in c.links] == [a.context.span_id, b.context.span_id]
    assert attrs(c)["flowtrace.output.0"] == "5"
    assert attrs(c)["flowtrace.input.1.producer"] == "b"
    assert attrs(root)[A.FLOW_OUTCOME] == "completed"
    assert root.start_time is not None and abs(root.start_time - time.time_ns()) < 60e9


def test_a_cycle_with_a_generation_limit(memory: Any) -> None:
    provider, exporter = memory
    with FlowHDL() as f:
        f.inc = Increment(f.inc)
    with pytest.raises(TerminateLimitReached):
        f.run_until_complete(
            stop_at_node_generation={f.inc: (2,)}, instruments=[OTelInstrument(provider)]
        )
    spans = exporter.get_finished_spans()
    gens = by_name(spans, "inc")
    assert [attrs(s)[A.GENERATION] for s in gens] == ["0", "1", "2"]
    assert attrs(gens[0])["flowtrace.input.0.defaulted"] is True
    assert gens[0].links == ()
    assert [link.context.span_id for link in gens[1].links] == [gens[0].context.span_id]
    assert [link.context.span_id for link in gens[2].links] == [gens[1].context.span_id]
    assert "generation_limit" in [e.name for e in gens[2].events]
    root = one(spans, "flow.run")
    assert attrs(root)[A.FLOW_OUTCOME] == "limit"
    assert root.status.status_code is StatusCode.UNSET  # a requested stop is no error
    assert "cycle_break" in [e.name for e in root.events]


@pytest.mark.parametrize("mode", ["events", "spans"])
def test_a_stream_cancelled_by_its_consumer(memory: Any, mode: Literal["events", "spans"]) -> None:
    provider, exporter = memory
    with FlowHDL() as f:
        f.src = Source()
        f.sink = TakeTwo(f.src)
    f.run_until_complete(instruments=[OTelInstrument(provider, stream_items=mode)])
    assert f.sink.get_data() == (1,)
    spans = exporter.get_finished_spans()
    src, sink = one(spans, "src"), one(spans, "sink")
    assert [link.context.span_id for link in sink.links] == [src.context.span_id]
    assert "stream.cancelled" in [e.name for e in src.events]
    assert "stream.cancel_requested" in [e.name for e in sink.events]
    if mode == "events":
        assert [
            attributes_of(e)["flowtrace.generation"] for e in src.events if e.name == "stream.item"
        ] == ["0.0", "0.1"]
        assert len([e for e in sink.events if e.name == "stream.consumed"]) == 2
    else:
        items = by_name(spans, "src.item")
        consumed = by_name(spans, "sink.consume")
        assert len(items) == len(consumed) == 2
        assert [c.links[0].context.span_id for c in consumed] == [i.context.span_id for i in items]


def test_an_error(memory: Any) -> None:
    provider, exporter = memory
    with FlowHDL() as f:
        f.ok = Const(3)
        f.boom = Boom(f.ok)
    with pytest.raises(ValueError, match="boom at 3"):
        f.run_until_complete(instruments=[OTelInstrument(provider)])
    spans = exporter.get_finished_spans()
    boom, root = one(spans, "boom"), one(spans, "flow.run")
    assert boom.status.status_code is StatusCode.ERROR
    assert boom.status.description == "ValueError: boom at 3"
    [exc] = [e for e in boom.events if e.name == "exception"]
    assert "boom at 3" in str(attributes_of(exc)["exception.stacktrace"])
    assert [link.context.span_id for link in boom.links] == [one(spans, "ok").context.span_id]
    assert root.status.status_code is StatusCode.ERROR
    assert attrs(root)[A.FLOW_ERROR_NODE] == "boom"


def test_live_and_recorded_then_exported_spans_are_identical(memory: Any, tmp_path: Path) -> None:
    provider, exporter = memory
    path = str(tmp_path / "flow.ftrace.jsonl")
    recorder = Recorder(path, flush_interval=0)
    with FlowHDL() as f:
        f.src = Source()
        f.sink = TakeTwo(f.src)
        f.k = Const(4)
        f.total = Add(f.sink, f.k)
    f.run_until_complete(instruments=[recorder, OTelInstrument(provider)])
    recorder.close()
    live = exporter.get_finished_spans()
    exporter.clear()
    runs, n = send_events(iter_events(path), provider)
    offline = exporter.get_finished_spans()
    assert (runs, n) == (1, len(live))
    assert shape(live) == shape(offline)


@pytest.mark.usefixtures("no_otel_env")
def test_a_dead_collector_leaves_the_flow_and_its_result_alone(caplog: Any) -> None:
    caplog.set_level(logging.INFO)
    endpoint = f"127.0.0.1:{closed_port()}"
    started = time.monotonic()
    otel = OTelInstrument(endpoint=endpoint, protocol="grpc", timeout=1)
    with FlowHDL() as f:
        f.a = Const(2)
        f.b = Const(3)
        f.c = Add(f.a, f.b)
    f.run_until_complete(instruments=[otel])
    ran = time.monotonic()
    assert f.c.get_data() == (5,)
    otel.shutdown()
    assert ran - started < 1.0
    assert time.monotonic() - started < 4.0
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and endpoint in warnings[0]
    assert f"{otel.spans_lost} spans lost" in warnings[0] and otel.spans_lost == 6
