"""Fixtures for the diff tests: trace files recorded from the flows in ``flows``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from .flows import record


@pytest.fixture
def trace(tmp_path: Path) -> Callable[..., str]:
    """``trace(name, run_kwargs, ...)``: record one run per keyword dict, return the path."""

    def make(name: str, *runs: dict[str, object]) -> str:
        return str(record(tmp_path / f"{name}.ftrace.jsonl", *(runs or ({},))))

    return make
