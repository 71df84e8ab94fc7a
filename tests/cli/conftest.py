"""Helpers for the command-line tests: write a script, invoke ``flowtrace``."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from flowtrace.cli import cli

LOOP_SCRIPT = """
import sys
from flowtrace import EventLoop, sleep, spawn

async def child(i):
    await sleep(0)
    if "--fail" in sys.argv and i == 1:
        raise ValueError("child failed: token-42")
    return {"i": i, "secret": "token-42"}

async def main():
    handles = [await spawn(child(i)) for i in range(3)]
    return [await h.join() for h in handles]

if __name__ == "__main__":
    print("args", sys.argv[1:])
    print(EventLoop().run_until_complete(main(), join=True))
    if "--exit" in sys.argv:
        sys.exit(int(sys.argv[-1]))
"""


@pytest.fixture
def script(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str, str], Path]:
    """``script(name, source)`` writes a script in a fresh current directory."""
    monkeypatch.chdir(tmp_path)

    def make(name: str = "job.py", source: str = LOOP_SCRIPT) -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(source))
        return path

    return make


@pytest.fixture
def flowtrace() -> Callable[..., Result]:
    """``flowtrace("run", "x.py")`` runs the CLI in-process and returns click's Result."""
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(cli, list(args), catch_exceptions=False, env={"COLUMNS": "160"})

    return invoke
