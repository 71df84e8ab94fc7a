"""The screen as plain text, for snapshot tests and for printing a screen in a bug report.

Textual's own screenshot is SVG; a text snapshot is readable in a diff and stable
across Textual's styling changes. It is built from the strips the compositor would
send to the terminal, with styles dropped and trailing spaces trimmed.
"""

from __future__ import annotations

from typing import Any

from textual.app import App

__all__ = ["screen_text"]


def screen_text(app: App[Any]) -> str:
    """The current screen (including a modal over the main screen) as plain text."""
    strips = app.screen._compositor.render_strips()
    return "\n".join(strip.text.rstrip() for strip in strips) + "\n"
