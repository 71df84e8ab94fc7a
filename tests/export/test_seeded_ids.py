"""``--seed`` makes ids reproducible without making different runs share them: a trace
viewer that merges spans by trace id (Jaeger UI loading several files) must see one
trace per run."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import msgspec
import pytest
from click.testing import CliRunner
from otel import scenarios as S

from flowtrace.cli import cli
from flowtrace.events import Event, FlowStarted
from flowtrace.otel.mapping import spans_from_events
from flowtrace.otel.model import SpanRecord


def started_at(events: list[Event], wall_ns: int) -> list[Event]:
    """The same run, recorded at another wall-clock time."""
    return [
        msgspec.structs.replace(e, wall_time_ns=wall_ns) if isinstance(e, FlowStarted) else e
        for e in events
    ]


def ids(spans: list[SpanRecord]) -> list[tuple[str, int, int]]:
    return [(s.name, s.trace_id, s.span_id) for s in spans]


def test_two_recordings_of_one_flow_get_different_ids_under_one_seed() -> None:
    first = spans_from_events(S.dag().events, seed=7)
    later = spans_from_events(started_at(S.dag().events, S.WALL0 + 10**9), seed=7)
    assert {s.trace_id for s in first}.isdisjoint({s.trace_id for s in later})
    assert {s.span_id for s in first}.isdisjoint({s.span_id for s in later})


def test_the_recordings_identity_changes_the_ids_too() -> None:
    one = spans_from_events(S.dag().events, seed=7, salt="recording A")
    two = spans_from_events(S.dag().events, seed=7, salt="recording B")
    assert {s.trace_id for s in one}.isdisjoint({s.trace_id for s in two})


def test_the_same_input_and_seed_give_the_same_ids() -> None:
    assert ids(spans_from_events(S.dag().events, seed=7)) == ids(
        spans_from_events(S.dag().events, seed=7)
    )
    assert ids(spans_from_events(S.dag().events, seed=7)) != ids(
        spans_from_events(S.dag().events, seed=8)
    )


def test_a_runs_ids_do_not_depend_on_the_other_runs_exported_with_it() -> None:
    other = [msgspec.structs.replace(e, run_id="run-2") for e in S.error().events]
    alone = spans_from_events(S.dag().events, seed=7)
    together = spans_from_events([*other, *S.dag().events], seed=7)
    run_1 = [s for s in together if s.attributes.get("flowtrace.run.id") == "run-1"]
    assert ids(run_1) == ids(alone)
    assert len({s.trace_id for s in together}) == 2


def test_the_same_run_twice_in_one_input_is_still_two_traces() -> None:
    spans = spans_from_events([*S.dag().events, *S.dag().events], seed=7)
    assert len({s.trace_id for s in spans if s.parent is None}) == 2


def test_without_a_seed_ids_differ_from_export_to_export() -> None:
    assert {s.trace_id for s in spans_from_events(S.dag().events)}.isdisjoint(
        {s.trace_id for s in spans_from_events(S.dag().events)}
    )


SCRIPT = textwrap.dedent(
    """
    from flowtrace import FlowHDL, node

    @node
    async def Answer() -> int:
        return 42

    with FlowHDL() as f:
        f.only = Answer()
    f.run_until_complete()
    """
)


def invoke(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.mark.usefixtures("no_otel_env")
def test_seeded_exports_of_different_recordings_load_as_separate_traces(tmp_path: Path) -> None:
    script = tmp_path / "answer.py"
    script.write_text(SCRIPT)
    trace_ids: list[str] = []
    span_ids: list[set[str]] = []
    for n in range(3):
        trace = str(tmp_path / f"answer{n}.ftrace.jsonl")
        assert invoke("run", "--record", trace, str(script)).exit_code == 0
        out = str(tmp_path / f"answer{n}.json")
        result = invoke("export", trace, "--seed", "1", "--to", "jaeger-json", out)
        assert result.exit_code == 0, result.output
        [data] = json.loads(Path(out).read_text())["data"]
        trace_ids.append(data["traceID"])
        span_ids.append({s["spanID"] for s in data["spans"]})
        again = str(tmp_path / f"answer{n}.again.json")
        assert invoke("export", trace, "--seed", "1", "--to", "jaeger-json", again).exit_code == 0
        assert Path(again).read_text() == Path(out).read_text()  # reproducible
    assert len(set(trace_ids)) == 3
    assert not span_ids[0] & span_ids[1] and not span_ids[1] & span_ids[2]
