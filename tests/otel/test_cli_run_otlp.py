"""``flowtrace run --otlp``: every run of an unmodified script arrives at the collector."""

from __future__ import annotations

import logging
import os
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from flowtrace.cli import cli

from .receivers import closed_port, grpc_receiver, http_receiver

# A script that drives the instrument bus exactly as the engine does (one run, two nodes),
# so this test pins the CLI wiring independently of the engine.
BUS_SCRIPT = textwrap.dedent(
    """
    import time
    from flowtrace.events import (FlowFinished, FlowStarted, GraphInfo, NodeFinished,
                                  NodeInfo, NodeStarted)
    from flowtrace.instrument import Bus, active_instruments

    bus = Bus("script-run", active_instruments())
    graph = GraphInfo((NodeInfo("only", "Only", "mono", False, False, (), 1),))
    bus.emit(FlowStarted, "flow-0", time.time_ns(), graph)
    bus.emit(NodeStarted, "only", (0,), 0)
    bus.emit(NodeFinished, "only", (0,), 0, "completed")
    bus.emit(FlowFinished, "flow-0", "completed", None, None, None)
    print("result: 42")
    """
)


pytestmark = pytest.mark.usefixtures("no_otel_env")


@pytest.fixture
def script(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "flow_script.py"
    path.write_text(BUS_SCRIPT)
    return str(path)


def run(*args: str) -> Any:
    return CliRunner().invoke(cli, ["run", *args], catch_exceptions=False)


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_run_with_otlp_sends_the_scripts_runs(script: str, protocol: str) -> None:
    receiver = grpc_receiver if protocol == "grpc" else http_receiver
    with receiver() as (endpoint, received):
        result = run("--otlp", endpoint, "--otlp-protocol", protocol, script)
        assert result.exit_code == 0, result.output
        spans = received.spans()
    assert "result: 42" in result.output
    assert sorted(s["name"] for s in spans) == ["flow.run flow_script", "only"]
    assert {s["attributes"]["flowtrace.run.id"] for s in spans} == {"script-run"}
    assert Path("flow_script.ftrace.jsonl").exists()  # the recorder still ran


def test_bare_otlp_does_not_swallow_the_script(
    script: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with grpc_receiver() as (endpoint, received):
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://{endpoint}")
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
        result = run("--otlp", script)
        assert result.exit_code == 0, result.output
        assert len(received.spans()) == 2


def test_run_without_otlp_builds_no_otel_instrument(script: str) -> None:
    from flowtrace._cli.run import RunOptions, build_instruments

    instruments = build_instruments(RunOptions(script=script, record=os.devnull))
    assert [type(i).__name__ for i in instruments] == ["Recorder"]
    for instrument in instruments:
        instrument.close()


def test_a_dead_collector_neither_fails_nor_delays_the_script(script: str, caplog: Any) -> None:
    caplog.set_level(logging.INFO)
    endpoint = f"127.0.0.1:{closed_port()}"
    started = time.monotonic()
    result = run("--otlp", endpoint, "--otlp-protocol", "http", "--otlp-timeout", "1", script)
    assert time.monotonic() - started < 4
    assert result.exit_code == 0
    assert "result: 42" in result.output
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and endpoint in warnings[0] and "2 spans lost" in warnings[0]


FLOW_SCRIPT = textwrap.dedent(
    """
    from flowtrace import FlowHDL, node

    @node
    async def Answer() -> int:
        return 42

    with FlowHDL() as f:
        f.only = Answer()
    f.run_until_complete()
    print("result:", f.only.get_data()[0])
    """
)


def test_run_with_otlp_traces_a_real_flow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "real_flow.py"
    path.write_text(FLOW_SCRIPT)
    with grpc_receiver() as (endpoint, received):
        result = run("--otlp", endpoint, "--otlp-protocol", "grpc", str(path))
        assert result.exit_code == 0, result.output
        spans = received.spans()
    assert "result: 42" in result.output
    assert sorted(s["name"] for s in spans) == ["flow.run real_flow", "only"]
    [root] = [s for s in spans if s["parent"] == ""]
    assert root["attributes"]["flowtrace.flow.name"] == "real_flow"  # searchable
    [only] = [s for s in spans if s["name"] == "only"]
    assert only["attributes"]["flowtrace.output.0"] == "42"
