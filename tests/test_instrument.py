"""The instrument bus: who hears what, in which order, and what happens when one fails."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from flowtrace import EventLoop, InstrumentBase, attached, sleep, spawn
from flowtrace.codec import ValueCodec
from flowtrace.events import (
    EVENT_TYPES,
    Event,
    LoopExited,
    LoopStarted,
    SleepBegan,
    TaskFinished,
    TaskSpawned,
)
from flowtrace.instrument import (
    Bus,
    active_instruments,
    add_default_instrument,
    current_bus,
    default_instruments,
    is_strict,
    remove_default_instrument,
    set_strict,
)


class Named(InstrumentBase):
    def __init__(self, name: str, log: list[tuple[str, str]], kinds: Any = None) -> None:
        self.name = name
        self.log = log
        self.kinds = kinds

    def on_event(self, event: Event) -> None:
        self.log.append((self.name, type(event).__name__))


class Plain:
    """An instrument without a base class."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def on_event(self, event: Event) -> None:
        self.events.append(event)


async def tiny() -> None:
    await sleep(0)


def run(root: Any, **kwargs: Any) -> Any:
    return EventLoop(virtual_time=True).run_until_complete(root, **kwargs)


def test_instruments_run_in_order_defaults_then_context_then_per_run() -> None:
    log: list[tuple[str, str]] = []
    default = Named("default", log, [LoopStarted])
    outer = Named("outer", log, [LoopStarted])
    inner = Named("inner", log, [LoopStarted])
    per_run = Named("run", log, [LoopStarted])
    add_default_instrument(default)
    try:
        with outer, inner:
            run(tiny(), instruments=[per_run, outer])  # outer only once
    finally:
        remove_default_instrument(default)
    assert [name for name, _ in log] == ["default", "outer", "inner", "run"]
    assert default_instruments() == ()


def test_with_instrument_nesting_is_scoped() -> None:
    log: list[tuple[str, str]] = []
    a = Named("a", log, [LoopStarted])
    b = Named("b", log, [LoopStarted])
    with a:
        with b:
            assert active_instruments() == [a, b]
            run(tiny())
        assert active_instruments() == [a]
        run(tiny())
    assert active_instruments() == []
    run(tiny())
    assert log == [("a", "LoopStarted"), ("b", "LoopStarted"), ("a", "LoopStarted")]


def test_attached_works_for_objects_without_the_base_class() -> None:
    plain = Plain()
    with attached(plain):
        run(tiny())
    run(tiny())
    assert [type(e) for e in plain.events][:2] == [LoopStarted, TaskSpawned]
    assert isinstance(plain.events[-1], LoopExited)
    assert len({e.run_id for e in plain.events}) == 1


def test_objects_without_on_event_are_refused_clearly() -> None:
    with pytest.raises(TypeError, match="needs an on_event"):
        run(tiny(), instruments=[object()])


def test_per_kind_filtering_delivers_only_the_subscribed_kinds() -> None:
    log: list[tuple[str, str]] = []
    spawns = Named("spawns", log, [TaskSpawned, TaskFinished])

    async def main() -> None:
        await spawn(tiny())

    run(main(), instruments=[spawns])
    kinds = [kind for _, kind in log]
    assert kinds == ["TaskSpawned", "TaskSpawned", "TaskFinished", "TaskFinished"]


def test_unsubscribed_kinds_are_not_even_built() -> None:
    bus = Bus("r", [Named("x", [], [LoopStarted])])
    assert bus.wants(LoopStarted) and not bus.wants(SleepBegan)
    assert bus.listening[SleepBegan.kind] == ()
    assert len(bus.listening) == len(EVENT_TYPES)


def test_seq_is_gapless_and_shared_by_all_instruments_of_a_run() -> None:
    everything = Plain()
    few = Plain()
    few.kinds = [TaskSpawned]  # type: ignore[attr-defined]

    async def main() -> None:
        await spawn(tiny())

    run(main(), instruments=[everything, few])
    assert [e.seq for e in everything.events] == list(range(len(everything.events)))
    by_seq = {e.seq: e for e in everything.events}
    assert all(by_seq[e.seq] is e for e in few.events)


def test_attach_and_detach_during_a_run() -> None:
    late = Plain()

    async def main() -> None:
        bus = current_bus()
        assert bus is not None
        await sleep(1)
        bus.attach(late)
        bus.attach(late)  # once only
        await sleep(1)
        bus.detach(late)
        await sleep(1)

    run(main())
    kinds = [type(e).__name__ for e in late.events]
    assert kinds == ["SleepBegan", "SleepEnded"]  # the middle sleep only


def test_entering_an_instrument_inside_a_run_attaches_it_to_that_run() -> None:
    late = Plain()

    async def main() -> None:
        with attached(late):
            await sleep(1)
        await sleep(1)

    run(main())
    assert [type(e).__name__ for e in late.events] == ["SleepBegan", "SleepEnded"]


class Exploding(InstrumentBase):
    def __init__(self) -> None:
        self.calls = 0

    def on_event(self, event: Event) -> None:
        self.calls += 1
        raise RuntimeError("instrument bug")


def test_a_raising_instrument_is_detached_and_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    bad = Exploding()
    good = Plain()
    bus = Bus("lenient", [bad, good], strict=False)
    with caplog.at_level(logging.ERROR, logger="flowtrace.instrument"):
        result = EventLoop().run_until_complete(_three_sleeps(), join=True, bus=bus)
    assert result == "finished"
    assert bad.calls == 1
    assert bus.instruments == (good,)
    assert len(good.events) > 5
    records = [r for r in caplog.records if "raised and was detached" in r.getMessage()]
    assert len(records) == 1


async def _three_sleeps() -> str:
    for _ in range(3):
        await sleep(0)
    return "finished"


def test_strict_mode_re_raises() -> None:
    assert is_strict()  # tests/conftest.py turns it on for the suite
    with pytest.raises(RuntimeError, match="instrument bug"):
        run(_three_sleeps(), instruments=[Exploding()])
    set_strict(False)
    try:
        assert Bus("x").strict is False
    finally:
        set_strict(True)


def test_run_codec_comes_from_the_first_instrument_that_declares_one() -> None:
    quiet = Plain()
    quiet.value_codec = ValueCodec(include_values=False)  # type: ignore[attr-defined]
    loud = Plain()
    loud.value_codec = ValueCodec()  # type: ignore[attr-defined]

    async def main() -> str:
        return "secret"

    run(main(), instruments=[quiet, loud])
    (finished,) = [e for e in loud.events if isinstance(e, TaskFinished)]
    assert finished.result == {"$omitted": True}


def test_each_run_gets_its_own_run_id_and_bus() -> None:
    plain = Plain()
    loop = EventLoop()
    loop.run_until_complete(tiny(), instruments=[plain])
    loop.run_until_complete(tiny(), instruments=[plain])
    starts = [e for e in plain.events if isinstance(e, LoopStarted)]
    assert len(starts) == 2 and starts[0].run_id != starts[1].run_id
    assert starts[1].seq == 0
    assert current_bus() is None
