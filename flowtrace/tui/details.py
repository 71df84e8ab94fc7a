"""The inspector's text: an event in full, a node at the cursor, a state diff.

:func:`event_details` (what an event says, in prose, with where its values came
from), :func:`node_details` (a node's status, generation, inputs and the chain of
what it read), :func:`diff_text` (what changed between two positions). Pure
functions of replay states, free of Textual.
"""

from __future__ import annotations

from rich.text import Text

from flowtrace.codec import describe
from flowtrace.events import (
    DataEmitted,
    DeadlockDetected,
    ErrorInfo,
    Event,
    InputsGathered,
    SolutionFound,
)
from flowtrace.replay import InputSource, Replay, State, StateDiff
from flowtrace.replay import format_generation as fg
from flowtrace.replay import format_values as values_text
from flowtrace.safetext import safe_text

from .loglines import STATUS_STYLE, implied_text, normal_end, shown_status

__all__ = ["event_details", "node_details", "diff_text", "prose"]


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
