"""Optional extras: the engine and file tools work without them, and a command that
needs a missing one names the pip command instead of failing with an ImportError."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import flowtrace
from flowtrace._extras import EXTRAS, MissingExtraError, missing_modules, require_extra

# Runs the flowtrace CLI in a child process in which the given top-level packages
# cannot be imported, as if the extra that brings them had not been installed.
_BLOCKED_CLI = textwrap.dedent(
    """
    import sys
    blocked = sys.argv[1].split(",")
    for name in blocked:
        sys.modules[name] = None  # any import of it now raises ImportError
    sys.argv = ["flowtrace", *sys.argv[2:]]
    from flowtrace.cli import main
    main()
    """
)


def _cli_without(packages: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _BLOCKED_CLI, packages, *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )


def test_every_installed_extra_is_found() -> None:
    assert {extra: missing_modules(extra) for extra in EXTRAS} == {"tui": [], "otel": []}


def test_a_missing_extra_names_the_pip_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(EXTRAS, "tui", ("no_such_module_for_flowtrace",))
    with pytest.raises(MissingExtraError) as caught:
        require_extra("tui", "the debugger")
    assert str(caught.value) == (
        "the debugger needs the optional 'tui' dependencies "
        "(no_such_module_for_flowtrace not installed): pip install 'flowtrace[tui]'"
    )


def test_the_lazy_root_package_resolves_every_public_name() -> None:
    for name in flowtrace.__all__:
        assert getattr(flowtrace, name) is not None, name
    assert set(flowtrace.__all__) <= set(dir(flowtrace))
    with pytest.raises(AttributeError, match="no_such_name"):
        flowtrace.no_such_name  # noqa: B018


def test_run_and_show_work_without_textual_and_opentelemetry(tmp_path: Path) -> None:
    (tmp_path / "flow.py").write_text(
        "from flowtrace import FlowHDL, node\n"
        "@node\nasync def One() -> int:\n    return 1\n"
        "with FlowHDL() as f:\n    f.one = One()\n"
        "f.run_until_complete()\nprint(f.one.get_data())\n"
    )
    blocked = "textual,opentelemetry,grpc"
    ran = _cli_without(blocked, "run", "flow.py", cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert "(1,)" in ran.stdout
    shown = _cli_without(blocked, "show", "flow.ftrace.jsonl", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    exported = _cli_without(
        blocked, "export", "flow.ftrace.jsonl", "--to", "chrome", "out.json", cwd=tmp_path
    )
    assert exported.returncode == 0, exported.stderr
    assert (tmp_path / "out.json").stat().st_size > 0


def test_otlp_without_the_otel_extra_says_what_to_install(tmp_path: Path) -> None:
    (tmp_path / "flow.py").write_text("print('never run')\n")
    ran = _cli_without("opentelemetry", "run", "--otlp", "flow.py", cwd=tmp_path)
    assert ran.returncode == 2
    assert "pip install 'flowtrace[otel]'" in ran.stderr
    assert "Traceback" not in ran.stderr
    assert "never run" not in ran.stdout


def test_the_debugger_without_textual_says_what_to_install(tmp_path: Path) -> None:
    """In a real terminal (a pty from util-linux `script`), with Textual missing."""
    import shutil

    if shutil.which("script") is None:
        pytest.skip("util-linux `script` is not installed: no pty to open the debugger in")
    (tmp_path / "flow.py").write_text(
        "from flowtrace import FlowHDL, node\n"
        "@node\nasync def One() -> int:\n    return 1\n"
        "with FlowHDL() as f:\n    f.one = One()\n"
        "f.run_until_complete()\n"
    )
    assert _cli_without("textual", "run", "flow.py", cwd=tmp_path).returncode == 0
    (tmp_path / "cli.py").write_text(_BLOCKED_CLI)
    command = f"{sys.executable} cli.py textual tui flow.ftrace.jsonl"
    done = subprocess.run(
        ["script", "-qec", command, "/dev/null"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 1, done.stdout
    assert "pip install 'flowtrace[tui]'" in done.stdout
    assert "Traceback" not in done.stdout
