"""Text for the debugger's panes, as pure functions of events and replay states.

Kept apart from the widgets (and free of Textual) so that what a user reads — one line
per event, the node table, the graph drawn as text, the inspector — can be tested and
reused without a terminal. Only Rich's ``Text`` is used, for colour.
"""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from flowtrace.codec import describe
from flowtrace.events import (
    BarrierCountdown,
    DataEmitted,
    DeadlockDetected,
    ErrorInfo,
    Event,
    FlowFinished,
    FlowStarted,
    GenerationLimitReached,
    GraphInfo,
    InputsGathered,
    LoopExited,
    LoopStarted,
    NodeErrored,
    NodeFinished,
    NodeStarted,
    NodeStatusChanged,
    NodeVisited,
    OffloadFinished,
    OffloadStarted,
    OffloadSubmitted,
    ResolutionQueuePut,
    SleepBegan,
    SleepEnded,
    SolutionFound,
    StreamCancelled,
    StreamCancelRequested,
    StreamEnded,
    StreamItemConsumed,
    StreamResumed,
    StreamStalled,
    TaskCancelRequested,
    TaskFinished,
    TaskSpawned,
    WaitBegan,
    WaitEnded,
)
from flowtrace.implied import queue_get, queue_put, status_change
from flowtrace.replay import (
    NORMAL_OUTCOMES,
    InputSource,
    NodeView,
    Replay,
    State,
    StateDiff,
    event_nodes,
)
from flowtrace.replay import format_generation as fg
from flowtrace.replay import format_values as values_text
from flowtrace.safetext import safe_text

__all__ = [
    "STATUS_STYLE",
    "event_summary",
    "event_row",
    "event_category",
    "node_table",
    "graph_lines",
    "event_details",
    "node_details",
    "diff_text",
    "values_text",
]

#: Colour of each node status, shared by the node table, the graph and the log.
STATUS_STYLE: dict[str, str] = {
    "waiting": "dim",
    "queued": "cyan",
    "executing": "bold green",
    "stalled": "yellow",
    "stopped": "blue",
    "error": "bold red",
    "cancelled": "magenta",
}

_CATEGORY_STYLE = {
    "error": "bold red",
    "cycle": "bold magenta",
    "stall": "yellow",
    "cancel": "dark_orange",
    "data": "green",
    "eval": "bold",
    "flow": "bold blue",
    "": "",
}


#: Exceptions the engine raises to *end* a run normally (a generation limit): the loop
#: and the root task record them as errors, a user must not be shown one.
NORMAL_END_ERRORS = frozenset({"TerminateLimitReached"})


def normal_end(error: ErrorInfo | None) -> bool:
    """Whether ``error`` is the engine's way of stopping a run at its limit."""
    return error is not None and error.type.rsplit(".", 1)[-1] in NORMAL_END_ERRORS


def shown_status(view: NodeView) -> str:
    """A node's status as the debugger shows it: a node whose evaluation a generation
    limit ended is ``stopped``, not ``executing`` (the engine leaves it so)."""
    if view.status == "executing" and view.evaluating is None and view.finished == "limit":
        return "stopped"
    return view.status


def event_category(event: Event) -> str:
    """A coarse class used for colour and the timeline: error, cycle, stall, cancel…"""
    if isinstance(event, (NodeErrored, DeadlockDetected)):
        return "error"
    if isinstance(event, (FlowFinished, LoopExited)) and event.error is not None:
        if normal_end(event.error):
            return "flow"
        return "" if event.outcome in NORMAL_OUTCOMES else "error"
    if isinstance(event, TaskFinished) and event.error is not None:
        return "" if normal_end(event.error) else "error"
    if isinstance(event, OffloadFinished) and event.outcome in ("raised", "lost", "refused"):
        return "error"
    if isinstance(event, SolutionFound) and event.cycle_breaks:
        return "cycle"
    if isinstance(event, (StreamStalled, StreamResumed)):
        return "stall"
    if isinstance(event, (StreamCancelRequested, StreamCancelled)):
        return "cancel"
    if isinstance(event, DataEmitted):
        return "data"
    if isinstance(event, (NodeStarted, NodeFinished)):
        return "eval"
    if isinstance(event, (FlowStarted, FlowFinished)):
        return "flow"
    return ""


def event_summary(event: Event) -> str:
    """What happened, in a few words (the log's last column)."""
    e = event
    if isinstance(e, NodeStatusChanged):
        extra = ""
        if e.new == "stalled" and e.port is not None:
            extra = f" (port {e.port})"
        elif e.run_level is not None and e.new == "waiting":
            extra = f" (rl {e.run_level})"
        return f"{e.old} → {e.new}{extra}"
    if isinstance(e, (NodeStarted, NodeFinished)):
        tail = f" {e.outcome}" if isinstance(e, NodeFinished) else ""
        return f"g{fg(e.generation)}{tail}"
    if isinstance(e, InputsGathered):
        parts = []
        for r in e.inputs:
            if r.defaulted:
                parts.append(f"{r.port}=default {describe(r.value, 12)}")
            elif r.stream:
                parts.append(f"{r.port}=stream<{r.producer}>")
            else:
                parts.append(
                    f"{r.port}={describe(r.value, 12)}@{r.producer}:{fg(r.producer_generation)}"
                )
        return f"g{fg(e.generation)} " + (" ".join(parts) if parts else "(no inputs)")
    if isinstance(e, DataEmitted):
        text = f"g{fg(e.generation)} rl{e.run_level} = {values_text(e.values, 30)}"
        if e.pending_readers:
            text += f" ({e.pending_readers} reader(s) had not read the last)"
        return text + (", parks" if e.parked else "")
    if isinstance(e, ResolutionQueuePut):
        by = f" by {e.by}" if e.by else ""
        return f"{e.reason}{by}" + ("" if e.added else " (already queued)")
    if isinstance(e, SolutionFound):
        text = "leaves " + ",".join(e.leaves)
        for cb in e.cycle_breaks:
            text += f" ⟲ BREAK {cb.node_id} ports {list(cb.defaulted_ports)}"
        return text
    if isinstance(e, NodeVisited):
        return e.action
    if isinstance(e, NodeErrored):
        return f"g{fg(e.generation)} {e.error.type}: {e.error.message}"
    if isinstance(e, StreamItemConsumed):
        left = f", {e.remaining} left" if e.remaining is not None else ""
        return f"port {e.port} ← {e.producer} g{fg(e.generation)} = {describe(e.value, 20)}{left}"
    if isinstance(e, StreamStalled):
        tail = ""
        if e.producer_queued is not None:
            tail = f", {e.producer} {'queued' if e.producer_queued else 'already queued'}"
        return f"port {e.port} waits for {e.producer} after g{fg(e.last_generation)}{tail}"
    if isinstance(e, StreamResumed):
        return f"port {e.port} ← {e.producer}"
    if isinstance(e, StreamEnded):
        return f"port {e.port} ← {e.producer} g{fg(e.generation)}" + (
            " (cancelled)" if e.cancelled else ""
        )
    if isinstance(e, StreamCancelRequested):
        how = " (propagated)" if e.propagated else ""
        return f"cancel {e.producer} g{fg(e.generation)}{how}"
    if isinstance(e, StreamCancelled):
        return f"g{fg(e.generation)} by {','.join(e.requested_by)}" + (
            " handled" if e.handled else ""
        )
    if isinstance(e, BarrierCountdown):
        return f"{e.reader} read g{fg(e.generation)}, {e.remaining} left"
    if isinstance(e, FlowStarted):
        return f"{len(e.graph.nodes)} nodes"
    if isinstance(e, FlowFinished):
        err = (
            f" {e.error.type}: {e.error.message}"
            if e.error and not normal_end(e.error)
            else f" ({e.error.message})"
            if e.error
            else ""
        )
        return f"{e.outcome}{err}"
    if isinstance(e, LoopExited):
        if normal_end(e.error):
            return "stopped: generation limit reached"
        return e.outcome + (f" {e.error.type}" if e.error else "")
    if isinstance(e, LoopStarted):
        return "virtual time" if e.virtual_time else ""
    if isinstance(e, TaskSpawned):
        return f"task {e.task_id} {e.name}"
    if isinstance(e, TaskFinished):
        if normal_end(e.error):
            return f"task {e.task_id} stopped by the generation limit"
        return f"task {e.task_id} {e.outcome}"
    if isinstance(e, DeadlockDetected):
        return "DEADLOCK " + "; ".join(
            f"{w.node_id} waits for {', '.join(w.waits_for) or 'nothing it can name'}"
            for w in e.waiting
        )
    if isinstance(e, GenerationLimitReached):
        return f"g{fg(e.generation)} reached the limit {fg(e.limit)}"
    if isinstance(e, SleepBegan):
        if e.duration is None:
            return f"task {e.task_id} sleeps without end"
        return f"task {e.task_id} sleeps {e.duration:g}s"
    if isinstance(e, SleepEnded):
        return f"task {e.task_id} woke after {e.slept:g}s" + (" (cancelled)" if e.cancelled else "")
    if isinstance(e, WaitBegan):
        return f"task {e.task_id} waits on {e.primitive} #{e.primitive_id} {e.reason}"
    if isinstance(e, WaitEnded):
        return f"task {e.task_id} {e.outcome} ({e.primitive} #{e.primitive_id})"
    if isinstance(e, TaskCancelRequested):
        return f"task {e.task_id} cancel requested by task {e.by_task_id}"
    if isinstance(e, OffloadSubmitted):
        what = "body" if e.body else f"{e.function}()"
        return f"call {e.call_id} {what} → {e.executor} ({e.executor_kind}), {e.payload_bytes} B"
    if isinstance(e, OffloadStarted):
        return f"call {e.call_id} on {e.worker} @ {e.host}, queued {duration_ns(e.queue_ns)}"
    if isinstance(e, OffloadFinished):
        ran = f" after {duration_ns(e.run_ns)}" if e.run_ns is not None else ""
        err = f" {e.error.type}: {e.error.message}" if e.error else ""
        return f"call {e.call_id} {e.outcome}{ran}{err}"
    parts = []
    for name in type(e).__struct_fields__:
        if name in ("seq", "t_ns", "run_id"):
            continue
        parts.append(f"{name}={getattr(e, name)}")
    return " ".join(parts)


def implied_text(event: Event) -> str:
    """What an event implies beyond its fields, in words (schema 2.0 folds a node's
    status change, a queue put or get into the event that causes it:
    :mod:`flowtrace.implied`)."""
    lines: list[str] = []
    change = status_change(event)
    if change is not None and not isinstance(event, NodeStatusChanged):
        where = ""
        if change.new == "waiting" and change.run_level is not None:
            where = f" (parked at run level {change.run_level})"
        elif change.new == "stalled" and change.port is not None:
            where = f" on port {change.port}"
        lines.append(f"  so {change.node_id} is now {change.new}{where}\n")
    put = queue_put(event)
    if put is not None and not isinstance(event, ResolutionQueuePut):
        how = "put on" if put.added else "already on"
        lines.append(f"  and {put.node_id} is {how} the resolution queue ({put.reason})\n")
    head = queue_get(event)
    if head is not None:
        lines.append(f"  {head} was taken off the resolution queue\n")
    if isinstance(event, DataEmitted) and event.pending_readers:
        lines.append(
            f"  {event.pending_readers} reader(s) had not read the previous output "
            "(the write never waits for them)\n"
        )
    return "".join(lines)


def duration_ns(ns: int) -> str:
    """A short duration: ``850µs``, ``12.3ms``, ``1.50s``."""
    if ns < 1_000_000:
        return f"{ns / 1_000:.0f}µs"
    if ns < 1_000_000_000:
        return f"{ns / 1_000_000:.1f}ms"
    return f"{ns / 1_000_000_000:.2f}s"


def event_row(event: Event, node: str | None = None) -> str:
    """One plain line for the log (also what filter and search match against).
    ``node`` overrides the node column (the owner of a loop event's task)."""
    if node is None:
        nodes = event_nodes(event)
        node = nodes[0] if nodes else ""
    return f"{event.seq:>7} {type(event).__name__:<21} {node:<10} {event_summary(event)}"


def event_row_text(
    event: Event,
    width: int,
    *,
    cursor: bool = False,
    marked: bool = False,
    breakpoint_hit: bool = False,
    node: str | None = None,
    cursor_after: bool = False,
    moment: str | None = None,
) -> Text:
    """The log line with colour and a two-cell margin: ``▶`` the cursor (``▷`` the
    cursor is on a hidden event just after this row, ``m`` the mark), ``●`` a
    breakpoint hit — visible without colour too. ``moment`` (the time since the
    run's start) goes after the seq."""
    margin = "▶" if cursor else "▷" if cursor_after else "m" if marked else " "
    text = Text(margin, style="bold")
    text.append("●" if breakpoint_hit else " ", style="bold red")
    line = event_row(event, node)
    if moment is not None:
        line = f"{line[:7]} {moment:>8}{line[7:]}"
    text.append(line[: max(0, width - 2)], style=_CATEGORY_STYLE[event_category(event)])
    return safe_text(text, multiline=False)


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


# ---------------------------------------------------------------- inspector


def _error_lines(error: ErrorInfo) -> Text:
    text = Text(f"{error.type}: {error.message}\n", style="bold red")
    text.append(error.traceback.rstrip() + "\n", style="red")
    return text


def prose(value: object) -> str:
    """A field's value as a reader wants it: names joined by commas, groups in
    brackets, yes/no — not Python reprs."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, tuple):
        if not value:
            return "none"
        return ", ".join(f"({prose(v)})" if isinstance(v, tuple) else prose(v) for v in value)
    if value is None:
        return "-"
    return str(value)


def _chain(
    replay: Replay,
    source: InputSource,
    indent: int,
    budget: list[int],
    text: Text,
    seen: frozenset[int] = frozenset(),
) -> None:
    """One source and, indented under it, where *its* values came from: the chain of
    producers back to the run's inputs (``budget`` lines at most, no cycle twice)."""
    if budget[0] <= 0:
        return
    budget[0] -= 1
    where = f" (event #{source.seq})" if source.seq is not None else ""
    text.append(f"{'  ' * indent}{'└ ' if indent > 2 else ''}{source.label}{where}\n", style="cyan")
    if source.seq is None or source.seq in seen or indent > 6:
        return
    for up in replay.sources(source.seq):
        _chain(replay, up, indent + 1, budget, text, seen | {source.seq})


def event_details(replay: Replay, event: Event) -> Text:
    """Every field of an event, values decoded, inputs with the producer event they
    came from, and the traceback of an error."""
    text = Text()
    text.append(f"#{event.seq} {type(event).__name__}\n", style="bold")
    for name in type(event).__struct_fields__:
        if name in ("seq", "t_ns", "run_id", "graph", "inputs", "error", "node"):
            continue
        value = getattr(event, name)
        if name in ("generation", "last_generation", "producer_generation"):
            shown = fg(value)
        elif name == "values":
            shown = values_text(value, 60)
        elif name == "value" or name == "item" or name == "result":
            shown = describe(value, 60)
        elif name in ("cycle_breaks", "waiting"):
            continue  # told as sentences below
        else:
            shown = prose(value)
        text.append(f"  {name}: ", style="dim")
        text.append(shown + "\n")
    implied = implied_text(event)
    if implied:
        text.append(implied, style="cyan")
    if isinstance(event, InputsGathered):
        text.append("  inputs:\n", style="dim")
        for r in event.inputs:
            src = replay.lineage(r)
            if r.defaulted:
                origin = "defaulted"
            elif r.stream:
                origin = f"stream from {r.producer}"
            elif r.producer is None:
                origin = "unconnected"
            else:
                origin = f"{r.producer} g{fg(r.producer_generation)}" + (
                    f" ← event #{src}" if src is not None else ""
                )
            text.append(f"    in{r.port} = {describe(r.value, 30)}  ")
            text.append(origin + "\n", style="cyan")
    sources = replay.sources(event.seq) if not isinstance(event, InputsGathered) else []
    if sources:
        text.append("  came from:\n", style="dim")
        budget = [12]  # lines of the chain at most
        for s in sources:
            _chain(replay, s, 2, budget, text)
    if isinstance(event, DataEmitted):
        readers = replay.readers_of(event.node_id, event.generation)
        if readers:
            text.append(
                "  read by events: " + ", ".join(f"#{s}" for s in readers[:8]) + "\n", style="cyan"
            )
    if isinstance(event, SolutionFound):
        for cb in event.cycle_breaks:
            ports = ", ".join(str(p) for p in cb.defaulted_ports)
            text.append(
                f"  cycle {' → '.join(cb.members)} broken: {cb.node_id} runs first "
                f"with its default on port(s) {ports}\n",
                style="bold magenta",
            )
        for scc in event.sccs:
            text.append(f"  strongly connected: {', '.join(scc)}\n", style="magenta")
    if isinstance(event, DeadlockDetected):
        text.append("  no node can go on:\n", style="bold red")
        for w in event.waiting:
            text.append(
                f"  {w.node_id} ({w.status}) waits for "
                f"{', '.join(w.waits_for) or 'nothing it can name'}"
                + (f": {w.detail}" if w.detail else "")
                + "\n",
                style="red",
            )
    error = getattr(event, "error", None)
    if isinstance(error, ErrorInfo):
        if normal_end(error):
            text.append(
                f"  the run stopped at its generation limit ({error.message}): "
                "a normal end, not an error\n",
                style="bold blue",
            )
        else:
            text.append_text(_error_lines(error))
    return safe_text(text)


def node_details(replay: Replay, state: State, node_id: str) -> Text:
    """The selected node at the cursor: status, values, inputs with lineage, error."""
    text = Text()
    try:
        view = state.node(node_id)
    except KeyError:
        return safe_text(f"{node_id}: not known yet at this position", "dim")
    text.append(f"node {view.node_id}", style="bold")
    text.append(f" ({view.label}, {view.kind})\n", style="dim")
    status = shown_status(view)
    if view.status == "waiting":
        status += (
            " (has not run yet)"
            if view.run_level == -1
            else f" (parked after run level {view.run_level})"
        )
    if view.stalled_port is not None:
        status += f" on port {view.stalled_port}"
    text.append("  status: ", style="dim")
    text.append(
        status
        + ("  (its evaluation ended at the generation limit)" if status == "stopped" else "")
        + "\n",
        style=STATUS_STYLE.get(shown_status(view), ""),
    )
    text.append(
        f"  generation: {fg(view.generation)}   evaluations: {view.evaluations}"
        + (f"   running g{fg(view.evaluating)}" if view.evaluating else "")
        + "\n"
    )
    text.append(
        f"  output: {values_text(view.output, 50)}"
        + (
            f"  (g{fg(view.output_generation)}, #{view.output_seq})"
            if view.output_seq is not None
            else ""
        )
        + "\n"
    )
    if view.item is not None:
        text.append(
            f"  last item: {values_text(view.item, 40)} (g{fg(view.item_generation)}, "
            f"#{view.item_seq})\n"
        )
    if view.inputs is not None:
        text.append(f"  last inputs (#{view.inputs_seq}):\n", style="dim")
        for r in view.inputs:
            src = replay.lineage(r)
            origin = (
                "defaulted"
                if r.defaulted
                else f"stream from {r.producer}"
                if r.stream
                else f"{r.producer} g{fg(r.producer_generation)}"
                + (f" ← #{src}" if src is not None else "")
            )
            text.append(f"    in{r.port} = {describe(r.value, 30)}  ")
            text.append(origin + "\n", style="cyan")
    for edge in state.waits_of(node_id):
        text.append(f"  waits for {edge.blocker} ({edge.reason}): {edge.detail}\n", style="yellow")
    if view.error is not None:
        text.append(f"  error at #{view.error_seq}:\n", style="red")
        text.append_text(_error_lines(view.error))
    return safe_text(text)


def diff_text(diff: StateDiff) -> Text:
    """A diff between two positions, grouped by node."""
    text = Text()
    text.append(f"from #{diff.seq_a} to #{diff.seq_b}\n", style="bold")
    if not diff.changes and diff.queue_before == diff.queue_after:
        text.append("  no node changed\n", style="dim")
    current = None
    for c in diff.changes:
        if c.node_id != current:
            current = c.node_id
            text.append(f"{c.node_id}\n", style="bold")
        text.append(f"  {c.field:<16}", style="dim")
        text.append(c.before, style="red")
        text.append(" → ")
        text.append(c.after + "\n", style="green")
    if diff.queue_before != diff.queue_after:
        text.append(
            f"resolution queue: [{', '.join(diff.queue_before)}] → "
            f"[{', '.join(diff.queue_after)}]\n"
        )
    return safe_text(text)
