"""docs/diff.md's "find a regression" recipe works as written: its shell blocks run
in a fresh folder (with the repository's examples) and print what the page shows."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "diff.md"


def _recipe_blocks() -> list[str]:
    text = PAGE.read_text()
    recipe = text[text.index("## Recipe") : text.index("### 4.")]
    return re.findall(r"```sh\n(.*?)```", recipe, re.S)


@pytest.mark.timeout(120)
def test_the_recipe_runs_and_finds_what_the_page_says(tmp_path: Path) -> None:
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "COLUMNS": "120",
    }
    outputs = []
    for block in _recipe_blocks():
        done = subprocess.run(
            ["bash", "-c", block],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=100,
        )
        outputs.append((done.returncode, done.stdout, done.stderr))
    assert len(outputs) == 4
    code, out, err = outputs[1]  # 1. one more generation
    assert code == 1, err
    assert "First divergence (changed): line 55 of A, line 55 of B" in out
    assert "involves: increment (3,), (4,); double (3,)" in out
    assert "B     55  increment finished (3,): completed; now waiting (run level 0)" in out
    assert "1 place(s) differ: 3 line(s) of A, 19 of B" in out
    code, out, err = outputs[2]  # 2. a value that changed
    assert code == 1, err
    assert "A      2  Constant#0 emitted (0,): 'streams flow through the graph'" in out
    assert "6 place(s) differ: 7 line(s) of A, 7 of B" in out
    code, out, err = outputs[3]  # 3. slower
    assert code == 1, err
    assert "The runs agree at the scheduling level (58 lines each)." in out
    assert re.search(r"│ double .*│ slower │", out)
    assert "node(s) changed speed by 1.5x or more" in out  # double; others if noisy
