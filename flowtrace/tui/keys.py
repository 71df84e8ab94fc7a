"""The debugger's keys: one table from which the bindings, the help screen and the
command palette are all generated, so none of them can forget an action."""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding
from textual.keys import format_key

__all__ = ["KeySpec", "KEYMAP", "bindings"]


@dataclass(frozen=True)
class KeySpec:
    """One key binding of the debugger, with the texts the footer and help show."""

    keys: str  # comma-separated Textual key names
    action: str
    label: str  # short, for the footer and the palette
    help: str  # one sentence, for the help screen
    group: str
    footer: bool = False
    priority: bool = False

    def display_keys(self) -> list[str]:
        return [format_key(k) for k in self.keys.split(",")]


KEYMAP: tuple[KeySpec, ...] = (
    # moving
    KeySpec(
        "down,j", "step(1)", "step", "Next event (the cursor moves one row).", "Move", footer=True
    ),
    KeySpec("up,k", "step(-1)", "back", "Previous event.", "Move"),
    KeySpec("pagedown", "step(20)", "page down", "20 events forward.", "Move"),
    KeySpec("pageup", "step(-20)", "page up", "20 events back.", "Move"),
    KeySpec("home,g", "start", "start", "First event of the run.", "Move"),
    KeySpec("end,G", "end", "end", "Last event of the run.", "Move"),
    KeySpec(
        "colon",
        "goto",
        "jump to seq",
        "Jump to an event number (also +10, -10, 50%).",
        "Move",
        footer=True,
    ),
    KeySpec(
        "right_square_bracket",
        "node_event(1)",
        "node event →",
        "Next event of the selected node.",
        "Selected node",
    ),
    KeySpec(
        "left_square_bracket",
        "node_event(-1)",
        "node event ←",
        "Previous event of the selected node.",
        "Selected node",
    ),
    KeySpec(
        "right_curly_bracket",
        "generation(1)",
        "generation →",
        "Next generation (evaluation start) of the selected node.",
        "Selected node",
    ),
    KeySpec(
        "left_curly_bracket",
        "generation(-1)",
        "generation ←",
        "Previous generation of the selected node.",
        "Selected node",
    ),
    KeySpec(
        "tab",
        "select_node(1)",
        "next node",
        "Select the next node (pins it: stepping no longer changes it).",
        "Selected node",
        priority=True,
    ),
    KeySpec(
        "shift+tab",
        "select_node(-1)",
        "previous node",
        "Select the previous node.",
        "Selected node",
        priority=True,
    ),
    KeySpec(
        "escape",
        "unpin",
        "follow cursor",
        "Unpin: the selected node follows the event under the cursor again.",
        "Selected node",
    ),
    # finding trouble
    KeySpec(
        "e",
        "error(1)",
        "next error",
        "Next error (a node raised, a deadlock, the run failed).",
        "Find",
        footer=True,
    ),
    KeySpec("E", "error(-1)", "previous error", "Previous error.", "Find"),
    KeySpec(
        "c",
        "cycle_break(1)",
        "next cycle break",
        "Next cycle break (the resolver ran a node with defaults to break a cycle).",
        "Find",
        footer=True,
    ),
    KeySpec("C", "cycle_break(-1)", "previous cycle break", "Previous cycle break.", "Find"),
    KeySpec(
        "s", "stall(1)", "next stall", "Next stall (a consumer waited for stream data).", "Find"
    ),
    KeySpec("S", "stall(-1)", "previous stall", "Previous stall.", "Find"),
    KeySpec(
        "x",
        "cancellation(1)",
        "next cancellation",
        "Next stream cancellation (requested or delivered).",
        "Find",
        footer=True,
    ),
    KeySpec("X", "cancellation(-1)", "previous cancellation", "Previous cancellation.", "Find"),
    KeySpec(
        "slash",
        "search",
        "search",
        "Search: text, kind:NAME, node:ID; moves to the next match.",
        "Find",
        footer=True,
    ),
    KeySpec("n", "find(1)", "next match", "Next match of the search.", "Find"),
    KeySpec("N", "find(-1)", "previous match", "Previous match of the search.", "Find"),
    KeySpec(
        "f",
        "filter",
        "filter",
        "Filter: show only matching events (same syntax as search).",
        "Find",
        footer=True,
    ),
    KeySpec("F", "clear_filter", "clear filter", "Show every event again.", "Find"),
    # breakpoints
    KeySpec(
        "b",
        "kind_breakpoint",
        "breakpoint on kind",
        "Toggle a breakpoint on the kind of the event under the cursor.",
        "Breakpoints",
    ),
    KeySpec(
        "B",
        "node_breakpoint",
        "breakpoint on node",
        "Toggle a breakpoint on every event of the selected node.",
        "Breakpoints",
    ),
    KeySpec(
        "greater_than_sign",
        "continue(1)",
        "continue →",
        "Continue forwards to the next breakpoint.",
        "Breakpoints",
        footer=True,
    ),
    KeySpec(
        "less_than_sign",
        "continue(-1)",
        "continue ←",
        "Continue backwards to the previous breakpoint.",
        "Breakpoints",
    ),
    KeySpec(
        "ctrl+b",
        "clear_breakpoints",
        "clear breakpoints",
        "Remove every breakpoint.",
        "Breakpoints",
    ),
    # playing
    KeySpec(
        "space",
        "play",
        "play/pause",
        "Play forwards event by event; stops at a breakpoint or the end.",
        "Play",
        footer=True,
    ),
    KeySpec("plus,equals_sign", "speed(1)", "faster", "Play faster.", "Play"),
    KeySpec("minus", "speed(-1)", "slower", "Play slower.", "Play"),
    # where values came from
    KeySpec(
        "p",
        "producer",
        "go to producer",
        "Jump to the event that produced the value read here (choose if several).",
        "Lineage",
        footer=True,
    ),
    KeySpec(
        "backspace,o",
        "jump_back",
        "jump back",
        "Go back to where the last jump started.",
        "Lineage",
    ),
    KeySpec("O", "jump_forward", "jump forward", "Redo the jump undone by back.", "Lineage"),
    # comparing
    KeySpec("m", "mark", "mark", "Mark the current position.", "Compare"),
    KeySpec(
        "d",
        "diff",
        "diff",
        "Show what changed between the mark and the cursor.",
        "Compare",
        footer=True,
    ),
    KeySpec(
        "v",
        "divergence(1)",
        "next divergence",
        "With --against B: the next place where this run and B's part ways.",
        "Compare",
    ),
    KeySpec(
        "V",
        "divergence(-1)",
        "previous divergence",
        "With --against B: the previous divergence.",
        "Compare",
    ),
    KeySpec(
        "a",
        "other_side",
        "other run",
        "With --against B: show the other run (A or B) at the same divergence.",
        "Compare",
    ),
    # time
    KeySpec(
        "t",
        "toggle_timeline",
        "timeline",
        "Show or hide the timeline (one lane per node over wall time).",
        "Time",
        footer=True,
    ),
    KeySpec("z", "zoom(0.5)", "zoom in", "Zoom the timeline in, around the cursor.", "Time"),
    KeySpec("Z", "zoom(2.0)", "zoom out", "Zoom the timeline out.", "Time"),
    KeySpec("h", "pan(-0.25)", "pan left", "Move the timeline's window earlier.", "Time"),
    KeySpec("l", "pan(0.25)", "pan right", "Move the timeline's window later.", "Time"),
    KeySpec("w", "fit", "whole run", "Fit the whole run into the timeline.", "Time"),
    KeySpec(
        "full_stop",
        "time_step(1)",
        "later",
        "Move the cursor to the first event one timeline cell later.",
        "Time",
    ),
    KeySpec(
        "comma",
        "time_step(-1)",
        "earlier",
        "Move the cursor to the first event one timeline cell earlier.",
        "Time",
    ),
    # panes
    KeySpec(
        "i",
        "next_pane(1)",
        "next pane",
        "Focus the next pane (arrows then scroll it); on a small screen, show it.",
        "Panes",
    ),
    KeySpec("I", "next_pane(-1)", "previous pane", "Focus the previous pane.", "Panes"),
    KeySpec(
        "M",
        "maximise",
        "maximise",
        "Maximise the focused pane (the log when none is); again restores.",
        "Panes",
    ),
    # copy, export
    KeySpec(
        "y",
        "copy('inspector')",
        "copy",
        "Copy the inspector (the event, its values, a traceback) to the clipboard.",
        "Copy",
    ),
    KeySpec(
        "Y",
        "copy('json')",
        "copy as JSON",
        "Copy the event under the cursor, as its JSON line, to the clipboard.",
        "Copy",
    ),
    KeySpec(
        "ctrl+s",
        "export",
        "export",
        "Write the events shown (the filter's, else all) to a file: text or JSON lines.",
        "Copy",
    ),
    # the rest
    KeySpec("r", "runs", "switch run", "Choose another run of this trace.", "Other"),
    KeySpec("question_mark,f1", "help", "help", "This help.", "Other", footer=True),
    KeySpec(
        "ctrl+p",
        "command_palette",
        "commands",
        "Command palette: every action, searchable by name.",
        "Other",
    ),
    KeySpec("q", "quit", "quit", "Quit.", "Other", footer=True),
)


def bindings() -> list[Binding]:
    """Textual bindings for :data:`KEYMAP` (all at app level)."""
    out: list[Binding] = []
    for spec in KEYMAP:
        if spec.action == "command_palette":
            continue  # Textual's own binding
        out.append(
            Binding(spec.keys, spec.action, spec.label, show=spec.footer, priority=spec.priority)
        )
    return out
