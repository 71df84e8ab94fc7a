"""What the debugger's filter and search match: the query language and the scan.

``kind:NAME`` and ``node:ID`` terms and free text, parsed into a :class:`Query`; the
scan finds the events a query matches by looking at each one (the kind and node terms
alone are answered from replay's indexes by the navigator).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from flowtrace.events import EVENT_TYPES_BY_NAME, Event
from flowtrace.replay import event_nodes
from flowtrace.replay.views import node_getter

from .loglines import event_summary
from .render import event_row

__all__ = ["Query", "parse_query", "scan_events"]


@dataclass(frozen=True)
class Query:
    """A filter or search: ``kind:NAME`` and ``node:ID`` terms (alternatives within a
    key are ORed, keys are ANDed) plus free text matched, case-insensitively, against
    the event's log line."""

    kinds: frozenset[str] = frozenset()
    nodes: frozenset[str] = frozenset()
    text: tuple[str, ...] = ()
    source: str = ""
    #: ``kind:`` terms that name no event kind (kept so that the user is told).
    unknown_kinds: frozenset[str] = frozenset()

    def indexed_only(self) -> bool:
        return not self.text

    def matches(self, event: Event) -> bool:
        if self.kinds and type(event).__name__ not in self.kinds:
            return False
        if self.nodes and not (set(event_nodes(event)) & self.nodes):
            return False
        if self.text:
            row = event_row(event).lower()
            return all(t in row for t in self.text)
        return True


def parse_query(source: str) -> Query:
    """``"kind:NodeErrored node:acc boom"`` → a :class:`Query`. Kind names are matched
    case-insensitively against the event vocabulary (``kind:nodeerr`` is a prefix)."""
    kinds: set[str] = set()
    unknown: set[str] = set()
    nodes: set[str] = set()
    text: list[str] = []
    for token in source.split():
        key, sep, value = token.partition(":")
        if sep and key in ("kind", "k") and value:
            matched = [n for n in EVENT_TYPES_BY_NAME if n.lower() == value.lower()] or [
                n for n in EVENT_TYPES_BY_NAME if n.lower().startswith(value.lower())
            ]
            kinds.update(matched or [value])
            if not matched:
                unknown.add(value)
        elif sep and key in ("node", "n") and value:
            nodes.add(value)
        else:
            text.append(token.lower())
    return Query(frozenset(kinds), frozenset(nodes), tuple(text), source, frozenset(unknown))


def scan_events(
    events: Iterable[Event],
    query: Query,
    n: int,
    progress: Callable[[float], None] | None = None,
) -> list[int]:
    """All matching seqs of ``events`` (``n`` of them, for ``progress``), by looking
    at every event (for free-text queries).

    The same matches as :meth:`Query.matches`, found faster: a term holds no
    whitespace and the log line's columns are separated by spaces, so a term is in
    the line exactly when it is in one column (the seq, the kind's name, the node,
    the summary). A term found in the kind's name holds for every event of that
    kind; the summary, the costly column, is made only for an event that the other
    columns leave undecided."""
    out: list[int] = []
    if any(not t or any(c.isspace() for c in t) for t in query.text):
        for pos, e in enumerate(events):  # a term the columns cannot split: whole line
            if query.matches(e):
                out.append(e.seq)
            if progress is not None and pos % 50_000 == 0:
                progress(pos / max(n, 1))
        return out
    kinds, nodes = query.kinds, query.nodes
    #: per class: the terms its name leaves to the other columns
    left: dict[type[Event], tuple[str, ...]] = {}
    for pos, e in enumerate(events):
        if progress is not None and pos % 50_000 == 0:
            progress(pos / max(n, 1))
        cls = type(e)
        if kinds and cls.__name__ not in kinds:
            continue
        names = node_getter(cls)(e)
        if nodes and not (set(names) & nodes):
            continue
        terms = left.get(cls)
        if terms is None:
            name = cls.__name__.lower()
            terms = left[cls] = tuple(t for t in query.text if t not in name)
        summary = None
        for t in terms:  # (a loop, not all(): no generator per event)
            if (names and t in names[0].lower()) or (t.isdigit() and t in str(e.seq)):
                continue
            if summary is None:
                summary = event_summary(e).lower()
            if t not in summary:
                break
        else:
            out.append(e.seq)
    return out
