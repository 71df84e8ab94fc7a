"""The differential tester's own parts work (the comparison itself is `make conformance`).

A smoke test, not a conformance run: generated programs are valid Python, the same seed
gives the same program, and a few of them run under flowtrace in a subprocess and
report an outcome the tester can read.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

DIFF = Path(__file__).resolve().parents[2] / "bench" / "differential"
sys.path.insert(0, str(DIFF))

from engines import run_program  # noqa: E402
from generator import generate  # noqa: E402


def test_generated_programs_are_valid_python_and_reproducible() -> None:
    kinds: set[str] = set()
    for seed in range(60):
        program = generate(seed)
        source = program.source()
        compile(source, f"prog_{seed}.py", "exec")
        assert generate(seed).source() == source
        kinds.update(program.features)
    # The generator covers what the tester is for.
    for feature in (
        "cycle",
        "self_loop",
        "state",
        "multi",
        "gen",
        "pass",
        "take",
        "alt",
        "fail",
        "tmpl",
        "limit_dict",
        "limit_global",
    ):
        assert feature in kinds, feature


@pytest.mark.timeout(120)
def test_a_generated_program_runs_under_flowtrace_and_reports_its_outcome(
    tmp_path: Path,
) -> None:
    for seed in (1, 2, 3):
        path = tmp_path / f"prog_{seed}.py"
        program = generate(seed)
        path.write_text(program.source())
        outcome = run_program(sys.executable, path, "flowtrace", timeout=60)
        assert not outcome.hung, outcome.detail
        assert {name for name, *_ in outcome.nodes} == {n.name for n in program.nodes}
