"""Executors the offload tests share: small pools, started once per module (a process
pool costs a fork per worker; tests that break or shut down a pool make their own)."""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import pytest


@pytest.fixture(scope="module")
def pool() -> Iterator[ProcessPoolExecutor]:
    """Two worker processes, started by a fork server: the test process has threads
    (Dask's client, thread pools), and forking a threaded process can leave a child
    stuck on a lock some other thread held."""
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(2, mp_context=context) as executor:
        yield executor


@pytest.fixture(scope="module")
def threads() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(2, thread_name_prefix="offload-test") as executor:
        yield executor
