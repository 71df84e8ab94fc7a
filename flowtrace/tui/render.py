"""Text for the debugger's panes, as pure functions of events and replay states.

This module draws the node table and the graph as text; the log's lines live in
:mod:`flowtrace.tui.loglines` and the inspector's text in :mod:`flowtrace.tui.details`,
and every public name of the three is importable from here. Kept apart from the
widgets (and free of Textual) so that what a user reads can be tested and reused
without a terminal. Only Rich is used, for colour.
"""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from flowtrace.codec import describe
from flowtrace.events import GraphInfo
from flowtrace.replay import NodeView, State
from flowtrace.replay import format_generation as fg
from flowtrace.replay import format_values as values_text
from flowtrace.safetext import safe_text

from .details import diff_text, event_details, node_details, prose
from .loglines import (
    NORMAL_END_ERRORS,
    STATUS_STYLE,
    duration_ns,
    event_category,
    event_row,
    event_row_text,
    event_summary,
    implied_text,
    normal_end,
    shown_status,
)

__all__ = [
    "STATUS_STYLE",
    "NORMAL_END_ERRORS",
    "normal_end",
    "shown_status",
    "event_summary",
    "event_row",
    "event_row_text",
    "event_category",
    "implied_text",
    "duration_ns",
    "node_table",
    "graph_lines",
    "event_details",
    "node_details",
    "diff_text",
    "prose",
    "values_text",
]


# ---------------------------------------------------------------- node table


def _waits(state: State) -> dict[str, str]:
    """node id → what it waits for (wait-for edges, else its task's sleep or wait)."""
    out: dict[str, list[str]] = {}
    for e in state.wait_for():
        out.setdefault(e.waiter, []).append(f"{e.blocker} ({e.reason})")
    text = {k: "; ".join(v) for k, v in out.items()}
    for _name, node_id, task_state, detail in state.tasks().values():
        if (
            node_id is not None
            and node_id not in text
            and task_state in ("sleeping", "waiting", "io")
        ):
            text[node_id] = detail
    return text


def node_table(
    state: State,
    selected: str | None,
    max_rows: int | None = None,
    durations: dict[str, str] | None = None,
) -> Table:
    """Each node at the cursor: status, generation, last value, what it waits for.
    With ``max_rows``, a window of the nodes that keeps the selected one in view;
    with ``durations``, a column of each node's last evaluation time."""
    table = Table(
        box=None, pad_edge=False, expand=True, show_edge=False, header_style="bold underline"
    )
    table.add_column("node", no_wrap=True, max_width=14)
    table.add_column("status", no_wrap=True)
    table.add_column("gen", no_wrap=True)
    if durations is not None:
        table.add_column("took", no_wrap=True)
    table.add_column("last value", no_wrap=True, overflow="ellipsis", ratio=1)
    table.add_column("waits for", no_wrap=True, overflow="ellipsis", ratio=1)
    waits = _waits(state)
    views = state.nodes()
    if max_rows is not None and len(views) > max_rows:
        ids = [v.node_id for v in views]
        at = ids.index(selected) if selected in ids else 0
        start = min(max(0, at - max_rows // 2), len(views) - max_rows)
        views = views[start : start + max_rows]
    for view in views:
        status = shown_status(view)
        if status == "waiting" and view.run_level == 1:
            status = "waiting·1"
        marker = "▶" if view.node_id == selected else " "
        row_style = "reverse" if view.node_id == selected else ""
        cells: list[Text] = [  # cells from the trace: Text (never markup), printable
            safe_text(marker + view.node_id, multiline=False),
            safe_text(status, STATUS_STYLE.get(shown_status(view), ""), multiline=False),
            safe_text(fg(view.generation), multiline=False),
            safe_text(
                values_text(view.output if view.output is not None else view.item, 24),
                multiline=False,
            ),
            safe_text(waits.get(view.node_id, ""), multiline=False),
        ]
        if durations is not None:
            cells.insert(3, safe_text(durations.get(view.node_id, "-"), multiline=False))
        table.add_row(*cells, style=row_style)
    return table


# ---------------------------------------------------------------- graph


def _back_edges(graph: GraphInfo) -> set[tuple[str, str]]:
    """Edges that close a cycle, found by a DFS in registration order (deterministic)."""
    succ: dict[str, list[str]] = {n.node_id: [] for n in graph.nodes}
    for producer, _, consumer, _ in graph.edges():
        if producer in succ and consumer not in succ[producer]:
            succ[producer].append(consumer)
    colour: dict[str, int] = {}
    back: set[tuple[str, str]] = set()

    def visit(n: str) -> None:
        colour[n] = 1
        for m in succ.get(n, []):
            c = colour.get(m, 0)
            if c == 1:
                back.add((n, m))
            elif c == 0:
                visit(m)
        colour[n] = 2

    for n in succ:
        if colour.get(n, 0) == 0:
            visit(n)
    return back


def graph_lines(state: State, selected: str | None) -> list[Text]:
    """The flow drawn as text: each node (coloured by status) and its outgoing edges.

    ``⟲`` marks an edge that closes a cycle; ``◆`` a port fed by its default at the
    cursor (a broken cycle, or an unconnected input).
    """
    graph = state.graph
    if graph is None:
        return [Text("(no graph yet: the run has not started)", style="dim")]
    back = _back_edges(graph)
    out: list[Text] = []
    by_id = {n.node_id: n for n in graph.nodes}
    consumers: dict[str, list[tuple[int, str, int]]] = {n.node_id: [] for n in graph.nodes}
    for producer, output, consumer, port in graph.edges():
        consumers.setdefault(producer, []).append((output, consumer, port))
    for info in graph.nodes:
        try:
            view: NodeView | None = state.node(info.node_id)
        except KeyError:
            view = None
        status = shown_status(view) if view else "waiting"
        line = Text("▶ " if info.node_id == selected else "  ")
        line.append(f"[{info.node_id}]", style=STATUS_STYLE.get(status, "") or "bold")
        line.append(f" {info.kind} {status} g{fg(view.generation if view else None)}", style="dim")
        out.append(line)
        defaulted = set(view.defaulted_ports) if view else set()
        for p in info.inputs:
            if p.producer is None:
                mark = Text(
                    f"    ◇ in{p.index} {p.name}: default "
                    f"{describe(p.default, 16) if p.has_default else '(none)'}",
                    style="dim",
                )
                out.append(mark)
            elif p.index in defaulted:
                out.append(
                    Text(
                        f"    ◆ in{p.index} {p.name} DEFAULTED "
                        f"{describe(p.default, 16)} (cycle broken here)",
                        style="bold magenta",
                    )
                )
        edges = consumers.get(info.node_id, [])
        for i, (output, consumer, port) in enumerate(edges):
            branch = "└" if i == len(edges) - 1 else "├"
            edge = Text(f"   {branch}─▶ {consumer}.in{port}")
            if output:
                edge.append(f" (out {output})", style="dim")
            cinfo = by_id.get(consumer)
            if cinfo is not None and any(
                p.index == port and p.min_run_level == 1 for p in cinfo.inputs
            ):
                edge.append(" ≋stream", style="cyan")
            if (info.node_id, consumer) in back:
                edge.append(" ⟲ cycle", style="bold magenta")
            out.append(edge)
    return [safe_text(line, multiline=False) for line in out]
