"""Executors the offload tests share: small pools, started once per module (a process
pool costs a fork per worker; tests that break or shut down a pool make their own)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import pytest


@pytest.fixture(scope="module")
def pool() -> Iterator[ProcessPoolExecutor]:
    """Two worker processes."""
    with ProcessPoolExecutor(2) as executor:
        yield executor


@pytest.fixture(scope="module")
def threads() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(2, thread_name_prefix="offload-test") as executor:
        yield executor
