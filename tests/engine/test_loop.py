"""The event loop core: running, spawning, joining, sleeping, exiting, errors.

Timing-dependent behaviours run under virtual time, so they are exact and instant.
"""

from __future__ import annotations

import signal
import threading
import types
from collections.abc import Generator
from typing import Any

import pytest
from _loop_support import Collector, run

from flowtrace import EventLoop, current_event_loop, current_task, exit, sleep, spawn
from flowtrace.engine.commands import Command
from flowtrace.engine.loop import UnknownCommandError
from flowtrace.events import LoopExited, LoopStarted, TaskFinished, TaskSpawned

# ------------------------------------------------------------------ running coroutines


def test_plain_coroutine_returns_its_value() -> None:
    async def main() -> str:
        return "hello"

    assert EventLoop().run_until_complete(main(), join=True) == "hello"


def test_without_join_the_result_is_none_and_a_root_error_is_only_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def main() -> None:
        raise ValueError("boom")

    assert EventLoop().run_until_complete(main()) is None
    assert "root task failed" in caplog.text


def test_root_exception_reaches_the_caller_unchanged() -> None:
    error = ValueError("the very same object")

    async def main() -> None:
        await sleep(0)
        raise error

    with pytest.raises(ValueError) as info:
        run(main())
    assert info.value is error


def test_a_child_exception_reaches_the_caller_unchanged_through_join() -> None:
    error = KeyError("child")

    async def child() -> None:
        raise error

    async def main() -> None:
        handle = await spawn(child())
        await handle.join()

    with pytest.raises(KeyError) as info:
        run(main())
    assert info.value is error


def test_a_task_that_is_not_a_coroutine_is_refused_clearly() -> None:
    async def main() -> None:
        pass

    with pytest.raises(TypeError, match=r"call your async function"):
        EventLoop().run_until_complete(main)  # type: ignore[arg-type]


# ------------------------------------------------------------------ spawn and join


def test_spawn_order_child_runs_before_the_spawner_resumes() -> None:
    log: list[str] = []

    async def task2() -> None:
        log.append("task2 start")
        await sleep(0.1)
        log.append("task2 end")

    async def task1() -> None:
        log.append("task1 start")
        await spawn(task2())
        await sleep(0.2)
        log.append("task1 end")

    async def main() -> None:
        log.append("main start")
        await spawn(task1())
        log.append("main end")

    run(main())
    assert log == ["main start", "task1 start", "main end", "task2 start", "task2 end", "task1 end"]


def test_join_order() -> None:
    log: list[str] = []

    async def task2() -> None:
        log.append("task2 start")
        await sleep(0.1)
        log.append("task2 end")

    async def task1() -> None:
        log.append("task1 start")
        await (await spawn(task2())).join()
        log.append("task1 end")

    async def main() -> None:
        log.append("main start")
        await (await spawn(task1())).join()
        log.append("main end")

    run(main())
    assert log == ["main start", "task1 start", "task2 start", "task2 end", "task1 end", "main end"]


def test_join_returns_the_child_result_and_child_errors_are_catchable() -> None:
    log: list[str] = []

    async def answer() -> int:
        return 42

    async def foo() -> None:
        log.append("foo start")
        raise RuntimeError("Something went wrong")

    async def main() -> int:
        log.append("main start")
        value: int = await (await spawn(answer())).join()
        try:
            await (await spawn(foo())).join()
        except RuntimeError as exc:
            log.append(f"Caught exception: {exc}")
        log.append("main end")
        return value

    assert run(main()) == 42
    assert log == ["main start", "foo start", "Caught exception: Something went wrong", "main end"]


def test_joining_a_finished_task_gives_its_result_at_once() -> None:
    async def child() -> str:
        return "done"

    async def main() -> tuple[str, str]:
        handle = await spawn(child())
        await sleep(1)
        assert handle.is_finished and not handle.is_error and not handle.is_cancelled
        return await handle.join(), await handle.join()

    assert run(main()) == ("done", "done")


def test_a_task_joining_itself_gets_a_clear_error() -> None:
    async def main() -> None:
        me = current_task()
        assert me is not None
        await me.join()

    with pytest.raises(RuntimeError, match="join itself"):
        run(main())


def test_wait_for_spawned_tasks_keeps_running_until_children_end() -> None:
    log: list[str] = []

    async def child() -> None:
        await sleep(5)
        log.append("child done")

    async def main() -> str:
        await spawn(child())
        return "root"

    assert run(main()) == "root"
    assert log == ["child done"]
    log.clear()
    loop = EventLoop(virtual_time=True)
    assert loop.run_until_complete(main(), join=True, wait_for_spawned_tasks=False) == "root"
    assert log == []


def test_abandoned_tasks_are_closed_at_the_end_of_the_run() -> None:
    log: list[str] = []

    async def child() -> None:
        try:
            await sleep(5)
        finally:
            log.append("child closed")

    async def main() -> None:
        await spawn(child())
        await sleep(0)

    EventLoop(virtual_time=True).run_until_complete(main(), wait_for_spawned_tasks=False)
    assert log == ["child closed"]


def test_an_errored_child_does_not_fail_the_root(caplog: pytest.LogCaptureFixture) -> None:
    async def child() -> None:
        raise ValueError("child failed")

    async def main() -> str:
        await spawn(child())
        await sleep(1)
        return "ok"

    assert run(main()) == "ok"
    assert "child failed" in caplog.text


# ------------------------------------------------------------------ sleep and time


def test_sleep_returns_the_time_slept_and_virtual_time_is_instant() -> None:
    log: list[tuple[str, float]] = []

    async def sleeper(name: str, seconds: float) -> None:
        slept = await sleep(seconds)
        loop = current_event_loop()
        assert loop is not None
        log.append((name, slept))
        assert loop.time() == pytest.approx(seconds)

    async def main() -> float:
        await spawn(sleeper("three hours", 3 * 3600))
        await spawn(sleeper("one hour", 3600))
        await spawn(sleeper("half a second", 0.5))
        await spawn(sleeper("a day", 86400))
        return await sleep(0)

    loop = EventLoop(virtual_time=True)
    assert loop.run_until_complete(main(), join=True) == 0.0
    assert log == [
        ("half a second", 0.5),
        ("one hour", 3600.0),
        ("three hours", 10800.0),
        ("a day", 86400.0),
    ]


def test_equal_wake_times_wake_in_arrival_order_without_comparing_coroutines() -> None:
    log: list[int] = []

    async def sleeper(i: int) -> None:
        await sleep(1.0)
        log.append(i)

    async def main() -> None:
        for i in range(5):
            await spawn(sleeper(i))

    run(main())
    assert log == [0, 1, 2, 3, 4]


def test_sleep_zero_yields_to_other_ready_tasks() -> None:
    log: list[str] = []

    async def other() -> None:
        log.append("other")

    async def main() -> None:
        await spawn(other())
        log.append("main before")
        await sleep(0)
        log.append("main after")

    run(main())
    # spawn runs the child first; sleep(0) puts main behind any ready task
    assert log == ["other", "main before", "main after"]


def test_real_time_sleep_measures_the_real_clock() -> None:
    async def main() -> float:
        return await sleep(0.02)

    slept = EventLoop().run_until_complete(main(), join=True)
    assert slept is not None and 0.02 <= slept < 0.5


def test_sleepers_jump_virtual_time_only_when_nothing_is_ready() -> None:
    log: list[tuple[str, float]] = []

    async def busy() -> None:
        for _ in range(100):
            await sleep(0)
        loop = current_event_loop()
        assert loop is not None
        log.append(("busy done", loop.time()))

    async def main() -> None:
        await spawn(busy())
        await sleep(10)
        loop = current_event_loop()
        assert loop is not None
        log.append(("slept", loop.time()))

    run(main())
    assert log == [("busy done", 0.0), ("slept", 10.0)]


# ------------------------------------------------------------------ exit


def test_exit_returns_its_value_with_join() -> None:
    async def main() -> None:
        await sleep(0.1)
        await exit("success")

    assert run(main()) == "success"


def test_exit_without_join_returns_none() -> None:
    async def main() -> None:
        await exit("ignored")

    assert EventLoop().run_until_complete(main()) is None


def test_exit_with_an_exception_raises_it() -> None:
    error = ValueError("Test error")

    async def main() -> None:
        await exit(exception=error)

    with pytest.raises(ValueError) as info:
        run(main())
    assert info.value is error


def test_exit_from_a_spawned_task_ends_the_loop_and_abandons_the_others() -> None:
    log: list[str] = []

    async def quitter() -> None:
        await sleep(0.1)
        await exit("early exit")

    async def main() -> None:
        await spawn(quitter())
        await sleep(1)
        log.append("main woke")

    rec = Collector([LoopExited])
    assert run(main(), instruments=[rec]) == "early exit"
    assert log == []
    (exited,) = rec.of(LoopExited)
    assert exited.outcome == "exit" and exited.error is None and exited.tasks_left == 1


# ------------------------------------------------------------------ misuse


def test_an_unknown_command_raises_a_clear_error_in_the_task() -> None:
    class Mystery(Command):
        __slots__ = ()

    @types.coroutine
    def weird(obj: Any) -> Generator[Any, Any, Any]:
        return (yield obj)

    async def main() -> list[str]:
        messages = []
        for obj in (Mystery(), object()):
            try:
                await weird(obj)
            except UnknownCommandError as exc:
                messages.append(str(exc))
        return messages

    first, second = run(main())
    assert "no handler is registered" in first and "Mystery" in first
    assert "unknown object builtins.object" in second
    assert "await only flowtrace primitives" in second


def test_awaiting_an_asyncio_object_outside_asyncio_mode_says_how_to_enable_it() -> None:
    import asyncio

    other = asyncio.new_event_loop()
    try:
        future = other.create_future()

        async def main() -> None:
            await future

        with pytest.raises(UnknownCommandError, match=r"run_until_complete_async"):
            run(main())
    finally:
        other.close()


def test_a_loop_cannot_be_run_from_inside_itself() -> None:
    async def inner() -> None:
        pass

    async def main() -> None:
        loop = current_event_loop()
        assert loop is not None
        coro = inner()
        try:
            loop.run_until_complete(coro)
        finally:
            coro.close()

    with pytest.raises(RuntimeError, match="already running"):
        run(main())


# ------------------------------------------------------------------ loop lifecycle


def test_a_loop_can_run_more_than_once() -> None:
    loop = EventLoop()

    async def main(n: int) -> int:
        await sleep(0.001)
        return n

    assert [loop.run_until_complete(main(i), join=True) for i in range(3)] == [0, 1, 2]


def test_current_event_loop_and_current_task_are_set_only_during_the_run() -> None:
    loop = EventLoop()
    seen: list[Any] = []

    async def main() -> None:
        seen.append(current_event_loop())
        me = current_task()
        assert me is not None
        seen.append(me.name)

    assert current_event_loop() is None and current_task() is None
    loop.run_until_complete(main())
    assert seen[0] is loop and str(seen[1]).endswith("<locals>.main")
    assert current_event_loop() is None


def test_loop_started_is_the_first_event_and_loop_exited_the_last() -> None:
    rec = Collector()

    async def main() -> None:
        await spawn(sleep(0))

    EventLoop().run_until_complete(main(), instruments=[rec])
    first, second = rec.events[:2]
    assert isinstance(first, LoopStarted) and first.seq == 0 and first.root_task_id == 0
    assert first.virtual_time is False and first.asyncio_mode is False
    assert isinstance(second, TaskSpawned) and second.task_id == 0 and second.parent_id is None
    last = rec.events[-1]
    assert isinstance(last, LoopExited) and last.outcome == "completed" and last.tasks_left == 0
    assert [e.seq for e in rec.events] == list(range(len(rec.events)))


def test_keyboard_interrupt_ends_the_run_as_interrupted_and_leaves_signals_alone() -> None:
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    rec = Collector([LoopExited])

    async def main() -> None:
        await sleep(0)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        EventLoop().run_until_complete(main(), instruments=[rec])
    (exited,) = rec.of(LoopExited)
    assert exited.outcome == "interrupted"
    assert {s: signal.getsignal(s) for s in before} == before


def test_loop_exited_reports_a_failed_root_as_an_error() -> None:
    rec = Collector([LoopExited, TaskFinished])

    async def main() -> None:
        raise ValueError("bad")

    with pytest.raises(ValueError):
        EventLoop().run_until_complete(main(), join=True, instruments=[rec])
    (finished,) = rec.of(TaskFinished)
    assert finished.outcome == "failed" and finished.error is not None
    assert finished.error.type == "ValueError" and finished.error.message == "bad"
    assert "ValueError: bad" in finished.error.traceback
    (exited,) = rec.of(LoopExited)
    assert exited.outcome == "error" and exited.error is not None
    assert exited.error.message == "bad"


# ------------------------------------------------------------------ create_task


def test_create_task_from_inside_the_loop() -> None:
    log: list[str] = []

    async def job() -> None:
        log.append("job")

    async def main() -> None:
        loop = current_event_loop()
        assert loop is not None
        handle = loop.create_task(job())
        log.append("created")
        await handle.join()
        log.append("joined")

    run(main())
    assert log == ["created", "job", "joined"]


def test_create_task_before_the_run_starts_with_the_run() -> None:
    loop = EventLoop()
    log: list[str] = []

    async def early() -> str:
        log.append("early")
        return "e"

    handle = loop.create_task(early())

    async def main() -> Any:
        log.append("main")
        return await handle.join()

    assert loop.run_until_complete(main(), join=True) == "e"
    assert log == ["main", "early"]


def test_create_task_from_another_thread_wakes_a_sleeping_loop() -> None:
    log: list[str] = []
    loop = EventLoop()
    started = threading.Event()

    times: dict[str, float] = {}

    async def job() -> None:
        log.append("TASK EXECUTING")
        times["executing"] = loop.time()

    def other_thread() -> None:
        started.wait()
        log.append("TASK CREATING")
        loop.create_task(job())
        log.append("TASK CREATED")

    async def main() -> None:
        log.append("MAIN START")
        times["start"] = loop.time()
        started.set()
        await sleep(0.5)  # real time: the thread's task must run while we sleep
        log.append("MAIN END")

    thread = threading.Thread(target=other_thread)
    thread.start()
    loop.run_until_complete(main())
    thread.join()
    assert log[0] == "MAIN START" and log[-1] == "MAIN END"
    assert log.index("TASK CREATING") < log.index("TASK EXECUTING") < log.index("MAIN END")
    assert "TASK CREATED" in log
    assert times["executing"] - times["start"] < 0.45  # woken, not run after the sleep


def test_create_task_from_another_thread_wakes_a_loop_blocked_on_a_queue() -> None:
    from flowtrace.engine.queues import AsyncQueue

    loop = EventLoop()
    queue: AsyncQueue[str] = AsyncQueue()
    log: list[str] = []
    waiting = threading.Event()

    async def enqueue(item: str) -> None:
        log.append("enqueue")
        await queue.put(item)

    async def signal_waiting() -> None:
        waiting.set()

    async def main() -> str:
        await spawn(signal_waiting())
        log.append("get")
        item = await queue.get()  # blocks: nothing else can run in this loop
        log.append(f"got {item}")
        return item

    waker = loop.waker("feeder")  # registered before the loop can go idle

    def feeder() -> None:
        with waker:
            assert waiting.wait(5)
            loop.create_task(enqueue("from thread"))

    thread = threading.Thread(target=feeder)
    thread.start()
    result = loop.run_until_complete(main(), join=True)
    thread.join()
    assert result == "from thread"
    assert log == ["get", "enqueue", "got from thread"]


def test_with_only_a_finished_thread_left_a_blocked_loop_is_a_deadlock() -> None:
    from flowtrace import DeadlockError
    from flowtrace.engine.queues import AsyncQueue

    queue: AsyncQueue[int] = AsyncQueue()

    async def main() -> None:
        await queue.get()

    thread = threading.Thread(target=lambda: None)
    thread.start()
    thread.join()
    with pytest.raises(DeadlockError):
        EventLoop().run_until_complete(main(), join=True)


def test_sleeping_parent_and_child_overlap() -> None:
    log: list[str] = []
    slept: dict[str, float] = {}

    async def foo() -> None:
        log.append("foo start")
        slept["foo"] = await sleep(0.05)
        log.append("foo end")

    async def main() -> float:
        log.append("main start")
        await spawn(foo())
        slept["main"] = await sleep(0.1)
        log.append("main end")
        loop = current_event_loop()
        assert loop is not None
        return loop.time()

    assert run(main()) == pytest.approx(0.1)  # the sleeps overlapped
    assert slept == {"foo": 0.05, "main": 0.1}
    assert log == ["main start", "foo start", "foo end", "main end"]


def test_a_loop_in_a_background_thread_takes_tasks_from_the_main_thread() -> None:
    from flowtrace.engine.queues import AsyncQueue

    loop = EventLoop()
    queue: AsyncQueue[str] = AsyncQueue()
    results: list[Any] = []
    blocked = threading.Event()

    async def first_node() -> str:
        blocked.set()
        return await queue.get()

    async def enqueue(item: str) -> None:
        await queue.put(item)

    def background() -> None:
        results.append(loop.run_until_complete(first_node(), join=True))

    thread = threading.Thread(target=background)
    with loop.waker("main thread"):
        thread.start()
        assert blocked.wait(5)
        loop.create_task(enqueue("hello"))
    thread.join(10)
    assert not thread.is_alive()
    assert results == ["hello"]
