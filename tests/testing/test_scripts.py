"""run_script: a whole script with every flow captured, and how it ended."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from flowtrace.instrument import default_instruments
from flowtrace.testing import run_script
from flowtrace.testing.scripts import orders_of_scripts

SCRIPT = """
import sys
from flowtrace import EventLoop

async def main():
    return sys.argv[1:]

if __name__ == "__main__":
    print("hello from the script")
    EventLoop().run_until_complete(main(), join=True)
    {ending}
"""


def _script(tmp_path: Path, ending: str = "pass") -> Path:
    path = tmp_path / "prog.py"
    path.write_text(SCRIPT.format(ending=ending))
    return path


def test_a_script_runs_as_main_with_its_flows_captured(tmp_path: Path) -> None:
    before = list(sys.path)
    result = run_script(_script(tmp_path), ["x", "y"])
    assert result.outcome == "completed" and result.exception is None
    assert result.stdout == "hello from the script\n"
    assert "task 0 returned ['x', 'y']" in result.capture.lines("full")
    assert result.capture not in default_instruments()
    assert sys.path == before


def test_the_outcome_is_the_last_line_of_the_order(tmp_path: Path) -> None:
    result = run_script(_script(tmp_path, "raise ValueError('bad\\nthing')"))
    assert result.outcome == "raised ValueError: bad\\nthing"
    assert isinstance(result.exception, ValueError)
    assert result.order("full").splitlines()[-1] == "-- script raised ValueError: bad\\nthing"


def test_sys_exit_with_an_error_code_is_an_outcome(tmp_path: Path) -> None:
    assert run_script(_script(tmp_path, "sys.exit(3)")).outcome == "exited with code 3"
    assert run_script(_script(tmp_path, "sys.exit(0)")).outcome == "completed"


def test_the_command_prints_orders_as_json(tmp_path: Path) -> None:
    script = str(_script(tmp_path))
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "flowtrace.testing.scripts",
            "--json",
            "--level",
            "evaluations",
            "--level",
            "full",
            script,
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    orders = json.loads(out)[script]
    assert orders["evaluations"] == "-- script completed\n"
    assert orders["full"].startswith("   0  loop started: root task 0\n")


def test_scripts_rendered_together_each_start_afresh(tmp_path: Path) -> None:
    # The first script leaves an instrument behind that would break later scripts if
    # they shared its process.
    polluter = tmp_path / "polluter.py"
    polluter.write_text(
        "from flowtrace.instrument import add_default_instrument, set_strict\n"
        "class Broken:\n"
        "    def on_event(self, event):\n"
        "        raise RuntimeError('left behind')\n"
        "set_strict(True)\n"
        "add_default_instrument(Broken())\n"
    )
    script = str(_script(tmp_path))
    isolated = orders_of_scripts([polluter, script], ["full"])
    assert isolated[script]["full"] == orders_of_scripts([script], ["full"])[script]["full"]
    assert "task 0 returned []" in isolated[script]["full"]


def test_a_script_that_cannot_be_rendered_is_reported(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match=r"rendering .*missing\.py failed"):
        orders_of_scripts([tmp_path / "missing.py"])
