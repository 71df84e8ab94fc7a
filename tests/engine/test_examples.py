"""The example programs run and print what they promise."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

EXPECTED = {
    "hello.py": ["hello world: 42"],
    "cycle.py": ["Increment(14) => 15", "increment (3,) (15,)"],
    "accumulator.py": ["result (8.0,)", "state 8.0 after 4 calls"],
    "template.py": ["IncFour(1) = 5", "2*3 + 3*4 + 4*2 = 26"],
    "error.py": ["trace: parse failed at (0,) (call)", "caught ValueError"],
    "deadlock.py": ["DeadlockError:", "reader: stalled reading input 0"],
    "streaming.py": ["final: STREAMS FLOW THROUGH THE GRAPH"],
    "cancel.py": ["consumer got [0, 1, 4]", "square: cancelled", "source: cancelled"],
    "demo.py": ["failed: nothing left to review after 2 words: 'stop here'", "preview  (2,)"],
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_runs(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    runpy.run_path(str(EXAMPLES / name), run_name="__main__")
    out = capsys.readouterr().out
    for fragment in EXPECTED[name]:
        assert fragment in out, (name, fragment, out)
