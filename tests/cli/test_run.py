"""``flowtrace run``: a script runs unchanged, traced, and keeps its exit status."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from click.testing import Result

from flowtrace.events import LoopExited, TaskFinished
from flowtrace.instrument import default_instruments
from flowtrace.tracefile import read_trace

Script = Callable[..., Path]
Flowtrace = Callable[..., Result]
REPO = Path(__file__).resolve().parents[2]


def test_the_script_runs_as_main_with_its_arguments_and_is_traced(
    script: Script, flowtrace: Flowtrace
) -> None:
    script()
    result = flowtrace("run", "job.py", "a", "--flag")
    assert result.exit_code == 0
    assert "args ['a', '--flag']" in result.stdout
    assert "trace written to job.ftrace.jsonl (1 run, " in result.stderr
    trace = read_trace("job.ftrace.jsonl")
    assert trace.header.argv == ("job.py", "a", "--flag")
    assert trace.run().outcome == "completed"
    assert default_instruments() == ()  # the recorder is removed afterwards


def test_record_names_the_file_and_gz_compresses_it(
    script: Script, flowtrace: Flowtrace, tmp_path: Path
) -> None:
    script()
    target = tmp_path / "out" / "t.ftrace.jsonl.gz"
    target.parent.mkdir()
    assert flowtrace("run", "--record", str(target), "job.py").exit_code == 0
    assert target.read_bytes()[:2] == b"\x1f\x8b"
    assert read_trace(target).run().outcome == "completed"
    assert flowtrace("run", "--gzip", "job.py").exit_code == 0
    assert Path("job.ftrace.jsonl.gz").exists()


def test_options_before_the_script_belong_to_flowtrace_after_it_to_the_script(
    script: Script, flowtrace: Flowtrace
) -> None:
    script()
    result = flowtrace("run", "job.py", "--record", "elsewhere")
    assert "args ['--record', 'elsewhere']" in result.stdout
    assert Path("job.ftrace.jsonl").exists() and not Path("elsewhere").exists()
    # ...and the user is told, since that is usually a slip.
    assert "note: --record comes after the script" in result.stderr


def test_after_a_double_dash_flowtrace_option_names_are_plainly_the_scripts(
    script: Script, flowtrace: Flowtrace
) -> None:
    script()
    result = flowtrace("run", "job.py", "--", "--record", "x")
    assert "args ['--', '--record', 'x']" in result.stdout
    assert "note:" not in result.stderr


def test_value_options_reach_the_recorder(script: Script, flowtrace: Flowtrace) -> None:
    script()
    assert flowtrace("run", "--redact", r"token-\d+", "--max-repr", "40", "job.py").exit_code == 0
    trace = read_trace("job.ftrace.jsonl")
    values = [e.result for e in trace.events if isinstance(e, TaskFinished)]
    assert values[0] == {"i": 0, "secret": "<redacted>"}
    assert trace.header.options == {"values": True, "max_repr": 40, "redacted": True}
    assert flowtrace("run", "--no-values", "job.py").exit_code == 0
    values = [
        e.result for e in read_trace("job.ftrace.jsonl").events if isinstance(e, TaskFinished)
    ]
    assert values and all(v == {"$omitted": True} for v in values)


def test_the_scripts_exit_status_is_kept(script: Script, flowtrace: Flowtrace) -> None:
    script()
    assert flowtrace("run", "job.py", "--exit", "3").exit_code == 3
    assert read_trace("job.ftrace.jsonl").run().outcome == "completed"


def test_a_failing_script_shows_its_traceback_and_the_trace_is_complete(
    script: Script, flowtrace: Flowtrace
) -> None:
    script()
    result = flowtrace("run", "job.py", "--fail")
    assert result.exit_code == 1
    assert "ValueError: child failed: token-42" in result.stderr
    assert 'job.py", line' in result.stderr
    assert "flowtrace/_cli/run.py" not in result.stderr  # the runner's frames are hidden
    trace = read_trace("job.ftrace.jsonl")  # strict: complete
    last = trace.events[-1]
    assert isinstance(last, LoopExited) and last.outcome == "error"
    assert last.error is not None and last.error.type == "ValueError"


def test_user_mistakes_get_one_line_errors(script: Script, flowtrace: Flowtrace) -> None:
    result = flowtrace("run", "missing.py")
    assert result.exit_code == 2 and "does not exist" in result.stderr
    assert "Traceback" not in result.stderr
    script()
    result = flowtrace("run", "--redact", "(", "job.py")
    assert result.exit_code == 2 and "not a valid regular expression" in result.stderr
    result = flowtrace("run", "--record", "no/such/dir/t.ftrace.jsonl", "job.py")
    assert result.exit_code == 1 and "cannot write the trace" in result.stderr


def test_help_describes_the_command(flowtrace: Flowtrace) -> None:
    result = flowtrace("run", "--help")
    assert result.exit_code == 0
    for option in ("--record", "--no-values", "--redact", "--max-repr", "--gzip"):
        assert option in result.stdout


def test_the_installed_command_runs_a_script_end_to_end(script: Script) -> None:
    script()
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.run(
        [sys.executable, "-m", "flowtrace.cli", "run", "job.py", "--exit", "5"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 5, proc.stderr
    assert "trace written to job.ftrace.jsonl" in proc.stderr
    assert read_trace("job.ftrace.jsonl").run().outcome == "completed"
