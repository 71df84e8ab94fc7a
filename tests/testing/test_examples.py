"""Every example's execution order is pinned by a snapshot and is deterministic.

For each hash seed one subprocess (``python -m flowtrace.testing.scripts``) renders
every example, each in a forked child of that process. A subprocess is what lets the
hash seed vary, and keeps an example that misbehaves (exits, hangs, prints) away from
the test session; the fork per example gives every example the same starting state
whatever ran before it (module-level counters, process-default instruments, loggers,
threads) for the price of a fork, not of a new interpreter. The three seeds run side
by side.

The snapshot is the ``scheduling`` level with the script's outcome as last line, so an
example that ends in an error or a deadlock has a snapshot too. Snapshots live in
``snapshots/testing/test_examples/``; after an intended scheduler change, review the
diff and run ``pytest tests/testing/test_examples.py --snapshot-update``.
"""

from __future__ import annotations

import difflib
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(p for p in (ROOT / "examples").glob("*.py") if not p.name.startswith("_"))
SEEDS = ("0", "1", "2")
LEVELS = ("scheduling", "full")
TIMEOUT = 45

Orders = dict[str, dict[str, str]]  # script path -> level -> order


def _start(scripts: Sequence[Path], seed: str, cwd: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONHASHSEED": seed, "FLOWTRACE_STRICT_INSTRUMENTS": "1"}
    command = [sys.executable, "-m", "flowtrace.testing.scripts", "--json"]
    for level in LEVELS:
        command += ["--level", level]
    return subprocess.Popen(
        [*command, *map(str, scripts)],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _collect(seed: str, process: subprocess.Popen[str]) -> Orders:
    try:
        out, err = process.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        pytest.fail(f"the examples did not finish within {TIMEOUT}s (PYTHONHASHSEED={seed})")
    if process.returncode != 0:
        pytest.fail(
            f"capturing the examples failed (PYTHONHASHSEED={seed}, exit "
            f"{process.returncode}):\n{err}"
        )
    orders: Orders = json.loads(out)
    return orders


def orders_by_seed(
    scripts: Sequence[Path], cwd: Path, seeds: Sequence[str] = SEEDS
) -> dict[str, Orders]:
    started = {seed: _start(scripts, seed, cwd) for seed in seeds}
    return {seed: _collect(seed, process) for seed, process in started.items()}


@pytest.fixture(scope="module")
def example_orders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Orders]:
    """Every example's orders under every seed (examples may write files: a temp cwd)."""
    return orders_by_seed(EXAMPLES, tmp_path_factory.mktemp("examples"))


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_example_execution_order(
    example: Path, example_orders: dict[str, Orders], flowtrace_snapshot: object
) -> None:
    assert example_orders[SEEDS[0]][str(example)]["scheduling"] == flowtrace_snapshot


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
@pytest.mark.parametrize("level", LEVELS)
def test_example_order_is_the_same_under_every_hash_seed(
    example: Path, level: str, example_orders: dict[str, Orders]
) -> None:
    reference = example_orders[SEEDS[0]][str(example)][level]
    for seed in SEEDS[1:]:
        other = example_orders[seed][str(example)][level]
        if other != reference:
            diff = difflib.unified_diff(
                reference.splitlines(),
                other.splitlines(),
                f"PYTHONHASHSEED={SEEDS[0]}",
                f"PYTHONHASHSEED={seed}",
                n=2,
                lineterm="",
            )
            pytest.fail(
                f"{example.name} ran differently under PYTHONHASHSEED={seed} than under "
                f"{SEEDS[0]} at the {level} level: something iterates a set or an "
                "identity-keyed dict where the order reaches the schedule or the values\n"
                + "\n".join(diff),
                pytrace=False,
            )


def test_the_hash_seed_reaches_the_example_processes(tmp_path: Path) -> None:
    # The check above can only fail if each subprocess really runs under its seed: a
    # program that emits a set of strings in iteration order differs between seeds.
    script = tmp_path / "unordered.py"
    script.write_text(
        "from flowtrace import FlowHDL, node\n\n"
        "@node\nasync def Words() -> list:\n"
        "    return list({'alpha', 'beta', 'gamma', 'delta'})\n\n"
        "with FlowHDL() as f:\n    f.words = Words()\nf.run_until_complete()\n"
    )
    orders = orders_by_seed([script], tmp_path, seeds=("0", "1"))
    assert orders["0"][str(script)]["scheduling"] != orders["1"][str(script)]["scheduling"]
    assert orders["0"][str(script)]["scheduling"].endswith("-- script completed\n")
