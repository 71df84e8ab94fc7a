"""The event order of a nontrivial flow (cycles, streams, a cancel, a fan-in, timers)
is identical across runs and hash seeds."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PROGRAM = Path(__file__).with_name("_determinism_program.py")


def _run(seed: str) -> str:
    env = dict(os.environ, PYTHONHASHSEED=seed)
    done = subprocess.run(
        [sys.executable, str(PROGRAM)],
        env=env,
        capture_output=True,
        text=True,
        timeout=50,
        check=True,
    )
    return done.stdout


@pytest.mark.timeout(60)
def test_event_order_is_identical_under_three_hash_seeds() -> None:
    outputs = [_run(seed) for seed in ("0", "1", "2")]
    assert outputs[0].count("\n") > 100
    assert "StreamCancelRequested" in outputs[0]
    assert "SolutionFound" in outputs[0]
    assert outputs[0] == outputs[1] == outputs[2]
