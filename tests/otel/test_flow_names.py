"""Root spans say which flow ran: ``flow.run <name>`` and ``flowtrace.flow.name``, from
``FlowHDL(name=...)`` or, for a flow without a name, the script's — so trace lists in
Jaeger or Phoenix tell runs of different flows apart."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from flowtrace import FlowHDL, node
from flowtrace.cli import cli
from flowtrace.otel.mapping import MappingOptions, spans_from_events
from flowtrace.otel.model import SpanRecord
from flowtrace.testing import Capture

from . import scenarios as S


@node
async def Answer() -> int:
    return 42


def root_of(spans: list[SpanRecord]) -> SpanRecord:
    [root] = [s for s in spans if s.parent is None]
    return root


def events_of(flow: FlowHDL) -> list[Any]:
    capture = Capture()
    flow.run_until_complete(instruments=[capture])
    return list(capture.events)


def test_a_named_flow_names_its_root_span() -> None:
    with FlowHDL(name="nightly-etl") as f:
        f.only = Answer()
    root = root_of(spans_from_events(events_of(f), MappingOptions(flow_name="script")))
    assert root.name == "flow.run nightly-etl"  # the flow's own name wins over the script's
    assert root.attributes["flowtrace.flow.name"] == "nightly-etl"
    assert root.attributes["flowtrace.flow.id"] == "nightly-etl"


def test_an_unnamed_flow_takes_the_scripts_name() -> None:
    with FlowHDL() as f:
        f.only = Answer()
    root = root_of(spans_from_events(events_of(f), MappingOptions(flow_name="hello")))
    assert root.name == "flow.run hello"
    assert root.attributes["flowtrace.flow.name"] == "hello"
    assert str(root.attributes["flowtrace.flow.id"]).startswith("flow-")


def test_without_any_name_the_root_is_plain_flow_run() -> None:
    root = root_of(spans_from_events(S.dag().events))
    assert root.name == "flow.run"
    assert "flowtrace.flow.name" not in root.attributes


@pytest.mark.parametrize("bad", ["", "   ", 3])
def test_a_flow_name_must_be_a_non_empty_string(bad: Any) -> None:
    with pytest.raises(ValueError, match="non-empty string"):
        FlowHDL(name=bad)


SCRIPT = textwrap.dedent(
    """
    from flowtrace import FlowHDL, node

    @node
    async def Answer() -> int:
        return 42

    with FlowHDL() as plain:
        plain.only = Answer()
    plain.run_until_complete()
    with FlowHDL(name="reports") as named:
        named.only = Answer()
    named.run_until_complete()
    """
)


@pytest.mark.usefixtures("no_otel_env")
def test_export_names_roots_after_the_recorded_script(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "billing.py").write_text(SCRIPT)
    runner = CliRunner()
    assert runner.invoke(cli, ["run", "billing.py"], catch_exceptions=False).exit_code == 0
    result = runner.invoke(
        cli,
        ["export", "billing.ftrace.jsonl", "--to", "jaeger-json", "out.json"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    roots = []
    for trace in json.loads((tmp_path / "out.json").read_text())["data"]:
        for span in trace["spans"]:
            if not span["references"]:
                tags = {t["key"]: t["value"] for t in span["tags"]}
                roots.append((span["operationName"], tags["flowtrace.flow.name"]))
    assert roots == [("flow.run billing", "billing"), ("flow.run reports", "reports")]
