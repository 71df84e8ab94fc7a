"""The house rule of issue 17: one job per module, and a module small enough to read.

Every module of the package stays at or under 600 lines and
opens with a docstring saying what it is for. A module that grows past it is split by
job, as the engine, replay, the vocabulary and the trace files were.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "flowtrace"
LIMIT = 600
MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_each_module_is_small_and_says_its_job(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    lines = text.count("\n")
    assert lines <= LIMIT, f"{path.relative_to(PACKAGE)} has {lines} lines: split it by job"
    doc = ast.get_docstring(ast.parse(text))
    assert doc and len(doc) >= 20, f"{path.relative_to(PACKAGE)} has no docstring"


def test_the_rule_sees_the_whole_package() -> None:
    assert len(MODULES) > 100
