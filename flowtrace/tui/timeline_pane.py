"""The timeline pane: :func:`~flowtrace.tui.timeline.timeline_lines` in a widget.

It draws only what fits (lanes × cells, each cell one bisection per kind), so a
repaint costs the same on a run of ten events as on one of a million. A click moves
the cursor to the event under that moment (on the lane's node when a lane was hit).
"""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.message import Message

from flowtrace.replay import State

from .navigator import Navigator
from .render import shown_status
from .timeline import GLYPHS, Layout, timeline_lines
from .widgets import _Pane

__all__ = ["TimelinePane", "LEGEND"]

#: What the glyphs mean (the pane's subtitle and the docs).
LEGEND = (
    f"{GLYPHS['eval']} running  {GLYPHS['queued']} queued  {GLYPHS['wait']} waiting  "
    f"{GLYPHS['stall']} stalled  {GLYPHS['item']} item  {GLYPHS['error']} error  "
    f"{GLYPHS['cycle']} cycle break"
)


class TimelinePane(_Pane, can_focus=True):
    """One lane per node over wall time, the cursor's moment as a column."""

    class Clicked(Message):
        """A moment was clicked (``node``: the lane, ``None`` on the axis)."""

        def __init__(self, moment: int, node: str | None) -> None:
            super().__init__()
            self.moment = moment
            self.node = node

    DEFAULT_CSS = "TimelinePane { text-wrap: nowrap; }"

    layout_info: Layout = Layout()

    def show(self, nav: Navigator, state: State, rows: int | None = None) -> None:
        nav.sync_time()
        tl = nav.timeline
        width = self.content_region.width or max(20, self.app.size.width - 2)
        if rows is None:
            rows = self.content_region.height or len(tl.lanes) + 1
        executing = frozenset(v.node_id for v in state.nodes() if shown_status(v) == "executing")
        layout = Layout()
        lines = timeline_lines(
            tl,
            nav.window,
            width,
            rows,
            cursor_t=nav.time_of(nav.cursor),
            selected=nav.selected,
            order=list(state.order),
            executing=executing,
            layout=layout,
        )
        if not tl.lanes:
            lines.append(Text("(no node has run yet)", style="dim"))
        self.layout_info = layout
        self.border_subtitle = nav.window_text().removeprefix("timeline: ")
        # the glyphs' meaning, when the border has room for it
        self.border_title = "timeline  " + LEGEND if width >= len(LEGEND) + 40 else "timeline"
        self.replace(Text("\n", no_wrap=True).join(lines), len(lines))

    def lane_names(self) -> list[str]:
        """The nodes of the lanes drawn, top to bottom."""
        return list(self.layout_info.lanes)

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        node = None
        lanes = self.layout_info.lanes
        if 1 <= offset.y <= len(lanes):
            node = lanes[offset.y - 1]
        self.post_message(self.Clicked(self.layout_info.moment_at(offset.x), node))
