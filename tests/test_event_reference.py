"""docs/events.md is the vocabulary as the code defines it (tools/event_reference.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from flowtrace.events import EVENT_TYPES

ROOT = Path(__file__).resolve().parents[1]


def _tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "event_reference", ROOT / "tools/event_reference.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_committed_reference_is_what_the_code_says() -> None:
    tool = _tool()
    assert (ROOT / "docs/events.md").read_text(encoding="utf-8") == tool.render(), (
        "docs/events.md is stale: run python tools/event_reference.py"
    )


def test_the_reference_names_every_kind_and_every_field() -> None:
    text = _tool().render()
    for event_type in EVENT_TYPES:
        assert f"### `{event_type.__name__}`" in text
        for name in event_type.__struct_fields__[3:]:
            assert f"| `{name}` |" in text, (event_type.__name__, name)


def test_check_mode_reports_a_stale_file(tmp_path: Path) -> None:
    tool = _tool()
    target = tmp_path / "events.md"
    target.write_text("old\n", encoding="utf-8")
    setattr(tool, "TARGET", target)  # noqa: B010 - a module attribute mypy cannot see
    setattr(tool, "ROOT", tmp_path)  # noqa: B010
    assert tool.main(["--check"]) == 1
    assert tool.main([]) == 0
    assert tool.main(["--check"]) == 0
