"""Fixtures for the debugger's tests: apps over hand-built runs, text screen snapshots."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "replay"))


class ScreenSnapshot(SingleFileSnapshotExtension):
    """Whole screens as plain text under ``snapshots/tui/<test file>/<test>.screen.txt``."""

    file_extension = "screen.txt"
    _write_mode = WriteMode.TEXT

    def serialize(self, data: Any, **_: Any) -> str:
        assert isinstance(data, str), "a screen snapshot stores text"
        return data

    @classmethod
    def dirname(cls, *, test_location: Any) -> str:
        root = Path(test_location.item.config.rootpath)
        return str(root / "snapshots" / "tui" / test_location.basename)


@pytest.fixture
def screen_snapshot(snapshot: Any) -> Any:
    return snapshot.use_extension(ScreenSnapshot)
