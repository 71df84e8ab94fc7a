"""Every example runs under ``flowtrace run`` as it runs under ``python``, and its trace
reads back whole and summarises with ``flowtrace show``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from flowtrace.cli import cli
from flowtrace.tracefile import read_trace

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((REPO / "examples").glob("*.py"))


def python(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONHASHSEED="0")
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=120
    )


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_example_is_traced_and_shown(example: Path, tmp_path: Path) -> None:
    plain = python(str(example), cwd=tmp_path)
    traced = python("-m", "flowtrace.cli", "run", str(example), cwd=tmp_path)
    assert traced.returncode == plain.returncode, traced.stderr
    path = tmp_path / (example.stem + ".ftrace.jsonl")
    assert f"trace written to {path.name}" in traced.stderr
    trace = read_trace(path)  # strict: the file is complete
    assert trace.runs, "the example ran no flow or loop"
    assert all(run.outcome != "incomplete" for run in trace.runs.values())
    shown = CliRunner().invoke(cli, ["show", str(path)], env={"COLUMNS": "160"})
    assert shown.exit_code == 0, shown.output
    assert "Runs" in shown.stdout
