"""The debugger's panes. Each holds O(nodes) data at most; the event log is virtual.

The event log renders only its visible rows (Textual's line API on a ``ScrollView``),
asking the :class:`~flowtrace.tui.navigator.Navigator` for the event of each row, so a
run of a million events costs the same to show as one of ten.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from rich.console import RenderableType
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Input, Static

from flowtrace.replay import State
from flowtrace.safetext import printable, safe_text

from .navigator import Navigator
from .render import event_row_text, graph_lines, node_table
from .timeline import format_offset

__all__ = [
    "EventLog",
    "NodeTable",
    "GraphView",
    "Inspector",
    "PositionBar",
    "HeaderBar",
    "KeyBar",
    "PromptLine",
]


class EventLog(ScrollView, can_focus=False):
    """The run's events, one per line, cursor highlighted; only visible rows render."""

    ALLOW_MAXIMIZE = True

    DEFAULT_CSS = """
    EventLog { overflow-x: hidden; overflow-y: scroll; }
    """

    class Clicked(Message):
        """A row was clicked: move the cursor to ``seq``."""

        def __init__(self, seq: int) -> None:
            super().__init__()
            self.seq = seq

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.nav: Navigator | None = None
        #: What an empty log says ("loading…", "no events: …").
        self.placeholder = "loading…"

    def sync(self) -> None:
        """Resize the virtual canvas to the row count and keep the cursor in view."""
        nav = self.nav
        if nav is None:
            return
        rows = nav.row_count()
        self.virtual_size = Size(self.size.width, rows)
        height = max(1, self.scrollable_content_region.height)
        row = nav.row_of_cursor()
        top = round(self.scroll_offset.y)
        if row < top:
            self.scroll_to(y=row, animate=False, immediate=True)
        elif row >= top + height:
            self.scroll_to(y=row - height + 1, animate=False, immediate=True)
        self.refresh()

    def render_line(self, y: int) -> Strip:
        nav = self.nav
        width = self.scrollable_content_region.width or self.size.width
        row = round(self.scroll_offset.y) + y
        style = self.rich_style
        if nav is None or row >= nav.row_count():
            if nav is None and y == 0:
                return (
                    Strip(Text(self.placeholder, style="dim").render(self.app.console))
                    .apply_style(style)
                    .crop_extend(0, width, style)
                )
            return Strip.blank(width, style)
        seq = nav.seq_of_row(row)
        event = nav.replay.event(seq)
        cursor = seq == nav.cursor
        after = (
            not cursor
            and nav.filtered is not None
            and seq < nav.cursor
            and row == nav.row_of_cursor()
        )
        text = event_row_text(
            event,
            width,
            cursor=cursor,
            marked=seq == nav.mark,
            breakpoint_hit=nav.is_breakpoint(event),
            node=nav.replay.node_of(event),
            cursor_after=after,
            moment=format_offset(nav.time_of(seq)),
        )
        query = nav.search
        if query is not None:  # the search's words, where this row has them
            words = [
                *query.text,
                *(k for k in query.kinds if k in text.plain),
                *(n for n in query.nodes if n in text.plain),
            ]
            if words and query.matches(event):
                text.highlight_words(words, style="bold reverse", case_sensitive=False)
        if cursor:
            text.stylize("reverse")
        # the widget's own colours under the row's: rows follow the theme (a plain
        # segment would show the terminal's default background, black on a light theme)
        return Strip(text.render(self.app.console)).apply_style(style).crop_extend(0, width, style)

    def on_click(self, event: events.Click) -> None:
        nav = self.nav
        if nav is None:
            return
        offset = event.get_content_offset(self)
        if offset is None:
            return
        row = round(self.scroll_offset.y) + offset.y
        if 0 <= row < nav.row_count():
            self.post_message(self.Clicked(nav.seq_of_row(row)))


class _Pane(Static):
    """A pane whose content is replaced on every repaint. A layout pass (costly: the
    whole screen is arranged again) is requested only when the content's height
    changes, which for a given run is rare."""

    _height: int = -1
    _shown: RenderableType | None = None

    def replace(self, content: RenderableType, height: int) -> None:
        if isinstance(content, Text):  # trace text: no control characters reach the screen
            content = safe_text(content)
            if height == self._height and content == self._shown:
                return  # the same text: no render
        self._shown = content
        self.update(content, layout=height != self._height)
        self._height = height


class NodeTable(_Pane, can_focus=True):
    """Every node at the cursor (status, generation, last value, its last evaluation's
    time, what it waits for)."""

    ALLOW_MAXIMIZE = True

    def show(
        self, state: State, selected: str | None, durations: dict[str, str] | None = None
    ) -> None:
        # the pane may take 45% of the screen: border and header take 3 lines of it
        rows = max(3, self.app.size.height * 45 // 100 - 3)
        if self.is_maximized:
            rows = max(3, self.app.size.height - 3)
        self.replace(node_table(state, selected, rows, durations), min(rows, len(state.order)))


class GraphView(_Pane):
    """The flow's graph as text, coloured by node status at the cursor."""

    DEFAULT_CSS = "GraphView { text-wrap: nowrap; text-overflow: ellipsis; }"

    def show(self, state: State, selected: str | None) -> None:
        lines = graph_lines(state, selected)
        text = Text("\n", no_wrap=True, overflow="ellipsis").join(lines)
        self.replace(text, len(lines))
        box = self.parent
        if isinstance(box, VerticalScroll):
            at = next((i for i, line in enumerate(lines) if line.plain.startswith("▶")), 0)
            top, height = round(box.scroll_offset.y), box.scrollable_content_region.height
            if not top <= at < top + max(1, height - 2):
                box.scroll_to(y=max(0, at - 1), animate=False, immediate=True)


class Inspector(VerticalScroll, can_focus=True):
    """Details of the event under the cursor and of the selected node. Focused (``v``),
    the arrow and page keys scroll it, so a long traceback reads from the keyboard."""

    ALLOW_MAXIMIZE = True

    def compose(self) -> ComposeResult:
        yield _Pane(id="inspector-body")

    #: Content is padded to this many lines so that moving the cursor rarely changes
    #: its height (which would cost a layout pass of the whole screen).
    MIN_LINES = 40

    #: The text shown last (what ``y`` copies).
    shown: Text = Text()

    def show(self, text: Text) -> None:
        self.shown = text
        lines = text.plain.count("\n")
        if lines < self.MIN_LINES:
            text = text.copy()
            text.append("\n" * (self.MIN_LINES - lines))
            lines = self.MIN_LINES
        self.query_one("#inspector-body", _Pane).replace(text, lines)


class PositionBar(_Pane):
    """Where the cursor is in the run, and where the errors, cycle breaks, stalls and
    cancellations are (a one-line timeline)."""

    def show(self, nav: Navigator, extra: str = "") -> None:
        replay = nav.replay
        n = len(replay)
        width = max(10, self.size.width - 44)
        cells = ["─"] * width
        if n:
            first = replay.first_seq
            span = max(1, replay.last_seq - first)

            def cell(seq: int) -> int:
                return min(width - 1, (seq - first) * (width - 1) // span)

            for seqs, ch in (
                (replay.stall_seqs, "s"),
                (replay.cancel_seqs, "x"),
                (replay.cycle_break_seqs, "c"),
                (replay.error_seqs, "E"),
            ):
                step = max(1, len(seqs) // (width * 4))
                for s in seqs[::step]:
                    cells[cell(s)] = ch
            if nav.mark is not None:
                cells[cell(nav.mark)] = "m"
            cells[cell(nav.cursor)] = "█"
        styles = {
            "E": "bold red",
            "c": "bold magenta",
            "s": "yellow",
            "x": "dark_orange",
            "█": "bold reverse",
            "m": "bold cyan",
            "─": "dim",
        }
        text = Text(f" #{nav.cursor:,} of {replay.first_seq:,}..{max(replay.last_seq, 0):,} ")
        for ch in cells:
            text.append(ch, style=styles.get(ch, ""))
        full = self.size.width or self.app.size.width
        extra = printable(extra, multiline=False)
        if extra and len(text) + 1 + len(extra) > full:
            text.append("\n")  # a long message gets a line of its own, never cut
            text.append_text(Text(extra, style="bold"))
            self.replace(text, 1 + -(-len(extra) // max(1, full)))
            return
        text.append(f" {extra}")
        self.replace(text, 1)


class PromptLine(Input):
    """A one-line question (jump, filter, search) shown in place of the key bar."""

    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("escape", "cancel", "cancel"),
    ]

    class Closed(Message):
        """The prompt closed: ``value`` is the text, or ``None`` when cancelled."""

        def __init__(self, value: str | None, done: Callable[[str | None], None]) -> None:
            super().__init__()
            self.value = value
            self.done = done

    _done: Callable[[str | None], None] | None = None

    def open(self, title: str, hint: str, value: str, done: Callable[[str | None], None]) -> None:
        self._done = done
        self.placeholder = f"{title}: {hint}"
        self.value = value
        self.display = True
        self.focus()

    def _close(self, value: str | None) -> None:
        done, self._done = self._done, None
        self.display = False
        if done is not None:
            self.post_message(self.Closed(value, done))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._close(event.value)

    def action_cancel(self) -> None:
        self._close(None)


class KeyBar(_Pane):
    """The main keys, one line (a static line: Textual's Footer rebuilds dozens of
    widgets whenever a screen closes, which made every prompt cost ~100 ms)."""

    def on_mount(self) -> None:
        from .keys import KEYMAP

        text = Text()
        for spec in KEYMAP:
            if spec.footer:
                text.append(f" {spec.display_keys()[0]}", style="bold reverse")
                text.append(f" {spec.label} ")
        self.replace(text, 1)


#: The header's labels and their colours.
LABEL_STYLES = {
    "LIVE": "bold black on green",
    "STALE": "bold white on red",
    "INCOMPLETE": "bold black on yellow",
}


class HeaderBar(_Pane):
    """Names the trace and the run, with one word on what is shown when it is not a
    finished run: ``LIVE``, ``STALE`` or ``INCOMPLETE`` (:data:`LABEL_STYLES`)."""

    def show(
        self, trace: str, run: str, runs: int, index: int, status: str, label: str | None = None
    ) -> None:
        text = Text(" flowtrace tui ", style="bold reverse")
        if label:
            text.append(f" {label} ", style=LABEL_STYLES.get(label, "bold reverse"))
        text.append(f" {printable(trace, multiline=False)} ", style="bold")
        text.append(
            f" run {printable(run, multiline=False)}"
            + (f" ({index + 1}/{runs}, r: switch)" if runs > 1 else "")
        )
        if status:
            text.append(f"  {printable(status, multiline=False)}", style="cyan")
        width = max(1, self.size.width or self.app.size.width)
        self.replace(text, -(-len(text) // width))  # wraps, never cut
