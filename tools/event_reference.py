"""Write docs/events.md, the event reference, from the vocabulary itself.

``python tools/event_reference.py`` rewrites the file; ``--check`` exits 1 when the file
differs from what the code says (``tests/test_event_reference.py`` runs the check, so the
reference cannot drift from ``flowtrace/events/``). Every kind is listed with its
docstring and its fields, typed as written in the source, and every closed set with
its values: the reference is the code, put where people read.
"""

from __future__ import annotations

import argparse
import inspect
import re
import sys
import typing
from pathlib import Path

from flowtrace import events
from flowtrace.events import EVENT_TYPES, FLOW_EVENT_TYPES, LOOP_EVENT_TYPES, SCHEMA_VERSION

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "docs" / "events.md"

RECORDS = (
    events.ErrorInfo,
    events.GraphInfo,
    events.NodeInfo,
    events.PortInfo,
    events.InputRead,
    events.CycleBreak,
    events.WaitInfo,
)

CLOSED_SETS = (
    "NodeStatus",
    "NodeKind",
    "QueueReason",
    "VisitAction",
    "NodeOutcome",
    "ErrorPhase",
    "FlowOutcome",
    "LoopOutcome",
    "TaskOutcome",
    "IOOperation",
    "IOOutcome",
    "SocketOperation",
    "Primitive",
    "WaitOutcome",
    "OffloadOutcome",
)


_ROLE = re.compile(r":(?:mod|class|func|meth|data|attr):`~?([^`]+)`")


def _doc(cls: type) -> str:
    """The docstring as one Markdown paragraph (reST roles and double backquotes made
    plain Markdown code)."""
    text = " ".join(inspect.cleandoc(cls.__doc__ or "").split())
    return _ROLE.sub(r"`\1`", text).replace("``", "`")


def _fields(cls: type, skip_header: bool) -> list[str]:
    """``| name | type |`` rows, types as written in the source (postponed strings)."""
    written: dict[str, str] = {}
    for base in reversed(cls.__mro__):
        written.update({k: str(v) for k, v in getattr(base, "__annotations__", {}).items()})
    names = cls.__struct_fields__[3:] if skip_header else cls.__struct_fields__  # type: ignore[attr-defined]
    return [f"| `{name}` | `{_cell(written[name])}` |" for name in names]


def _cell(text: str) -> str:
    """A type as a table cell: its ``|`` escaped so the table keeps its columns."""
    return text.replace("|", "\\|")


def _section(title: str, classes: tuple[type, ...], skip_header: bool) -> list[str]:
    out = [f"## {title}", ""]
    for cls in classes:
        out += [f"### `{cls.__name__}`", "", _doc(cls), ""]
        rows = _fields(cls, skip_header)
        if rows:
            out += ["| field | type |", "|---|---|", *rows, ""]
        else:
            out += ["(no fields besides the header)", ""]
    return out


def render() -> str:
    """The whole reference, as the code defines it now."""
    major, minor = SCHEMA_VERSION
    offload = tuple(t for t in FLOW_EVENT_TYPES if t.__name__.startswith("Offload"))
    flow = tuple(t for t in FLOW_EVENT_TYPES if t not in offload)
    lines = [
        f"# Event reference (schema {major}.{minor})",
        "",
        "Generated from `flowtrace/events/` by `tools/event_reference.py` (a test keeps",
        "the two equal: edit the code's docstrings, then run the tool). The rules of the",
        "format (files, header, values, versioning, the folds of schema 2.0 and why each",
        "keeps every fact) are in [trace-format.md](trace-format.md) and",
        "[DESIGN.md §3](DESIGN.md#3-events).",
        "",
        f"{len(EVENT_TYPES)} kinds. Every event starts with the header `seq` (0, 1, 2 …",
        "gapless within a run), `t_ns` (`time.perf_counter_ns()` when it was built) and",
        "`run_id`; as JSON, `kind` is the class name. The tables list the fields after",
        "the header, in order (the positional order of the constructor).",
        "",
        "## Closed sets",
        "",
        "| name | values |",
        "|---|---|",
    ]
    for name in CLOSED_SETS:
        values = typing.get_args(getattr(events, name))
        lines.append(f"| `{name}` | {', '.join(f'`{v}`' for v in values)} |")
    lines.append("")
    lines += _section("Flow events", flow, skip_header=True)
    lines += _section("Offloaded calls", offload, skip_header=True)
    lines += _section("Event-loop events", LOOP_EVENT_TYPES, skip_header=True)
    lines += _section("Records inside events", RECORDS, skip_header=False)
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is stale")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = TARGET.read_text(encoding="utf-8") if TARGET.exists() else ""
        if current != text:
            print(f"{TARGET.relative_to(ROOT)} is stale: run python tools/event_reference.py")
            return 1
        return 0
    TARGET.write_text(text, encoding="utf-8")
    print(f"wrote {TARGET.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
