"""A redacted secret never leaves the process, and ``--no-values`` keeps no data.

One script hides a secret in every place a value can hide: a port default, node
inputs and outputs, stream items (as value and as dict key), an object's ``repr``, a
task's name, an exception's message and arguments, a chained exception, the traceback
text, and the command line. It runs under ``flowtrace run --redact`` with live OTLP to
a loopback collector; then the trace file, every OTLP request body, the
``jaeger-json`` and ``chrome`` exports and ``flowtrace show`` are searched for it.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from flowtrace.cli import cli
from flowtrace.events import FlowFinished, NodeErrored, TaskSpawned
from flowtrace.tracefile import read_trace

from .receivers import Received, http_receiver

SECRET_RE = r"sk-[A-Z0-9]+"
ARGV_SECRET = "sk-ARGV1SECRET"
ENV_SECRET = "sk-ENV2SECRET"
FOUND = re.compile(rb"sk-[A-Z0-9]+")

SCRIPT = textwrap.dedent(
    """
    import os, sys
    from flowtrace import FlowHDL, Stream, node, spawn, sleep

    TOKEN = sys.argv[sys.argv.index("--token") + 1] if "--token" in sys.argv else "x"
    FROM_ENV = os.environ["FLOW_TOKEN"]

    class Credentials:
        def __init__(self, key):
            self.key = key
        def __repr__(self):
            return f"Credentials(key={self.key})"

    async def helper():
        await sleep(0)

    @node
    async def Source(token: str = FROM_ENV) -> str:  # the default holds a secret
        await spawn(helper(), name=f"refresh {token}")
        return f"Bearer {token} {TOKEN}"

    @node
    async def Items(header: str):
        for i in range(3):
            yield {"auth": header, "n": i}
        yield {FROM_ENV: "as a key"}
        yield Credentials(FROM_ENV)

    @node(stream_in=["items"])
    async def Check(items: Stream[object]) -> int:
        count = 0
        async for item in items:
            count += 1
        try:
            raise KeyError(FROM_ENV)
        except KeyError as inner:
            raise ValueError(f"token {TOKEN} rejected", FROM_ENV, Credentials(TOKEN)) from inner

    with FlowHDL() as f:
        f.source = Source()
        f.items = Items(f.source)
        f.check = Check(f.items)
    try:
        f.run_until_complete()
    except ValueError:
        print("the flow failed, as it should")
    """
)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(__import__("os").environ):
        if name.startswith("OTEL_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FLOW_TOKEN", ENV_SECRET)
    (tmp_path / "job.py").write_text(SCRIPT)
    return tmp_path


def flowtrace(*args: str) -> Any:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture
def collector() -> Iterator[tuple[str, Received]]:
    with http_receiver() as got:
        yield got


def _bodies(received: Received) -> bytes:
    return b"".join(request.SerializeToString() for request in received.requests)


def _every_output(
    project: Path, run_args: list[str], received: Received, endpoint: str
) -> dict[str, bytes]:
    """Run the script with ``run_args``; return each way out of the process."""
    flowtrace(
        "run",
        "--record",
        "t.ftrace.jsonl",
        "--otlp",
        endpoint,
        "--otlp-protocol",
        "http",
        *run_args,
        "job.py",
        "--token",
        ARGV_SECRET,
    )
    flowtrace(
        "export", "t.ftrace.jsonl", "--to", "jaeger-json", "j.json", "--to", "chrome", "c.json"
    )
    shown = flowtrace("show", "t.ftrace.jsonl").output.encode()
    return {
        "trace file": (project / "t.ftrace.jsonl").read_bytes(),
        "OTLP bodies": _bodies(received),
        "jaeger-json export": (project / "j.json").read_bytes(),
        "chrome export": (project / "c.json").read_bytes(),
        "show": shown,
    }


def test_a_redacted_secret_reaches_no_output_of_the_process(
    project: Path, collector: tuple[str, Received]
) -> None:
    endpoint, received = collector
    outputs = _every_output(project, ["--redact", SECRET_RE], received, endpoint)
    for where, data in outputs.items():
        assert FOUND.findall(data) == [], f"a secret leaked into the {where}"
    # The places did carry data: the redaction marks are there, not empty fields.
    trace = read_trace(project / "t.ftrace.jsonl")
    errored = [e for e in trace.events if isinstance(e, NodeErrored)]
    assert errored and errored[0].error.message.startswith("('token <redacted> rejected'")
    assert "KeyError: '<redacted>'" in errored[0].error.traceback
    assert any(isinstance(e, TaskSpawned) and e.name == "refresh <redacted>" for e in trace.events)
    assert trace.header.argv == ("job.py", "--token", "<redacted>")
    assert b"exception.stacktrace" in outputs["OTLP bodies"]
    assert b"<redacted>" in outputs["OTLP bodies"]
    assert b"<redacted>" in outputs["show"]


def test_without_redaction_the_same_script_does_carry_its_secrets(
    project: Path, collector: tuple[str, Received]
) -> None:
    """The control: each output is a place a secret really reaches."""
    endpoint, received = collector
    outputs = _every_output(project, [], received, endpoint)
    for where, data in outputs.items():
        assert FOUND.search(data), f"the {where} holds no secret even unredacted"


def test_no_values_keeps_no_value_and_no_error_text_anywhere(
    project: Path, collector: tuple[str, Received]
) -> None:
    endpoint, received = collector
    outputs = _every_output(project, ["--no-values"], received, endpoint)
    # What --no-values keeps by design (docs/trace-format.md): the command line and
    # names (node ids, task names): the script names its helper task after the token.
    kept = [
        line
        for line in outputs["trace file"].splitlines()
        if line.startswith(b'{"format"') or b'"kind":"TaskSpawned"' in line
    ]
    assert [FOUND.findall(line) for line in kept if FOUND.search(line)] == [
        [ARGV_SECRET.encode()],
        [ENV_SECRET.encode()],
    ]
    outputs["trace file"] = b"\n".join(
        line for line in outputs["trace file"].splitlines() if line not in kept
    )
    for where, data in outputs.items():
        leaked = [s for s in FOUND.findall(data) if s != ARGV_SECRET.encode()]
        assert leaked == [], f"a value leaked into the {where}"
    trace = read_trace(project / "t.ftrace.jsonl")
    errored = [e for e in trace.events if isinstance(e, NodeErrored)]
    assert [(e.error.type, e.error.message, e.error.traceback) for e in errored] == [
        ("ValueError", "<omitted>", "")
    ]
    finished = [e for e in trace.events if isinstance(e, FlowFinished)]
    assert finished[-1].error is not None and finished[-1].error.message == "<omitted>"
    assert trace.header.options["values"] is False
    assert trace.header.options["error_text"] is False
