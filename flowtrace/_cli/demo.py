"""``flowtrace demo``: record the bundled demo flow, then open it in the debugger.

The demo is ``examples/demo.py`` of the source tree (a cycle feeding a stream that one
reader cancels). Without a terminal, the trace's summary is printed instead, exactly as
``flowtrace tui`` does.
"""

from __future__ import annotations

from pathlib import Path

import click

__all__ = ["demo", "demo_script"]


def demo_script() -> Path:
    """Where the demo program lives: ``examples/demo.py`` next to the package."""
    import flowtrace

    return Path(flowtrace.__file__).resolve().parent.parent / "examples" / "demo.py"


@click.command(name="demo")
@click.option(
    "--record",
    "record",
    metavar="FILE",
    default="demo.ftrace.jsonl",
    show_default=True,
    type=click.Path(dir_okay=False),
    help="Where to write the demo's trace.",
)
@click.option(
    "--summary", is_flag=True, help="Print the trace's summary instead of opening the debugger."
)
@click.pass_context
def demo(ctx: click.Context, record: str, summary: bool) -> None:
    """Record examples/demo.py and open the trace in the time-travel debugger."""
    from flowtrace._cli.tui import tui

    script = demo_script()
    if not script.is_file():
        raise click.ClickException(
            f"the demo program is not here ({script}); run `flowtrace demo` from a "
            "flowtrace source checkout, or `flowtrace tui YOUR_SCRIPT.py`"
        )
    ctx.invoke(tui, record=record, summary=summary, target=str(script), args=())
