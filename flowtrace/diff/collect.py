"""Reading the runs to compare: each one's canonical lines (rendered lazily) and facts.

A :class:`Side` is one run of one trace file at one detail level: how many canonical
lines it has, the seq of the event behind each, the line texts (as
:func:`flowtrace.testing.render.render_lines` writes them) and, per line, the node and
generation of its event; plus the run's :class:`~flowtrace.diff.facts.RunFacts`.

Two ways in, one result:

* **raw scan** (files written by flowtrace's recorder, same schema minor version): the
  file is read in blocks and each line's header (``kind``, ``seq``, ``t_ns``,
  ``run_id``, which the recorder always writes first) is split from the rest by one
  regular expression per block. The rest of the line is the line's *key*: two events
  with equal kinds and keys have equal canonical lines (the renderer never shows seq,
  times or run ids), under the same renaming of automatic node ids. Starts and
  finishes of evaluations (for the timing) are read by a second pattern; the other
  events the facts need (the graph, errors, cycle breaks, cancellations, the end)
  are decoded with a :class:`msgspec.json.Decoder` of the events; everything else —
  values included (:meth:`Side.collect_values`) — is decoded later, and only where
  the two runs differ, so two big runs that agree are compared without building most
  of their events.
* **events** (anything else: older or newer schemas, a line the raw scan does not
  recognise, a damaged file read with ``lenient``): the public reader
  (:class:`flowtrace.tracefile.TraceReader`) decodes every event and each is rendered at
  once. A line the raw scan refuses always sends the file here, so a damaged file is
  reported by the reader itself (file, line, reason).

What the raw scan does not decode it does not validate: a line that looks like an
event and is byte-for-byte the same (apart from seq, time and run id) in both runs is
taken as equal without being decoded.
"""

from __future__ import annotations

import gc
import gzip
import json
import re
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

import msgspec

from flowtrace import events as ev
from flowtrace.diff.facts import FACT_KINDS, RunFacts, value_text
from flowtrace.replay import event_nodes
from flowtrace.testing.render import (
    canonical_node_ids,
    event_types_for,
    node_id_renamer,
    render_event,
    shows_implied,
)
from flowtrace.tracefile import TraceReader

__all__ = ["Side", "RunChoiceError", "Irregular", "load_sides", "sides_from_events", "KIND_INDEX"]

#: Index of each event class in :data:`flowtrace.events.EVENT_TYPES` (the same in
#: every file, so raw kinds compare across files).
KIND_INDEX: dict[type[ev.Event], int] = {cls: i for i, cls in enumerate(ev.EVENT_TYPES)}

_LINE = re.compile(
    rb'^\{"kind":"(\w+)","seq":(\d+),"t_ns":(-?\d+),"run_id":"([^"\\\n]*)"([^\n]*\})$',
    re.M,
)
_NO_BREAKS = b'"cycle_breaks":[]'
#: The rest of a NodeStarted / NodeFinished line as the recorder writes it: the node,
#: generation and run level the timing needs, read without decoding the event (a line
#: of another shape is decoded instead).
_EVALUATION = re.compile(
    rb'^,"node_id":"((?:[^"\\]|\\.)*)","generation":(null|\[(?:-?\d+(?:,-?\d+)*)?\]),'
    rb'"run_level":(-?\d+)(?:,"outcome":"[a-z]+")?\}$'
)
_BLOCK = 1 << 20
_DECODE_ONE = msgspec.json.Decoder(ev.AnyEvent).decode
_DECODE_MANY = msgspec.json.Decoder(list[ev.AnyEvent]).decode
_GZIP_MAGIC = b"\x1f\x8b"
_NOT_RENDERED = -2


class RunChoiceError(ValueError):
    """The runs asked for (``--run``) do not match what the file holds."""


class Irregular(Exception):
    """The raw scan met a line it does not recognise (or a key that does not decode):
    read the file with the reader, which judges it."""


@dataclass(eq=False)
class Side:
    """One run at one level (see the module docstring). Lines are numbered from 0 in
    the run's canonical order, as :func:`flowtrace.testing.render_order` numbers them."""

    path: str
    run_id: str
    run_number: int
    level: str
    runs_in_file: list[str] = field(default_factory=list)
    events: int = 0
    seqs: array[int] = field(default_factory=lambda: array("q"))
    kinds: array[int] | None = None
    keys: list[bytes] | None = None
    texts: list[str | None] = field(default_factory=list)
    nodes: array[int] = field(default_factory=lambda: array("i"))
    gens: array[int] = field(default_factory=lambda: array("i"))
    node_names: list[str] = field(default_factory=list)
    gen_values: list[tuple[int, ...]] = field(default_factory=list)
    mapping: dict[str, str] = field(default_factory=dict)
    facts: RunFacts = field(default_factory=RunFacts)
    first_t_ns: int | None = None
    last_t_ns: int | None = None
    registrations: list[ev.Event] = field(default_factory=list)
    _timing: _RawTiming | None = field(default=None, repr=False)
    _rename: Callable[[str], str] = field(default=lambda s: s, repr=False)
    _node_index: dict[str, int] = field(default_factory=dict, repr=False)
    _gen_index: dict[tuple[int, ...], int] = field(default_factory=dict, repr=False)
    _implied: bool = field(default=True, repr=False)

    def __post_init__(self) -> None:
        self._implied = shows_implied(self.level)

    # -- what the comparison asks ----------------------------------------------------

    @property
    def count(self) -> int:
        """Canonical lines of the run at this level."""
        return len(self.seqs)

    @property
    def raw(self) -> bool:
        """True when lines have raw keys (the raw scan read them)."""
        return self.keys is not None

    @property
    def duration_ns(self) -> int:
        if self.first_t_ns is None or self.last_t_ns is None:
            return 0
        return self.last_t_ns - self.first_t_ns

    def text(self, i: int) -> str:
        """Canonical text of line ``i``."""
        if self.texts[i] is None:
            self.render(i, i + 1)
        text = self.texts[i]
        assert text is not None
        return text

    def node(self, i: int) -> str | None:
        """The node line ``i``'s event is about (renamed), or ``None``."""
        if self.nodes[i] == _NOT_RENDERED:
            self.render(i, i + 1)
        k = self.nodes[i]
        return None if k < 0 else self.node_names[k]

    def generation(self, i: int) -> tuple[int, ...] | None:
        """The generation of line ``i``'s event, when it has one."""
        if self.nodes[i] == _NOT_RENDERED:
            self.render(i, i + 1)
        k = self.gens[i]
        return None if k < 0 else self.gen_values[k]

    def render(self, lo: int, hi: int) -> None:
        """Render lines ``lo``..``hi - 1`` (those not rendered yet) from their keys."""
        if self.keys is None:
            return
        texts = self.texts
        for i in range(max(0, lo), min(hi, self.count)):
            if texts[i] is None:
                self._set_line(i, self._decode(i))

    def collect_values(self, lo: int, hi: int) -> None:
        """Add the values emitted on lines ``lo``..``hi - 1`` to the facts. The raw scan
        leaves values out: where two runs' lines agree their values do too, so only
        the lines that differ need them."""
        kinds = self.kinds
        if kinds is None:
            return
        emitted = KIND_INDEX[ev.DataEmitted]
        values = self.facts.values
        mapping = self.mapping
        for i in range(max(0, lo), min(hi, self.count)):
            if kinds[i] == emitted:
                e = self._decode(i)
                assert isinstance(e, ev.DataEmitted)
                gen = None if e.generation is None else tuple(e.generation)
                values[(mapping.get(e.node_id, e.node_id), gen)] = value_text(e.values)

    def _decode(self, i: int) -> ev.Event:
        """The event of line ``i``, from its key (times are not kept: 0)."""
        assert self.keys is not None and self.kinds is not None
        head = b'{"kind":"%b","seq":%d,"t_ns":0,"run_id":%b' % (
            ev.EVENT_TYPES[self.kinds[i]].__name__.encode(),
            self.seqs[i],
            msgspec.json.encode(self.run_id),
        )
        try:
            event: ev.Event = _DECODE_ONE(head + self.keys[i])
        except msgspec.MsgspecError as exc:
            raise Irregular from exc
        return event

    # -- filling ---------------------------------------------------------------------

    def _set_line(self, i: int, event: ev.Event) -> None:
        self.texts[i] = self._rename(render_event(event, implied=self._implied))
        nodes = event_nodes(event)
        if nodes:
            name = self.mapping.get(nodes[0], nodes[0])
            k = self._node_index.get(name)
            if k is None:
                k = self._node_index[name] = len(self.node_names)
                self.node_names.append(name)
            self.nodes[i] = k
        else:
            self.nodes[i] = -1
        gen = getattr(event, "generation", None)
        if gen is None:
            self.gens[i] = -1
        else:
            g = tuple(gen)
            k = self._gen_index.get(g)
            if k is None:
                k = self._gen_index[g] = len(self.gen_values)
                self.gen_values.append(g)
            self.gens[i] = k

    def _register(self, event: ev.Event) -> None:
        self.registrations.append(event)
        self.mapping = canonical_node_ids(self.registrations)
        self._rename = node_id_renamer(self.mapping)

    def _finish(self) -> None:
        n = self.count
        if len(self.texts) < n:
            self.texts.extend([None] * (n - len(self.texts)))
        if len(self.nodes) < n:
            pad = array("i", [_NOT_RENDERED]) * (n - len(self.nodes))
            self.nodes.extend(pad)
            self.gens.extend(pad)
        if self._timing is not None:
            self._timing.merge_into(self.facts)
            self._timing = None
        self.facts = self.facts.renamed(self.mapping)


# ----------------------------------------------------------------------------- loading


def load_sides(
    path: str,
    selectors: Sequence[str | None],
    level: str,
    *,
    lenient: bool = False,
    raw: bool = True,
) -> list[Side]:
    """One :class:`Side` per selector, from one pass over ``path``.

    A selector is ``None`` (the file's only run), a number (the Nth run in order of
    first appearance, from 1) or a run id. ``raw=False`` skips the raw scan. Raises
    :class:`TraceFormatError` for a bad file and :class:`RunChoiceError` when the
    selectors do not fit its runs."""
    wanted = event_types_for(level)
    with TraceReader(path, lenient=lenient) as reader:  # checks the header
        regular = reader.header.schema == ev.SCHEMA_VERSION
    # Millions of long-lived objects, none in a cycle: the cyclic GC would rescan them
    # again and again while they are made (as read_trace, it is paused).
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        if regular and raw and not lenient:
            try:
                return _raw_scan(path, selectors, level, wanted)
            except Irregular:
                pass
        return _event_scan(path, selectors, level, wanted, lenient)
    finally:
        if gc_was_enabled:
            gc.enable()


def sides_from_events(
    events: Sequence[ev.Event],
    selectors: Sequence[str | None],
    level: str,
    *,
    path: str = "<events>",
) -> list[Side]:
    """Sides from events already in memory (tests, the snapshot plugin)."""
    chooser = _Chooser(path, selectors, level)
    wanted = event_types_for(level)
    for event in events:
        side = chooser.side_for(event.run_id)
        if side is not None:
            _take_event(side, event, wanted)
    return chooser.result()


class _Chooser:
    """Matches the runs of a file, as they appear, to the selectors."""

    def __init__(self, path: str, selectors: Sequence[str | None], level: str) -> None:
        self.path = path
        self.selectors = list(selectors)
        self.level = level
        self.order: list[str] = []
        self.by_selector: list[Side | None] = [None] * len(self.selectors)
        self.sides: dict[str, Side | None] = {}

    def side_for(self, run_id: str) -> Side | None:
        if run_id in self.sides:
            return self.sides[run_id]
        self.order.append(run_id)
        number = len(self.order)
        found: Side | None = None
        for k, sel in enumerate(self.selectors):
            if (
                (sel is None and number == 1)
                or sel == run_id
                or (sel is not None and sel.isdigit() and int(sel) == number)
            ):
                if found is None:
                    found = Side(self.path, run_id, number, self.level)
                self.by_selector[k] = found
        self.sides[run_id] = found
        return found

    def result(self) -> list[Side]:
        runs = ", ".join(f"{i} ({r})" for i, r in enumerate(self.order, 1)) or "none"
        out: list[Side] = []
        for sel, side in zip(self.selectors, self.by_selector, strict=True):
            if sel is None and len(self.order) > 1:
                raise RunChoiceError(
                    f"{self.path} holds {len(self.order)} runs ({runs}): choose one with "
                    "--run N (its number) or --run RUN_ID"
                )
            if side is None:
                what = "no run" if sel is None else f"no run {sel!r}"
                raise RunChoiceError(f"{what} in {self.path} (runs: {runs})")
            out.append(side)
        for side in dict.fromkeys(out):
            side.runs_in_file = list(self.order)
            side._finish()
        return out


def _take_event(side: Side, event: ev.Event, wanted: frozenset[type[ev.Event]] | None) -> None:
    """The events path: one decoded event of the side's run."""
    side.events += 1
    if side.first_t_ns is None:
        side.first_t_ns = event.t_ns
    side.last_t_ns = event.t_ns
    cls = type(event)
    if cls is ev.FlowStarted:
        side._register(event)
    if cls in FACT_KINDS:
        side.facts.add(event)
    if wanted is None or cls in wanted:
        i = side.count
        side.seqs.append(event.seq)
        side.texts.append(None)
        side.nodes.append(_NOT_RENDERED)
        side.gens.append(_NOT_RENDERED)
        side._set_line(i, event)


def _event_scan(
    path: str,
    selectors: Sequence[str | None],
    level: str,
    wanted: frozenset[type[ev.Event]] | None,
    lenient: bool,
) -> list[Side]:
    chooser = _Chooser(path, selectors, level)
    with TraceReader(path, lenient=lenient) as reader:
        for block, _numbers in reader.blocks():
            for event in block:
                side = chooser.side_for(event.run_id)
                if side is not None:
                    _take_event(side, event, wanted)
    return chooser.result()


def _open_body(path: str) -> tuple[IO[bytes], IO[bytes]]:
    """The file and the stream of its lines after the header (the file itself, or its
    gzip decompression); the caller closes both."""
    raw = open(path, "rb")  # noqa: SIM115 - closed by the caller
    if raw.read(2) == _GZIP_MAGIC:
        raw.seek(0)
        stream: IO[bytes] = gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[assignment]
    else:
        raw.seek(0)
        stream = raw
    stream.readline()  # the header, already checked by TraceReader
    return raw, stream


def _raw_scan(
    path: str, selectors: Sequence[str | None], level: str, wanted: frozenset[type[ev.Event]] | None
) -> list[Side]:
    chooser = _Chooser(path, selectors, level)
    kinds = _RawKinds(wanted)
    findall = _LINE.findall
    raw, stream = _open_body(path)
    try:
        read1 = stream.read1  # type: ignore[attr-defined]
        tail = b""
        while True:
            try:
                block = read1(_BLOCK)
            except (OSError, EOFError, ValueError) as exc:
                raise Irregular from exc
            if block:
                data = tail + block if tail else block
                cut = data.rfind(b"\n")
                if cut < 0:
                    tail = data
                    continue
                body, tail = data[:cut], data[cut + 1 :]
            elif tail:
                body, tail = tail, b""
            else:
                break
            found = findall(body)
            if len(found) != body.count(b"\n") + 1:
                raise Irregular
            present = {x[0] for x in found}
            if not present <= kinds.known:
                raise Irregular
            rid = found[0][3]
            # one run in the block (the usual case): its id on every line, counted in C
            # (a quote inside a JSON string is escaped, so the pattern is only a field)
            if body.count(b'"run_id":"' + rid + b'"') == len(found):
                groups: dict[bytes, list[tuple[bytes, ...]]] = {rid: found}
            else:
                groups = {}
                for x in found:
                    groups.setdefault(x[3], []).append(x)
                present = set()  # recomputed per run
            for rid, group in groups.items():
                side = chooser.side_for(rid.decode())
                if side is not None:
                    _take_raw(side, group, kinds, present or {x[0] for x in group})
    finally:
        stream.close()
        raw.close()
    return chooser.result()


class _RawKinds:
    """The kind names of the vocabulary as they appear in a line, by what the raw scan
    does with them."""

    def __init__(self, wanted: frozenset[type[ev.Event]] | None) -> None:
        self.known = {cls.__name__.encode() for cls in ev.EVENT_TYPES}
        self.index = {cls.__name__.encode(): i for cls, i in KIND_INDEX.items()}
        self.selected = {
            cls.__name__.encode() for cls in ev.EVENT_TYPES if wanted is None or cls in wanted
        }
        # decoded as they are read; evaluations are read by _EVALUATION, values only
        # where the runs differ (Side.collect_values)
        self.timing = {b"NodeStarted", b"NodeFinished"}
        self.decoded = (
            {cls.__name__.encode() for cls in FACT_KINDS} - self.timing - {b"DataEmitted"}
        )
        self.registration = {b"FlowStarted"}


@dataclass(eq=False)
class _RawTiming:
    """Evaluations and their times, from NodeStarted / NodeFinished lines read by
    :data:`_EVALUATION` (node, generation and run level as written: a start and its
    finish are matched on those bytes). Merged into the facts when the scan ends."""

    open: dict[tuple[Any, ...], int] = field(default_factory=dict)
    started: dict[bytes, int] = field(default_factory=dict)
    time_ns: dict[bytes, int] = field(default_factory=dict)
    timed: dict[bytes, int] = field(default_factory=dict)

    def merge_into(self, facts: RunFacts) -> None:
        for raw, count in self.started.items():
            node = _node_name(raw)
            facts.evaluations[node] = facts.evaluations.get(node, 0) + count
        for raw, total in self.time_ns.items():
            node = _node_name(raw)
            facts.time_ns[node] = facts.time_ns.get(node, 0) + total
            facts.timed[node] = facts.timed.get(node, 0) + self.timed[raw]


def _node_name(raw: bytes) -> str:
    """A node id as JSON wrote it (without its quotes)."""
    if b"\\" in raw:
        name: str = json.loads(b'"' + raw + b'"')
        return name
    return raw.decode()


def _take_evaluations(timing: _RawTiming, lines: list[tuple[bytes, ...]]) -> None:
    """Feed NodeStarted / NodeFinished lines to the timing. A line of a shape the
    pattern does not know sends the file to the reader (the raw scan reads only what
    flowtrace's recorder writes)."""
    match = _EVALUATION.match
    found = [match(x[4]) for x in lines]
    if None in found:
        raise Irregular
    opened, started = timing.open, timing.started
    time_ns, timed = timing.time_ns, timing.timed
    for x, m in zip(lines, found, strict=True):
        key = m.groups()  # type: ignore[union-attr]
        node = key[0]
        if x[0] == b"NodeStarted":
            started[node] = started.get(node, 0) + 1
            opened[key] = int(x[2])
        else:
            begun = opened.pop(key, None)
            if begun is not None:
                time_ns[node] = time_ns.get(node, 0) + int(x[2]) - begun
                timed[node] = timed.get(node, 0) + 1


def _take_raw(
    side: Side, group: list[tuple[bytes, ...]], kinds: _RawKinds, present: set[bytes]
) -> None:
    """One block's lines of the side's run (of the kinds ``present``): keep the
    selected lines' keys, read the evaluations, decode the lines the facts need."""
    if side.keys is None:
        side.keys = []
        side.kinds = array("B")
        side._timing = _RawTiming()
    assert side.kinds is not None and side._timing is not None
    side.events += len(group)
    if side.first_t_ns is None:
        side.first_t_ns = int(group[0][2])
    side.last_t_ns = int(group[-1][2])
    selected, index = kinds.selected, kinds.index
    chosen = group if present <= selected else [x for x in group if x[0] in selected]
    side.keys.extend([x[4] for x in chosen])
    side.kinds.extend([index[x[0]] for x in chosen])
    side.seqs.extend([int(x[1]) for x in chosen])
    if present & kinds.timing:
        timing = kinds.timing
        _take_evaluations(side._timing, [x for x in group if x[0] in timing])
    if not present & kinds.decoded:
        return
    decoded = kinds.decoded
    wanted = [
        x
        for x in group
        if x[0] in decoded and not (x[0] == b"SolutionFound" and _NO_BREAKS in x[4])
    ]
    if not wanted:
        return
    line = b'{"kind":"%b","seq":%b,"t_ns":%b,"run_id":"%b"%b'
    try:
        body = b"[" + b",".join([line % x for x in wanted]) + b"]"
        events: Sequence[ev.Event] = _DECODE_MANY(body)
    except msgspec.MsgspecError as exc:
        raise Irregular from exc
    registration = kinds.registration
    add = side.facts.add
    for x, event in zip(wanted, events, strict=True):
        if x[0] in registration:
            side._register(event)
        add(event)
