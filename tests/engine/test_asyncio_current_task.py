"""In asyncio mode each flowtrace task is asyncio's current task during its steps, so
``asyncio.timeout`` and ``asyncio.wait_for`` (built on it since Python 3.12) cancel the
flowtrace task that set them, never the asyncio task driving the loop."""

from __future__ import annotations

import asyncio

from flowtrace import EventLoop, sleep, spawn


def _run(main: object) -> object:
    async def driver() -> object:
        me = asyncio.current_task()
        result = await EventLoop().run_until_complete_async(main, join=True)  # type: ignore[arg-type]
        assert asyncio.current_task() is me  # the driver is current again afterwards
        return result

    return asyncio.run(driver())


def test_wait_for_times_out_the_flowtrace_task_not_the_driver() -> None:
    async def main() -> str:
        try:
            await asyncio.wait_for(asyncio.sleep(10), timeout=0.01)
        except TimeoutError:
            return "timed out"
        return "finished"

    assert _run(main()) == "timed out"


def test_asyncio_timeout_around_a_flowtrace_sleep_times_out() -> None:
    async def main() -> str:
        try:
            async with asyncio.timeout(0.01):
                await sleep(10)
        except TimeoutError:
            return "timed out"
        return "finished"

    assert _run(main()) == "timed out"


def test_a_timeout_in_one_task_leaves_the_others_running() -> None:
    done: list[str] = []

    async def impatient() -> None:
        try:
            async with asyncio.timeout(0.01):
                await asyncio.sleep(10)
        except TimeoutError:
            done.append("impatient timed out")

    async def patient() -> None:
        await asyncio.sleep(0.05)
        done.append("patient finished")

    async def main() -> list[str]:
        a = await spawn(impatient())
        b = await spawn(patient())
        await a.join()
        await b.join()
        return done

    assert _run(main()) == ["impatient timed out", "patient finished"]


def test_each_flowtrace_task_sees_its_own_current_task() -> None:
    seen: dict[str, object] = {}

    async def child(name: str) -> None:
        seen[name] = asyncio.current_task()
        await asyncio.sleep(0)
        assert asyncio.current_task() is seen[name]

    async def main() -> None:
        handles = [await spawn(child(n)) for n in ("a", "b")]
        for h in handles:
            await h.join()

    _run(main())
    assert seen["a"] is not seen["b"]
    assert "flowtrace task" in repr(seen["a"])
