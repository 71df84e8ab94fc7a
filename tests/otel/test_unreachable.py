"""A collector that is down or stuck costs a bounded time, is reported once with the
endpoint and the number of spans lost, and breaks nothing."""

from __future__ import annotations

import logging
import os
import time
from typing import Any, Literal

import pytest

from flowtrace.otel import OTelInstrument
from flowtrace.otel.exporting import refusal_probe, resolve_otlp
from flowtrace.otel.offline import export_events

from . import scenarios as S
from .receivers import closed_port, hanging_http_receiver, silent_listener

BOUND = 4.0  # seconds; the export timeout is 1 s


pytestmark = pytest.mark.usefixtures("no_otel_env", "no_proxy_env")

#: Proxy variables: with one set, the collector's address cannot be checked directly.
PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "grpc_proxy", "no_proxy")


@pytest.fixture
def no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.lower() in PROXY_VARIABLES:
            monkeypatch.delenv(name)


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.WARNING]


def assert_reported_once(
    caplog: pytest.LogCaptureFixture, endpoint: str, lost: int, reason: str | None = None
) -> None:
    records = warnings_of(caplog)
    assert len(records) == 1, [r.getMessage() for r in records]
    [record] = records
    assert record.name == "flowtrace.otel"
    message = record.getMessage()
    assert endpoint in message
    assert f"{lost} spans lost" in message
    if reason is not None:
        assert f"({reason}" in message, message


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_live_instrument_with_no_collector(protocol: Literal["grpc", "http"], caplog: Any) -> None:
    caplog.set_level(logging.DEBUG)
    endpoint = f"127.0.0.1:{closed_port()}"
    started = time.monotonic()
    instrument = OTelInstrument(endpoint=endpoint, protocol=protocol, timeout=1)
    for event in S.error().events:
        instrument.on_event(event)
    fed = time.monotonic()
    instrument.shutdown()
    elapsed = time.monotonic() - started
    assert fed - started < 1.0  # feeding the run never waits for the network
    assert elapsed < BOUND
    assert instrument.finished
    assert (instrument.spans_exported, instrument.spans_lost) == (0, 3)
    assert_reported_once(caplog, endpoint, 3)
    instrument.shutdown()  # a second shutdown says nothing more
    assert len(warnings_of(caplog)) == 1


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_offline_export_with_no_collector(protocol: str, caplog: Any) -> None:
    caplog.set_level(logging.DEBUG)
    endpoint = f"127.0.0.1:{closed_port()}"
    events = S.error().events + _renamed(S.dag().events, "run-2")
    started = time.monotonic()
    report = export_events(events, target=resolve_otlp(endpoint, protocol, 1))
    assert time.monotonic() - started < BOUND
    assert (report.spans, report.exported, report.lost) == (7, 0, 7)
    assert_reported_once(caplog, endpoint, 7)


def test_many_batches_to_a_dead_collector_cost_one_timeout(caplog: Any) -> None:
    caplog.set_level(logging.DEBUG)
    endpoint = f"127.0.0.1:{closed_port()}"
    events: list[Any] = []
    for i in range(600):  # 600 runs x 4 spans = 2400 spans: 5 batches of 512
        events += _renamed(S.dag().events, f"run-{i}")
    started = time.monotonic()
    report = export_events(events, target=resolve_otlp(endpoint, "http", 1))
    assert time.monotonic() - started < BOUND
    assert report.spans == report.lost == 2400
    assert_reported_once(caplog, endpoint, 2400)


def _renamed(events: list[Any], run_id: str) -> list[Any]:
    import msgspec

    return [msgspec.structs.replace(e, run_id=run_id) for e in events]


def test_a_collector_that_never_answers_costs_a_bounded_time(caplog: Any) -> None:
    caplog.set_level(logging.DEBUG)
    with hanging_http_receiver() as (endpoint, _received):
        started = time.monotonic()
        instrument = OTelInstrument(endpoint=endpoint, protocol="http", timeout=1)
        for event in S.dag().events:
            instrument.on_event(event)
        instrument.shutdown()
        elapsed = time.monotonic() - started
    assert 0.9 <= elapsed < BOUND  # the timeout is kept for a collector that accepts
    assert instrument.spans_lost == 4
    assert_reported_once(caplog, endpoint, 4, "no answer within 1 s")


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_a_listener_that_never_answers_is_reported_as_such(protocol: str, caplog: Any) -> None:
    caplog.set_level(logging.DEBUG)
    with silent_listener() as address:
        started = time.monotonic()
        report = export_events(S.dag().events, target=resolve_otlp(address, protocol, 1))
        elapsed = time.monotonic() - started
    assert 0.9 <= elapsed < BOUND
    assert (report.exported, report.lost) == (0, 4)
    assert_reported_once(caplog, address, 4, "no answer within 1 s")


# -------------------------------------------------------------- nothing listening

#: The bound of the issue: a script ends within this of its last line.
PROMPT = 2.0

END_SCRIPT = """
import time
from flowtrace import FlowHDL, node

@node
async def Answer() -> int:
    return 42

with FlowHDL() as f:
    f.only = Answer()
f.run_until_complete()
print(time.time())
"""


@pytest.mark.timeout(60)
@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_a_script_ends_promptly_when_nothing_listens(protocol: str, tmp_path: Any) -> None:
    """With the default 10 s timeout: a refused connection is not retried until then."""
    import subprocess
    import sys

    script = tmp_path / "quick.py"
    script.write_text(END_SCRIPT)
    endpoint = f"127.0.0.1:{closed_port()}"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("OTEL_") and k.lower() not in PROXY_VARIABLES
    }
    command = [
        sys.executable,
        "-c",
        "from flowtrace.cli import main; main()",
        "run",
        "--record",
        str(tmp_path / "quick.ftrace.jsonl"),
        "--otlp",
        endpoint,
        "--otlp-protocol",
        protocol,
        str(script),
    ]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path
    )
    exited = time.time()
    assert done.returncode == 0, done.stderr
    ended = float(done.stdout.strip().splitlines()[-1])
    assert exited - ended < PROMPT
    [warning] = [line for line in done.stderr.splitlines() if "could not export" in line]
    assert "connection refused" in warning and "spans lost" in warning


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_an_export_fails_at_once_when_nothing_listens(protocol: str, caplog: Any) -> None:
    caplog.set_level(logging.DEBUG)
    endpoint = f"127.0.0.1:{closed_port()}"
    report = export_events(S.dag().events, target=resolve_otlp(endpoint, protocol))
    assert report.seconds < PROMPT  # the timeout is 10 s
    assert (report.exported, report.lost) == (0, 4)
    assert_reported_once(caplog, endpoint, 4, f"connection refused: nothing listens on {endpoint})")


def test_a_collector_that_stopped_is_not_waited_for_at_shutdown(caplog: Any) -> None:
    """It answered once; by the end it is gone: the last batch fails at once too."""
    from .receivers import http_receiver

    caplog.set_level(logging.DEBUG)
    with http_receiver() as (endpoint, received):
        instrument = OTelInstrument(endpoint=endpoint, protocol="http")
        for event in S.dag().events:
            instrument.on_event(event)
        assert instrument.force_flush()
        assert len(received.spans()) == 4
    renamed = _renamed(S.dag().events, "run-2")
    for event in renamed:
        instrument.on_event(event)
    started = time.monotonic()
    instrument.shutdown()
    assert time.monotonic() - started < PROMPT
    assert (instrument.spans_exported, instrument.spans_lost) == (4, 4)
    assert_reported_once(caplog, endpoint, 4, "connection refused")


def test_the_probe_is_left_out_where_it_cannot_tell(monkeypatch: pytest.MonkeyPatch) -> None:
    port = closed_port()
    target = resolve_otlp(f"127.0.0.1:{port}", "http", 1)
    probe = refusal_probe(target)
    assert probe is not None
    assert probe() == f"connection refused: nothing listens on 127.0.0.1:{port}"
    assert refusal_probe(resolve_otlp("unix:///tmp/otel.sock", "grpc", 1)) is None
    monkeypatch.setenv("http_proxy", "http://proxy.invalid:3128")
    assert refusal_probe(target) is None  # the proxy, not the collector, takes the connection
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    assert refusal_probe(target) is not None


EXIT_SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
from otel import scenarios as S
from flowtrace.otel import OTelInstrument
otel = OTelInstrument(endpoint={endpoint!r}, protocol="http", timeout=1)
for event in S.dag().events:
    otel.on_event(event)
print("done")
"""


def test_a_process_that_never_shuts_down_still_exits_promptly_and_says_so_once() -> None:
    import subprocess
    import sys
    from pathlib import Path

    tests = str(Path(__file__).resolve().parents[1])
    endpoint = f"127.0.0.1:{closed_port()}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", EXIT_SCRIPT.format(tests=tests, endpoint=endpoint)],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
    )
    assert time.monotonic() - started < BOUND + 3  # interpreter start-up included
    assert done.returncode == 0 and done.stdout.strip() == "done"
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert endpoint in lines[0] and "4 spans lost" in lines[0]
