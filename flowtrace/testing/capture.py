"""The capture instrument: keeps every event of the runs it watches, for assertions.

A :class:`Capture` is an ordinary instrument, so it attaches in all the usual ways::

    with Capture() as cap:              # context instrument: every run inside is captured
        flow.run_until_complete()

    cap = Capture()
    flow.run_until_complete(instruments=[cap])

and the ``flowtrace_capture`` pytest fixture attaches one as a process default for the
duration of a test. It stores the events themselves (immutable values), so any
rendering can be produced afterwards: :meth:`Capture.order` for snapshots,
:meth:`Capture.lines` for partial-order assertions.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from typing import Self, TypeVar

from flowtrace.events import Event
from flowtrace.instrument import InstrumentBase
from flowtrace.testing.render import Selection, render_lines, render_order, split_runs

__all__ = ["Capture"]

E = TypeVar("E", bound=Event)


class Capture(InstrumentBase):
    """Records the events of one or several runs, in the order they were emitted.

    ``kinds`` restricts what is recorded (every kind by default, which the ``full``
    level needs); a narrower set makes the engine skip building the other events.
    Some facts are carried by other kinds than their own (schema 2.0: a node's change
    to ``executing`` is its ``NodeStarted``, see :mod:`flowtrace.implied`), so record
    those too when the renderings should show them.
    """

    def __init__(self, *, kinds: Collection[type[Event]] | None = None) -> None:
        self.kinds = None if kinds is None else tuple(kinds)
        self._events: list[Event] = []

    def on_event(self, event: Event) -> None:
        self._events.append(event)

    def __enter__(self) -> Self:
        super().__enter__()
        return self

    # -- what was captured --------------------------------------------------------------

    @property
    def events(self) -> tuple[Event, ...]:
        """Every captured event, in arrival order (runs may interleave)."""
        return tuple(self._events)

    @property
    def runs(self) -> list[list[Event]]:
        """Events grouped per run, runs in the order they started."""
        return split_runs(self._events)

    def run(self, index: int = -1) -> list[Event]:
        """The events of one run (the last one by default)."""
        runs = self.runs
        if not runs:
            raise LookupError("nothing was captured: no flow ran while this Capture was attached")
        return runs[index]

    def of_type(self, event_type: type[E]) -> list[E]:
        """Captured events of one class, in arrival order."""
        return [e for e in self._events if isinstance(e, event_type)]

    def clear(self) -> None:
        """Forget everything captured so far (e.g. between two runs of one test)."""
        self._events.clear()

    def __len__(self) -> int:
        return len(self._events)

    def __iter__(self) -> Iterator[Event]:
        return iter(tuple(self._events))

    # -- renderings ---------------------------------------------------------------------

    def _source(self, run: int | None) -> list[Event]:
        return list(self._events) if run is None else self.run(run)

    def lines(self, level: Selection = "scheduling", *, run: int | None = None) -> list[str]:
        """The canonical lines of the selected events, unnumbered — for
        :func:`flowtrace.testing.assert_order`. All runs in order, or only run ``run``."""
        return [line for r in split_runs(self._source(run)) for line in render_lines(r, level)]

    def order(
        self,
        level: Selection = "scheduling",
        *,
        run: int | None = None,
        numbered: bool = True,
    ) -> str:
        """The canonical text of the captured run(s), one event per line — compare it
        with a snapshot: ``assert cap.order() == snapshot``."""
        return render_order(self._source(run), level, numbered=numbered)

    def __repr__(self) -> str:
        return f"<Capture: {len(self._events)} events in {len(self.runs)} runs>"
