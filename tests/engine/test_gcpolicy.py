"""The collector policy around runs (``flowtrace/engine/gcpolicy.py``): small graphs run
with the collector untouched; a big graph's run freezes the heap, and runs a full
collection first when the heap grew by a quarter since the last one — so a process
running big flows again and again still frees their garbage."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from flowtrace import FlowHDL, node
from flowtrace.engine import gcpolicy


class _Cyclic:
    """A piece of cyclic garbage (only the cyclic collector can free it)."""

    def __init__(self) -> None:
        self.me = self


@pytest.fixture
def fresh_policy(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    if gc.get_freeze_count() != 0 or not gc.isenabled():
        pytest.skip("the collector is frozen or disabled by someone else")
    monkeypatch.setattr(gcpolicy, "_baseline", 0)
    yield
    assert gc.get_freeze_count() == 0


def test_a_small_graph_leaves_the_collector_alone(fresh_policy: None) -> None:
    assert gcpolicy.run_began(gcpolicy.FREEZE_MIN_NODES - 1) is False
    assert gc.get_freeze_count() == 0


def test_a_big_graph_freezes_for_the_run_and_unfreezes_after(fresh_policy: None) -> None:
    froze = gcpolicy.run_began(gcpolicy.FREEZE_MIN_NODES)
    try:
        assert froze is True
        assert gc.get_freeze_count() > 0
    finally:
        gcpolicy.run_ended(froze)
    assert gc.get_freeze_count() == 0


def test_a_program_that_froze_the_heap_itself_is_left_alone(fresh_policy: None) -> None:
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        assert gcpolicy.run_began(10 * gcpolicy.FREEZE_MIN_NODES) is False
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()


def test_garbage_frozen_between_runs_is_collected_once_the_heap_grew_a_quarter(
    fresh_policy: None,
) -> None:
    big = gcpolicy.FREEZE_MIN_NODES
    saved = gc.get_threshold()
    gc.collect()  # a clean heap: the baseline holds no garbage an automatic
    gc.set_threshold(1 << 30)  # collection could free (shrinking the heap) meanwhile
    try:
        gcpolicy.run_ended(gcpolicy.run_began(big))  # the first freeze sets the baseline
        baseline = gcpolicy._baseline
        assert baseline > 0
        # Garbage kept frozen by earlier runs lands in the oldest generation; here it
        # is made directly: a quarter of the heap and more, in cycles.
        keep = [_Cyclic() for _ in range(baseline // 4 + 1_000)]
        probe = weakref.ref(keep[0])
        gc.freeze()  # as a run would have: the objects leave the young generations
        gc.unfreeze()
        del keep
        assert probe() is not None  # only a full collection frees it now
        froze = gcpolicy.run_began(big)
        try:
            assert probe() is None
        finally:
            gcpolicy.run_ended(froze)
    finally:
        gc.set_threshold(*saved)


def test_a_run_of_a_big_graph_ends_with_the_heap_unfrozen(
    fresh_policy: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gcpolicy, "FREEZE_MIN_NODES", 50)
    frozen_during: list[int] = []

    @node
    async def Probe(x: int) -> int:
        frozen_during.append(gc.get_freeze_count())
        return x

    @node
    async def Inc(x: int = 0) -> int:
        return x + 1

    with FlowHDL() as f:
        prev = Inc()
        for _ in range(60):
            prev = Inc(prev)
        f.out = Probe(prev)
    f.run_until_complete()
    assert f.out.get_data() == (61,)
    assert frozen_during and frozen_during[0] > 0
    assert gc.get_freeze_count() == 0
