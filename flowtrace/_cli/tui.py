"""``flowtrace tui TARGET [ARGS]...``: open the time-travel debugger.

TARGET is a trace file, or a Python script (or package directory) that is recorded
first with ``flowtrace run`` and then opened. Textual is imported only when the app
starts; without a terminal (output piped, CI) the command prints the trace's summary
instead of starting a full-screen app.
"""

from __future__ import annotations

import os
import sys

import click

__all__ = ["tui", "is_script"]


def is_script(target: str) -> bool:
    """A directory or a ``.py`` file is run and recorded; anything else is a trace."""
    return os.path.isdir(target) or target.endswith((".py", ".pyw"))


def _print_summary(path: str) -> None:
    from rich.console import Console

    from flowtrace._cli.show import render_summary
    from flowtrace.summary import summarize_file

    console = Console()
    for part in render_summary(summarize_file(path, lenient=True)):
        console.print(part)


@click.command(
    name="tui",
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
)
@click.option("--record", "record", metavar="FILE", type=click.Path(dir_okay=False),
              help="When TARGET is a script: where to write its trace (default: "
              "SCRIPT-NAME.ftrace.jsonl in the current directory).")
@click.option("--summary", is_flag=True,
              help="Print the trace's summary instead of opening the debugger.")
@click.argument("target", type=click.Path(exists=True))
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def tui(record: str | None, summary: bool, target: str, args: tuple[str, ...]) -> None:
    """Open the time-travel debugger on TARGET: a trace file, or a script (with its
    ARGS) that is recorded first.

    Press ? in the debugger for every key. Without a terminal, prints the summary
    that `flowtrace show` prints.
    """
    from flowtrace.tracefile import TraceFormatError, TraceReader

    if is_script(target):
        from flowtrace.tui.loader import record_script

        try:
            path = record_script(target, args, record)
        except RuntimeError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"flowtrace: opening {path}", err=True)
    else:
        if args:
            raise click.UsageError("extra arguments are only allowed after a script")
        path = target
    try:
        TraceReader(path, lenient=True).close()  # a clear message for a non-trace file
    except TraceFormatError as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(f"cannot read {path}: {exc.strerror or exc}") from None
    if summary or not (sys.stdout.isatty() and sys.stdin.isatty()):
        if not summary:
            click.echo("flowtrace tui: not a terminal, printing the summary instead "
                       f"(run `flowtrace tui {path}` in a terminal to debug)", err=True)
        _print_summary(path)
        return
    from flowtrace._extras import MissingExtraError, require_extra

    try:
        require_extra("tui", "the debugger (flowtrace tui)")
    except MissingExtraError as exc:
        raise click.ClickException(str(exc)) from None
    from flowtrace.tui.app import ReplayApp

    ReplayApp(path=path, name=os.path.basename(path)).run()
