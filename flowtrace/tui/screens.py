"""Modal screens: help, the diff page, and pickers (a run, which producer to visit)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from .keys import KEYMAP, KeySpec

__all__ = ["HelpScreen", "TextScreen", "PickScreen"]

_MODAL_CSS = """
{name} {{ align: center middle; }}
{name} > Vertical {{
    width: 90%; height: auto; max-height: 90%;
    border: thick $accent; background: $surface; padding: 0 1;
}}
"""


def help_table(keymap: Sequence[KeySpec] = KEYMAP) -> Table:
    """Every key of the debugger, grouped, as one table (the help screen's body)."""
    table = Table(box=None, expand=True, show_header=False, pad_edge=False)
    table.add_column("keys", style="bold cyan", no_wrap=True)
    table.add_column("what it does")
    group = None
    for spec in keymap:
        if spec.group != group:
            group = spec.group
            table.add_row(Text(group, style="bold underline"), "")
        table.add_row(" ".join(spec.display_keys()), spec.help)
    return table


class HelpScreen(ModalScreen[None]):
    """Every key, generated from the same table the bindings come from."""

    DEFAULT_CSS = _MODAL_CSS.format(name="HelpScreen")
    AUTO_FOCUS = "VerticalScroll"
    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("escape,q,question_mark,f1", "dismiss", "close"),
    ]

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text("Keys (esc closes; ctrl+p searches every command)", style="bold"))
            with VerticalScroll():
                yield Static(help_table(), id="help-table")

    def action_dismiss(self) -> None:  # type: ignore[override]
        self.dismiss(None)


class TextScreen(ModalScreen[None]):
    """A read-only page of text (the diff between two positions)."""

    DEFAULT_CSS = _MODAL_CSS.format(name="TextScreen")
    AUTO_FOCUS = "VerticalScroll"
    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("escape,q,d", "close", "close")
    ]

    def __init__(self, title: str, body: Text) -> None:
        super().__init__()
        self.title_text = title
        self.body = body

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(self.title_text + "  (esc closes)", style="bold"))
            with VerticalScroll():
                yield Static(self.body, id="text-body")

    def action_close(self) -> None:
        self.dismiss(None)


class PickScreen(ModalScreen[int | None]):
    """Choose one of several options (a run, or which input's producer to visit)."""

    DEFAULT_CSS = _MODAL_CSS.format(name="PickScreen")
    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("escape", "cancel", "cancel")
    ]

    def __init__(self, title: str, options: Sequence[str], selected: int = 0) -> None:
        super().__init__()
        self.title_text = title
        self.options = list(options)
        self.selected = selected

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(self.title_text + "  (enter picks, esc cancels)", style="bold"))
            yield OptionList(*[Option(o) for o in self.options], id="pick-list")

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        options.highlighted = self.selected
        options.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option_index)

    def action_cancel(self) -> None:
        self.dismiss(None)
