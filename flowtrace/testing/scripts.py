"""Run a whole Python script with a Capture attached, and render its execution order.

Example programs (and users' own scripts) are the most natural thing to snapshot:
:func:`run_script` executes a script in this process as ``__main__`` with a
:class:`~flowtrace.testing.Capture` as process-default instrument, so every flow it
runs is captured without editing it. How the script ended — normally, with an
exception, or with ``sys.exit`` — is part of the result and of its rendered order: an
example that ends in an error or a deadlock still has a stable snapshot.

:func:`orders_of_scripts` renders several scripts, each in a forked child process
where the platform can fork: every script then starts from the same state (module
globals, process-default instruments, loggers, threads) whatever ran before it, at the
cost of a fork rather than a new interpreter. As a command, run under the hash seed
you want to check::

    python -m flowtrace.testing.scripts [--level scheduling] [--unnumbered] SCRIPT
    python -m flowtrace.testing.scripts --json --level scheduling --level full SCRIPT...

prints the script's canonical order, or ``{script: {level: order}}`` as JSON; the
scripts' own standard output is discarded.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import runpy
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from flowtrace.instrument import add_default_instrument, remove_default_instrument
from flowtrace.testing.capture import Capture
from flowtrace.testing.render import LEVEL_NAMES, Selection, scrub

__all__ = ["ScriptRun", "run_script", "orders_of_scripts", "main"]


@dataclass(frozen=True, slots=True)
class ScriptRun:
    """A finished script: what it did (``capture``) and how it ended (``outcome``)."""

    path: str
    capture: Capture
    #: ``"completed"``, ``"raised <Type>: <message>"`` or ``"exited with code N"``.
    outcome: str
    exception: BaseException | None
    stdout: str

    def order(self, level: Selection = "scheduling", *, numbered: bool = True) -> str:
        """The captured order, then a last line with the script's outcome."""
        return self.capture.order(level, numbered=numbered) + f"-- script {self.outcome}\n"


def run_script(
    path: str | Path, argv: Sequence[str] = (), *, capture_stdout: bool = True
) -> ScriptRun:
    """Execute ``path`` as ``__main__`` with a fresh Capture attached to every flow run.

    ``sys.argv`` is ``[path, *argv]`` and the script's folder is first on ``sys.path``
    while it runs, as with ``python path``. Exceptions and ``SystemExit`` are caught
    and reported in the outcome; ``KeyboardInterrupt`` propagates.
    """
    script = Path(path)
    if not script.is_file():
        raise FileNotFoundError(f"no script at {script}")
    capture = Capture()
    out = io.StringIO()
    old_argv, old_path = sys.argv, list(sys.path)
    sys.argv = [str(script), *argv]
    sys.path.insert(0, str(script.resolve().parent))
    outcome = "completed"
    exception: BaseException | None = None
    add_default_instrument(capture)
    try:
        redirect = contextlib.redirect_stdout(out) if capture_stdout else contextlib.nullcontext()
        with redirect:
            runpy.run_path(str(script), run_name="__main__")
    except SystemExit as exc:
        code = exc.code
        if code not in (None, 0):
            outcome = (
                f"exited with code {code}"
                if isinstance(code, int)
                else (f"exited: {scrub(str(code))}")
            )
            exception = exc
    except Exception as exc:
        kind = type(exc)
        name = (
            kind.__qualname__
            if kind.__module__ == "builtins"
            else (f"{kind.__module__}.{kind.__qualname__}")
        )
        message = scrub(str(exc))
        outcome = f"raised {name}: {message}" if message else f"raised {name}"
        exception = exc
    finally:
        remove_default_instrument(capture)
        sys.argv = old_argv
        sys.path[:] = old_path
    return ScriptRun(str(script), capture, outcome, exception, out.getvalue())


def _orders(path: str, levels: Sequence[Selection], numbered: bool) -> dict[str, str]:
    result = run_script(path)
    return {str(level): result.order(level, numbered=numbered) for level in levels}


def orders_of_scripts(
    paths: Sequence[str | Path],
    levels: Sequence[Selection] = ("scheduling",),
    *,
    numbered: bool = True,
    isolate: bool = True,
) -> dict[str, dict[str, str]]:
    """``{path: {level: order}}`` for each script (see :meth:`ScriptRun.order`).

    With ``isolate`` (and ``os.fork`` available) each script runs in a forked child,
    so no script sees what an earlier one left behind; otherwise they run one after
    the other in this process.
    """
    results: dict[str, dict[str, str]] = {}
    for path in paths:
        if isolate and hasattr(os, "fork"):
            results[str(path)] = _in_child(str(path), levels, numbered)
        else:
            results[str(path)] = _orders(str(path), levels, numbered)
    return results


def _in_child(path: str, levels: Sequence[Selection], numbered: bool) -> dict[str, str]:
    sys.stdout.flush()
    sys.stderr.flush()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: run, report, and leave without running any cleanup
        try:
            os.close(read_end)
            try:
                payload = json.dumps({"orders": _orders(path, levels, numbered)})
            except BaseException as exc:
                payload = json.dumps({"error": f"{type(exc).__name__}: {exc}"})
            with os.fdopen(write_end, "w", encoding="utf-8") as pipe:
                pipe.write(payload)
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, encoding="utf-8") as pipe:
        data = pipe.read()
    _, status = os.waitpid(pid, 0)
    if not data:
        raise RuntimeError(f"rendering {path} failed: its process ended with status {status}")
    reply = json.loads(data)
    if "error" in reply:
        raise RuntimeError(f"rendering {path} failed: {reply['error']}")
    orders: dict[str, str] = reply["orders"]
    return orders


def main(args: Sequence[str] | None = None) -> int:
    """``python -m flowtrace.testing.scripts``: run scripts, print their orders."""
    parser = argparse.ArgumentParser(
        prog="python -m flowtrace.testing.scripts",
        description="Run scripts with every flow captured; print their canonical orders.",
    )
    parser.add_argument("scripts", nargs="+", metavar="SCRIPT")
    parser.add_argument(
        "--level",
        action="append",
        choices=LEVEL_NAMES,
        help="detail level (default scheduling); repeat it with --json for several",
    )
    parser.add_argument("--unnumbered", action="store_true")
    parser.add_argument(
        "--json", action="store_true", help="print {script: {level: order}} as JSON"
    )
    ns = parser.parse_args(args)
    levels: list[str] = ns.level or ["scheduling"]
    if not ns.json and (len(levels) > 1 or len(ns.scripts) > 1):
        parser.error("several levels or scripts need --json")
    orders = orders_of_scripts(ns.scripts, levels, numbered=not ns.unnumbered)
    if ns.json:
        sys.stdout.write(json.dumps(orders) + "\n")
    else:
        sys.stdout.write(orders[ns.scripts[0]][levels[0]])
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
