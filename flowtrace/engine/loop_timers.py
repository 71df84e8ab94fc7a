"""The loop's clock and its sleepers: real monotonic or virtual time, and the heap of
sleeping tasks ordered by ``(deadline, arrival)`` (never by comparing coroutines),
woken in that order; in virtual time an idle loop jumps its clock to the next
deadline. A sleep without end (``sleep(inf)``) is a wait only a cancellation ends.

Functions of ``self: EventLoop`` here are methods of
:class:`~flowtrace.engine.loop.EventLoop`: ``loop.py`` binds each in the class body.
"""

from __future__ import annotations

import heapq
from time import perf_counter
from typing import TYPE_CHECKING, Any

from flowtrace.engine.tasks import Task
from flowtrace.events import SleepBegan, SleepEnded

if TYPE_CHECKING:
    from flowtrace.engine.loop import EventLoop


_INF = float("inf")

#: Event kinds checked on the hottest paths, as constants (one global load each).
_SLEEP_BEGAN = SleepBegan.kind
_SLEEP_ENDED = SleepEnded.kind


def time(self: EventLoop) -> float:
    """The loop's clock in seconds: real monotonic time, or virtual time."""
    if self.virtual_time:
        return self._virtual_now
    return perf_counter()


def _wake_sleepers(self: EventLoop, idle: bool) -> None:
    """Wake due sleepers (in deadline, then arrival, order). In virtual time, an
    idle loop first jumps its clock to the earliest deadline."""
    sleepers = self._sleepers
    while sleepers and sleepers[0][2] is None:
        heapq.heappop(sleepers)
    if not sleepers:
        return
    if self.virtual_time:
        if not idle:
            return
        if sleepers[0][0] > self._virtual_now:
            self._virtual_now = sleepers[0][0]
        now = self._virtual_now
    else:
        now = perf_counter()
    bus = self.bus
    while sleepers and sleepers[0][0] <= now:
        deadline, _n, task, start, duration = heapq.heappop(sleepers)
        if task is None:
            continue
        slept = duration if now == deadline else now - start
        if bus.listening[SleepEnded.kind]:
            bus.emit(SleepEnded, task.task_id, slept, False)
        self.make_ready(task, slept)


def add_sleeper(self: EventLoop, task: Task, duration: float) -> None:
    """Park ``task`` for ``duration`` seconds of loop time (``<= 0``: just yield)."""
    bus = self.bus
    if duration <= 0:
        if bus.listening[_SLEEP_BEGAN]:  # a yield; -inf is recorded as 0 (JSON has none)
            asked = duration if duration > -_INF else 0.0
            bus.emit(SleepBegan, task.task_id, asked, self.time())
        if bus.listening[_SLEEP_ENDED]:
            bus.emit(SleepEnded, task.task_id, 0.0, False)
        self.make_ready(task, 0.0)
        return
    if duration != duration:
        raise ValueError(f"task {task.name!r} asked to sleep NaN seconds")
    now = self.time()
    deadline = now + duration
    if bus.listening[SleepBegan.kind]:
        if deadline == _INF:  # schema 2.0: None for a sleep without end
            bus.emit(SleepBegan, task.task_id, None, None)
        else:
            bus.emit(SleepBegan, task.task_id, duration, deadline)
    if deadline == _INF:
        # No timer will ever fire: only a cancellation ends this sleep, so it counts
        # as a wait on another task (a deadlock when nothing else can run).
        def cancel_forever() -> None:
            if bus.listening[SleepEnded.kind]:
                bus.emit(SleepEnded, task.task_id, self.time() - now, True)

        self.park(task, cancel_forever, "sleep(inf), which only a cancellation ends")
        return
    self._sleep_counter += 1
    entry: list[Any] = [deadline, self._sleep_counter, task, now, duration]
    heapq.heappush(self._sleepers, entry)

    def cleanup() -> None:
        entry[2] = None
        if bus.listening[SleepEnded.kind]:
            bus.emit(SleepEnded, task.task_id, self.time() - now, True)

    self.park(task, cleanup, f"sleep until {deadline:.3f}")
