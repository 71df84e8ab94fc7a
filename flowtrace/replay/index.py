"""The events of one run, indexed in one pass, with keyframes: any position in bounded
time, a million events in little memory.

:class:`Replay` keeps the events in an :class:`~flowtrace.replay.store.EventStore`
(compressed blocks, decoded on demand) and, built as the events arrive:

* **keyframes**: a full copy of the state every ``K`` events, so :meth:`Replay.state_at`
  copies the nearest keyframe and applies at most ``K - 1`` events;
* **indexes**: events per node and per kind, the seqs of errors, cycle breaks, stalls,
  cancellations and evaluations (arrays of seqs, 8 bytes each), and the lineage
  indexes (:mod:`flowtrace.replay.lineage`).

It grows with :meth:`Replay.extend` on one thread while others read: every public
answer is limited to the prefix published so far (the count moves last).
"""

from __future__ import annotations

import bisect
import itertools
import threading
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TypeAlias, overload

from flowtrace.events import (
    DeadlockDetected,
    Event,
    FlowFinished,
    LoopExited,
    NodeErrored,
    NodeStarted,
    SolutionFound,
    StreamCancelled,
    StreamCancelRequested,
    StreamStalled,
    TaskCancelRequested,
    TaskFinished,
    TaskSpawned,
)

from .compare import diff_states
from .lineage import GenerationIndex, Lineage, ReaderIndex
from .state import State, error_key, reducer
from .store import EventStore
from .views import NORMAL_OUTCOMES, StateDiff, event_nodes, node_getter

__all__ = ["DEFAULT_KEYFRAME_INTERVAL", "Replay"]

#: Events between two keyframes: ``state_at`` applies at most this many events.
DEFAULT_KEYFRAME_INTERVAL = 2000

_CANCEL_TYPES = (StreamCancelRequested, StreamCancelled, TaskCancelRequested)

_SPECIAL: frozenset[type[Event]] = frozenset(
    {
        NodeStarted,
        SolutionFound,
        StreamStalled,
        StreamCancelRequested,
        StreamCancelled,
        TaskCancelRequested,
        NodeErrored,
        DeadlockDetected,
        FlowFinished,
        LoopExited,
        TaskFinished,
        TaskSpawned,
    }
)


#: Per event class: its kind, its node getter, whether its task names its node, its
#: reducer, and the extra indexing it needs (or ``None``).
_Plan: TypeAlias = tuple[
    int,
    Callable[[Event], tuple[str, ...]],
    bool,
    Callable[[State, Event], None] | None,
    Callable[[Event], None] | None,
]

_REDUCERS_SEEN: dict[type[Event], Callable[[State, Event], None] | None] = {}


class _Events(Sequence[Event]):
    """The published events of a replay, decoded on demand (a read-only sequence)."""

    __slots__ = ("_replay", "_stop")

    def __init__(self, replay: Replay, stop: int) -> None:
        self._replay = replay
        self._stop = stop

    def __len__(self) -> int:
        return self._stop

    @overload
    def __getitem__(self, index: int) -> Event: ...

    @overload
    def __getitem__(self, index: slice) -> list[Event]: ...

    def __getitem__(self, index: int | slice) -> Event | list[Event]:
        if isinstance(index, slice):
            start, stop, step = index.indices(self._stop)
            if step == 1:
                return list(self._replay.iter_events(start, stop))
            return [self._replay.event_at(i) for i in range(start, stop, step)]
        if index < 0:
            index += self._stop
        if not 0 <= index < self._stop:
            raise IndexError(index)
        return self._replay.event_at(index)

    def __iter__(self) -> Iterator[Event]:
        return self._replay.iter_events(0, self._stop)


class Replay(Lineage):
    """The events of one run, indexed, with keyframes: any position in bounded time.

    ``Replay(events)`` indexes everything at once; ``Replay()`` then :meth:`extend`
    chunk by chunk lets a viewer use the prefix loaded so far. All public positions are
    event ``seq`` numbers. Events handed out are decoded from compact storage: equal
    to the events given, not the same objects.
    """

    def __init__(
        self,
        events: Iterable[Event] = (),
        *,
        keyframe_interval: int = DEFAULT_KEYFRAME_INTERVAL,
    ) -> None:
        if keyframe_interval < 1:
            raise ValueError("keyframe_interval must be at least 1")
        self.keyframe_interval = keyframe_interval
        self._store = EventStore()
        self._count = 0
        self._base = 0
        self._gapless = True
        self._seqs = array("q")  # seq per position, only once a gap was seen
        self._state = State()
        self._keyframes: list[State] = [State()]
        self.run_id: str | None = None
        #: kind → (seqs of its events, positions scanned): built from the store's kind
        #: column when asked (no per-event cost while indexing)
        self._by_kind: dict[int, tuple[array[int], int]] = {}
        self._kind_lock = threading.Lock()
        self._plans: dict[type[Event], _Plan] = {}
        self._by_node: dict[str, array[int]] = {}
        self._task_node: dict[int, str] = {}
        self._evaluations: dict[str, array[int]] = {}
        self._emitted = GenerationIndex()
        self._gathered = GenerationIndex()
        self._readers = ReaderIndex()
        self._error_seqs = array("q")
        self._error_keys: list[tuple[str, str] | None] = []
        self._errors_seen: set[tuple[str, str]] = set()
        self._cycle_break_seqs = array("q")
        self._stall_seqs = array("q")
        self._cancel_seqs = array("q")
        self._cache: tuple[int, State] | None = None
        self.extend(events)

    # ------------------------------------------------------------------ building

    def extend(self, events: Iterable[Event]) -> None:
        """Append events (in seq order) and index them. Readers see them once the call
        returns (the published count moves last; during a long call, a block at a
        time)."""
        store = self._store
        state = self._state
        k = self.keyframe_interval
        plans = self._plans
        by_node = self._by_node
        task_node = self._task_node
        kinds = store.kinds
        times = store.t_ns
        block = store.block
        pending = store.open_block()
        pos = len(store)
        it = iter(events)
        if pos == 0:
            first = next(it, None)
            if first is None:
                return
            self._base = first.seq
            self.run_id = first.run_id
            it = itertools.chain((first,), it)
        base = self._base
        gapless = self._gapless
        seqs = self._seqs
        for e in it:
            seq = e.seq
            if gapless:
                if seq != base + pos:
                    seqs = self._seqs = array("q", range(base, base + pos))
                    seqs.append(seq)
                    gapless = self._gapless = False  # after the seqs: readers may look
            else:
                seqs.append(seq)
            cls = type(e)
            plan = plans.get(cls)
            if plan is None:
                plan = plans[cls] = self._plan(cls)
            code, getter, by_task, reduce, extra = plan
            pending.append(e)
            times.append(e.t_ns)
            kinds.append(code)
            nodes = getter(e)
            if nodes:
                for n in nodes:
                    lst = by_node.get(n)
                    if lst is None:
                        lst = by_node[n] = array("q")
                    lst.append(seq)
            elif by_task:
                owner = task_node.get(e.task_id)  # type: ignore[attr-defined]
                if owner is not None:
                    lst = by_node.get(owner)
                    if lst is None:
                        lst = by_node[owner] = array("q")
                    lst.append(seq)
            if extra is not None:
                extra(e)
            if reduce is not None:
                reduce(state, e)
            pos += 1
            if pos % k == 0:
                state.seq = seq
                self._keyframes.append(state.copy())
            if len(pending) >= block:
                store.seal()
                pending = store.open_block()
                self._count = pos  # published a block at a time, and at the end
        self._count = pos
        if pos:
            state.seq = self.seq_at(pos - 1)

    def _plan(self, cls: type[Event]) -> _Plan:
        """What :meth:`extend` does with an event of class ``cls``."""
        extra = self._lineage_indexer(cls) or (self._index_special if cls in _SPECIAL else None)
        by_task = "task_id" in getattr(cls, "__struct_fields__", ())
        return (cls.kind, node_getter(cls), by_task, reducer(cls), extra)

    def _index_special(self, e: Event) -> None:
        seq = e.seq
        if isinstance(e, NodeStarted):
            lst = self._evaluations.get(e.node_id)
            if lst is None:
                lst = self._evaluations[e.node_id] = array("q")
            lst.append(seq)
        elif isinstance(e, SolutionFound):
            if e.cycle_breaks:
                self._cycle_break_seqs.append(seq)
        elif isinstance(e, StreamStalled):
            self._stall_seqs.append(seq)
        elif isinstance(e, _CANCEL_TYPES):
            self._cancel_seqs.append(seq)
        elif isinstance(e, DeadlockDetected):
            self._error_seqs.append(seq)
            self._error_keys.append(None)
        elif isinstance(e, (NodeErrored, FlowFinished, LoopExited, TaskFinished)):
            # one stop per distinct error: the task's, the loop's and the flow's end
            # repeat a node's error. A generation limit or an exit ends a run normally,
            # even though the loop saw its exception end the root task.
            ekey = error_key(e.error)
            if ekey is None:
                return
            if isinstance(e, FlowFinished) and e.outcome in NORMAL_OUTCOMES:
                while self._error_seqs and self._error_keys[-1] == ekey:
                    self._error_seqs.pop()
                    self._error_keys.pop()
                return
            if isinstance(e, LoopExited) and e.outcome in NORMAL_OUTCOMES:
                return
            if ekey not in self._errors_seen:
                self._errors_seen.add(ekey)
                self._error_seqs.append(seq)
                self._error_keys.append(ekey)
        elif isinstance(e, TaskSpawned) and e.node_id is not None:
            self._task_node[e.task_id] = e.node_id

    # ------------------------------------------------------------------ published views

    def _published(self, seqs: Sequence[int]) -> Sequence[int]:
        """``seqs`` without the entries a concurrent :meth:`extend` indexed but has not
        published yet (a reader on another thread must never see an unknown seq)."""
        count = self._count
        if not count:
            return []
        last = self.seq_at(count - 1)
        if seqs and seqs[-1] > last:
            return seqs[: bisect.bisect_right(seqs, last)]
        return seqs

    @property
    def error_seqs(self) -> Sequence[int]:
        """Seqs of errors: a node raised, a deadlock, a task failed, a run failed (one
        stop per distinct error)."""
        return self._published(self._error_seqs)

    @property
    def cycle_break_seqs(self) -> Sequence[int]:
        """Seqs of ``SolutionFound`` events that broke a cycle with defaults."""
        return self._published(self._cycle_break_seqs)

    @property
    def stall_seqs(self) -> Sequence[int]:
        """Seqs of ``StreamStalled`` events."""
        return self._published(self._stall_seqs)

    @property
    def cancel_seqs(self) -> Sequence[int]:
        """Seqs of stream cancellations requested or delivered, and task cancels."""
        return self._published(self._cancel_seqs)

    # ------------------------------------------------------------------ positions

    def __len__(self) -> int:
        return self._count

    @property
    def first_seq(self) -> int:
        """Seq of the run's first event."""
        return self._base

    @property
    def last_seq(self) -> int:
        """Seq of the last event published (``first_seq - 1`` when empty)."""
        if self._count == 0:
            return self._base - 1
        return self.seq_at(self._count - 1)

    def event(self, seq: int) -> Event:
        """The event with this seq (``KeyError`` if there is none)."""
        return self._store.get(self.pos_of(seq))

    def event_at(self, pos: int) -> Event:
        """The event at list position ``pos`` (0-based), for virtualized views."""
        if not 0 <= pos < self._count:
            raise IndexError(pos)
        return self._store.get(pos)

    def kind_at(self, pos: int) -> type[Event]:
        """The class of the event at position ``pos``, without decoding it."""
        if not 0 <= pos < self._count:
            raise IndexError(pos)
        return self._store.kind_at(pos)

    def t_ns_at(self, pos: int) -> int:
        """The ``t_ns`` of the event at position ``pos``, without decoding it."""
        if not 0 <= pos < self._count:
            raise IndexError(pos)
        return self._store.t_ns[pos]

    def t_ns_between(self, start: int, stop: int) -> array[int]:
        """The ``t_ns`` of the published events at positions ``start`` … ``stop - 1``
        (a copy; nothing decoded)."""
        return self._store.t_ns[max(0, start) : min(stop, self._count)]

    def kinds_between(self, start: int, stop: int) -> bytes:
        """The ``kind`` (index in :data:`~flowtrace.events.EVENT_TYPES`) of the
        published events at positions ``start`` … ``stop - 1``, one byte each."""
        return bytes(self._store.kinds[max(0, start) : min(stop, self._count)])

    def iter_events(self, start: int = 0, stop: int | None = None) -> Iterator[Event]:
        """The published events at positions ``start`` … ``stop - 1`` (to the end by
        default), decoded block by block: the way to scan a run."""
        end = self._count if stop is None else min(stop, self._count)
        return self._store.iter(start, end)

    def events(self) -> Sequence[Event]:
        """Every event published so far, in seq order (decoded as they are read)."""
        return _Events(self, self._count)

    def pos_of(self, seq: int) -> int:
        """List position of the event with this seq (``KeyError`` if there is none)."""
        if self._gapless:
            pos = seq - self._base
            if 0 <= pos < self._count:
                return pos
            raise KeyError(seq)
        pos = bisect.bisect_left(self._seqs, seq, 0, self._count)
        if pos < self._count and self._seqs[pos] == seq:
            return pos
        raise KeyError(seq)

    def seq_at(self, pos: int) -> int:
        """Seq of the event at list position ``pos``."""
        if self._gapless:
            if not 0 <= pos < len(self._store):
                raise IndexError(pos)
            return self._base + pos
        return self._seqs[pos]

    def clamp(self, seq: int) -> int:
        """The nearest seq that exists (the first or last one outside the range)."""
        if self._count == 0:
            raise IndexError("empty replay")
        if seq <= self._base:
            return self._base
        last = self.last_seq
        if seq >= last:
            return last
        if self._gapless:
            return seq
        pos = bisect.bisect_left(self._seqs, seq, 0, self._count)
        return self._seqs[pos]

    def memory_bytes(self) -> int:
        """Bytes held per event by the store and the seq indexes (a lower bound of
        what the replay holds; for benchmarks and reports)."""
        total = self._store.nbytes() + self._seqs.itemsize * len(self._seqs)
        for arrays in (self._by_node, self._evaluations):
            for a in arrays.values():
                total += a.itemsize * len(a)
        return total

    # ------------------------------------------------------------------ state

    def state_at(self, seq: int) -> State:
        """The state after the event ``seq`` was applied. Copies the keyframe at or
        before it and applies at most ``keyframe_interval - 1`` events. The result is
        the caller's (a fresh copy)."""
        pos = self.pos_of(seq)
        cached = self._cache
        if cached is not None and cached[0] == pos:
            return cached[1].copy()
        k = self.keyframe_interval
        index = (pos + 1) // k
        start = index * k
        if cached is not None and start <= cached[0] < pos:
            state = cached[1].copy()
            start = cached[0] + 1
        else:
            state = self._keyframes[index].copy()
        reducers = _REDUCERS_SEEN
        for e in self._store.iter(start, pos + 1):
            cls = type(e)
            try:
                fn = reducers[cls]
            except KeyError:
                fn = reducers[cls] = reducer(cls)
            if fn is not None:
                fn(state, e)
        state.seq = seq
        self._cache = (pos, state)
        return state.copy()

    def state_before_start(self) -> State:
        """The empty state, before the run's first event."""
        return State()

    def final_state(self) -> State:
        """The state after the last event published so far."""
        if self._count == 0:
            return State()
        return self.state_at(self.last_seq)

    def diff(self, seq_a: int, seq_b: int) -> StateDiff:
        """What changed between the states after ``seq_a`` and after ``seq_b``."""
        return diff_states(self.state_at(seq_a), self.state_at(seq_b))

    # ------------------------------------------------------------------ indexes

    def node_ids(self) -> tuple[str, ...]:
        """Every node named by the run, in first-mention (registration) order."""
        return tuple(self._by_node)

    def events_of_node(self, node_id: str) -> Sequence[int]:
        """Seqs of the events about ``node_id`` (including its task's loop events)."""
        return self._published(self._by_node.get(node_id, ()))

    def node_of(self, event: Event) -> str | None:
        """The node an event is about: its first named node, else the node whose task
        it concerns (a sleep, a wait), else ``None``."""
        nodes = event_nodes(event)
        if nodes:
            return nodes[0]
        task_id = getattr(event, "task_id", None)
        return self._task_node.get(task_id) if task_id is not None else None

    def events_of_kind(self, kind: type[Event]) -> Sequence[int]:
        """Seqs of the events of class ``kind``, in order (found in the kind column,
        then kept: later calls only look at the events published since)."""
        code = kind.kind
        if not 0 <= code < 256:
            return []
        with self._kind_lock:
            seqs, scanned = self._by_kind.get(code, (None, 0))
            if seqs is None:
                seqs = array("q")
            count = self._count
            if scanned < count:
                column = self._store.kinds
                needle = bytes((code,))
                find = column.find
                i = find(needle, scanned, count)
                if self._gapless:
                    base = self._base
                    while i >= 0:
                        seqs.append(base + i)
                        i = find(needle, i + 1, count)
                else:
                    while i >= 0:
                        seqs.append(self._seqs[i])
                        i = find(needle, i + 1, count)
                self._by_kind[code] = (seqs, count)
        return seqs

    def kinds(self) -> list[type[Event]]:
        """Event classes present in the run, in first-appearance order."""
        return list(self._plans)

    def evaluations_of(self, node_id: str) -> Sequence[int]:
        """Seqs of ``NodeStarted`` of ``node_id``: its generation boundaries."""
        return self._published(self._evaluations.get(node_id, ()))

    # ------------------------------------------------------------------ navigation

    @staticmethod
    def next_in(seqs: Sequence[int], seq: int) -> int | None:
        """The first seq in the sorted ``seqs`` after ``seq``."""
        i = bisect.bisect_right(seqs, seq)
        return seqs[i] if i < len(seqs) else None

    @staticmethod
    def prev_in(seqs: Sequence[int], seq: int) -> int | None:
        """The last seq in the sorted ``seqs`` before ``seq``."""
        i = bisect.bisect_left(seqs, seq)
        return seqs[i - 1] if i > 0 else None
