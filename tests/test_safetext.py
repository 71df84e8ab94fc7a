"""Text from a trace is shown, never obeyed: controls become visible, length is kept."""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from flowtrace.safetext import printable, safe_text


def test_terminal_controls_become_their_pictures() -> None:
    osc52 = "\x1b]52;c;cHduZWQ=\x07"
    assert printable(osc52) == "␛]52;c;cHduZWQ=␇"
    assert printable("\x1b[2J\x00\x7f") == "␛[2J␀␡"


def test_c1_controls_bidi_overrides_and_lone_surrogates_are_replaced() -> None:
    assert printable("a\x9b31mb\u202ec\ud800d\u2028e") == "a�31mb�c�d�e"


def test_newlines_and_tabs_stay_in_multiline_text_only() -> None:
    assert printable("Traceback\n\tline") == "Traceback\n\tline"
    assert printable("a\nb\tc", multiline=False) == "a␊b␉c"


def test_ordinary_text_is_returned_as_it_is() -> None:
    text = "héllo wörld ✓ 日本 \u00a0[bold]"
    assert printable(text) == text


def test_the_length_never_changes_so_styles_stay_in_place() -> None:
    hostile = "x\x1b]0;t\x07y\u202e\ud800\n"
    assert len(printable(hostile)) == len(hostile)
    text = Text("ab\x1bcd")
    text.stylize("bold", 3, 5)
    safe = safe_text(text)
    assert safe.plain == "ab␛cd" and safe.spans[0].start == 3


def test_safe_text_is_never_read_as_markup() -> None:
    console = Console(record=True, width=40)
    console.print(safe_text("[/x] [bold]not bold[/bold]"))  # a str would raise MarkupError
    assert "[/x] [bold]not bold[/bold]" in console.export_text()
