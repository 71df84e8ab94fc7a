"""The debugger on a big trace: indexing, ``state_at``, first paint, and jumps.

1. A trace is recorded from a real flow (a cycle of three ``Inc`` nodes run to a
   generation limit, with the trace recorder) until it holds about N events
   (1,000,000; ``--quick``: 30,000). ``--trace FILE`` uses an existing trace instead.
2. Replay: reading the file (the trace reader) and indexing it (``Replay``: the
   reducer, keyframes, indexes and the compact store) are timed separately, then
   ``state_at`` at 200 random positions (target: max <= 20 ms).
   Then the trace is loaded as the debugger loads it in a fresh process: read and
   index chunk by chunk (``load_into``), the timeline built after it from the replay
   (as before), the memory the loaded runs hold per event (target <= 150 bytes: the
   growth of the resident memory, and with ``--tracemalloc``, much slower, the bytes
   traced), and then read, index and timeline in one pass (``Runs(feed_timelines=
   True)``, as the app now loads).
3. The app, headless (``App.run_test``, 120x40), in ``--runs`` fresh processes
   (default 3): time from start to the first screen with events painted (the app
   notes the moment after that screen's refresh; target <= 1 s; the trace keeps
   loading in a worker after that), to the whole trace loaded, timeline included
   (target <= 5 s), and then (first process) each jump key — end, start, 50 %, a
   random seq, next/previous error, cycle break, generation of a node, a breakpoint
   continue, the producer of an input and back — from the key press until the
   screen is repainted (target: every one <= 100 ms); then (every process) a
   free-text search as ``/`` runs it, for a word first found near the end and for
   one found nowhere (target <= 2 s).

Prints a table; numbers are wall-clock on this machine (a shared machine: the load
average is printed beside the app's figures).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def record_cycle(path: str, events: int) -> int:
    """Record a cyclic flow until the trace holds about ``events`` events."""
    from flowtrace import FlowHDL, node
    from flowtrace.record import Recorder

    @node
    async def Inc(x: int = 0) -> int:
        return x + 1

    with FlowHDL() as f:
        f.b = Inc(f.c)
        f.c = Inc(f.b)
        f.d = Inc(f.c)
    per_generation = 22.5  # measured: events per generation of this flow (1.x: 42)
    rec = Recorder(path)
    with contextlib.suppress(Exception):  # the generation limit ends the run
        f.run_until_complete(
            stop_at_node_generation=(int(events / per_generation),), instruments=[rec]
        )
    rec.close()
    return rec.events_written


def _resident() -> int:
    """The process's resident memory, in bytes (Linux; 0 elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return 0


def bench_load(path: str, traced: bool) -> dict[str, Any]:
    """Load ``path`` as the debugger does; time it and weigh what the runs keep. Meant
    to run in a fresh process (``--load-only``), so nothing else is on the heap."""
    import gc
    import tracemalloc

    from flowtrace.tui.loader import Runs, load_into
    from flowtrace.tui.timeline import Timeline

    gc.collect()
    if traced:
        tracemalloc.start()
    rss0 = _resident()
    t0 = time.perf_counter()
    runs = Runs()
    load_into(runs, path)
    t1 = time.perf_counter()
    timelines = []
    for run_id in runs.ids:
        timeline = Timeline()
        timeline.update(runs.replays[run_id])
        timelines.append(timeline)
    t2 = time.perf_counter()
    gc.collect()
    events = sum(len(r) for r in runs.replays.values())
    out: dict[str, Any] = {
        "events": events,
        "load_s": t1 - t0,
        "timeline_s": t2 - t1,
        "rss_bytes_per_event": (_resident() - rss0) / max(1, events),
        "store_bytes_per_event": sum(r.memory_bytes() for r in runs.replays.values())
        / max(1, events),
        "traced_bytes_per_event": None,
    }
    if traced:
        out["traced_bytes_per_event"] = tracemalloc.get_traced_memory()[0] / max(1, events)
        tracemalloc.stop()
    # as the debugger loads since the lanes left the UI thread: built in the loading
    # pass (timed after the memory was weighed: a second copy would count in it)
    del runs, timelines
    gc.collect()
    fed = Runs(feed_timelines=True)
    t3 = time.perf_counter()
    load_into(fed, path)
    out["fed_load_s"] = time.perf_counter() - t3
    return out


def bench_load_in_child(path: str, traced: bool) -> dict[str, Any]:
    import json
    import subprocess

    cmd = [sys.executable, os.path.abspath(__file__), "--load-only", path]
    if traced:
        cmd.append("--tracemalloc")
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def bench_app_in_child(path: str, keys: bool = False) -> dict[str, Any]:
    """:func:`bench_app` (``keys``: :func:`bench_keys_while_loading`) in a fresh
    process (nothing else on its heap or its GIL)."""
    import json
    import subprocess

    cmd = [sys.executable, os.path.abspath(__file__), "--app-only", path]
    if keys:
        cmd.append("--keys-while-loading")
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def bench_replay(path: str, samples: int) -> dict[str, Any]:
    from flowtrace.replay import Replay
    from flowtrace.tracefile import TraceReader

    t0 = time.perf_counter()
    with TraceReader(path) as reader:
        events = list(reader)
    t1 = time.perf_counter()
    replay = Replay(events)
    t2 = time.perf_counter()
    rng = random.Random(1)
    times = []
    for _ in range(samples):
        seq = rng.randrange(len(replay))
        s = time.perf_counter()
        replay.state_at(seq)
        times.append((time.perf_counter() - s) * 1000)
    timeline_s = None
    try:  # the timeline (per-lane intervals) is built once, as the trace loads
        from flowtrace.tui.timeline import Timeline

        t3 = time.perf_counter()
        Timeline().update(replay)
        timeline_s = time.perf_counter() - t3
    except ImportError:  # an older flowtrace, for the side-by-side figures
        pass
    return {
        "timeline_s": timeline_s,
        "events": len(events),
        "read_s": t1 - t0,
        "index_s": t2 - t1,
        "state_at_max_ms": max(times),
        "state_at_median_ms": statistics.median(times),
        "keyframes": len(replay._keyframes),
        "bytes_per_event": replay.memory_bytes() / max(1, len(replay))
        if hasattr(replay, "memory_bytes")
        else None,
    }


async def bench_keys_while_loading(path: str) -> dict[str, Any]:
    """Actions run while the trace loads, each timed from the action to the repainted
    screen (after its refresh). Timed in the app, not through the test pilot: the
    pilot waits for the process to go idle after a key (up to a second each), which a
    loading process never does."""
    from flowtrace.tui import ReplayApp

    app = ReplayApp(path=path, name=os.path.basename(path), debounce=0)
    timings: list[tuple[str, float, float]] = []
    async with app.run_test(size=(120, 40)):
        while app.first_shown_at is None:
            await asyncio.sleep(0.005)
        actions = ["step(1)", "end", "zoom(0.5)", "error(1)", "start", "fit", "step(-1)"]
        for action in actions * 2:
            await asyncio.sleep(0.25)
            if app.loading is None:
                break
            at = app.loading
            done = asyncio.Event()
            s = time.perf_counter()
            await app.run_action(action)
            app.call_after_refresh(done.set)
            await done.wait()
            timings.append((action, (time.perf_counter() - s) * 1000, at))
        await app.workers.wait_for_complete()
    return {"keys": timings}


async def bench_app(path: str) -> dict[str, Any]:
    from flowtrace.tui import ReplayApp

    app = ReplayApp(path=path, name=os.path.basename(path), debounce=0)
    out: dict[str, Any] = {}
    t0 = time.perf_counter()
    async with app.run_test(size=(120, 40)) as pilot:
        while app.nav is None or not len(app.nav.replay) or app.first_shown_at is None:
            await pilot.pause(0.005)
        # the app notes when its first screen with events was painted (after the
        # refresh): the moment a user sees events
        out["first_paint_s"] = app.first_shown_at - t0
        out["events_at_first_paint"] = len(app.nav.replay)
        await app.workers.wait_for_complete()
        out["loaded_s"] = time.perf_counter() - t0
        await pilot.pause()
        replay = app.nav.replay
        out["loaded_events"] = len(replay)
        out["timeline_ms"] = None
        try:
            from flowtrace.tui.timeline_pane import TimelinePane

            pane = app.query_one(TimelinePane)
            state = replay.state_at(app.nav.cursor)
            renders = []
            for zoom in (None, 0.01):
                if zoom is not None:
                    app.nav.zoom(zoom)
                s = time.perf_counter()
                for _ in range(10):
                    pane.show(app.nav, state)
                renders.append((time.perf_counter() - s) * 100)
            app.nav.fit()
            out["timeline_ms"] = renders
        except ImportError:
            pass
        rng = random.Random(2)
        jumps: list[tuple[str, list[str], Any]] = [
            ("end", ["end"], None),
            ("start", ["home"], None),
            ("50%", ["colon"], "50%"),
            ("random seq", ["colon"], str(rng.randrange(len(replay)))),
            ("next error", ["e"], None),
            ("previous error", ["E"], None),
            ("next cycle break", ["c"], None),
            ("next generation", ["right_curly_bracket"], None),
            ("previous generation", ["left_curly_bracket"], None),
            ("kind breakpoint", ["b"], None),
            ("continue →", ["greater_than_sign"], None),
            ("continue ←", ["less_than_sign"], None),
            ("step", ["down"], None),
            ("producer", ["p"], None),
            ("back", ["backspace"], None),
            ("75%", ["colon"], "75%"),
            ("next node event", ["right_square_bracket"], None),
        ]
        if out["timeline_ms"] is not None:
            from flowtrace.tui.timeline import format_offset

            end = app.nav.time_of(replay.last_seq)
            jumps += [
                ("moment (:+1/3 of run)", ["colon"], format_offset(end // 3)),
                ("zoom in (z)", ["z"], None),
                ("zoom in again (z)", ["z"], None),
                ("pan right (l)", ["l"], None),
                ("one cell later (.)", ["full_stop"], None),
                ("one cell earlier (,)", ["comma"], None),
                ("fit the run (w)", ["w"], None),
            ]
        timings: list[tuple[str, float, float, int]] = []
        from flowtrace.tui.widgets import PromptLine

        for label, keys, text in jumps:
            if text is not None:
                await pilot.press(*keys)
                app.query_one(PromptLine).value = text
                keys = ["enter"]
            before = app.nav.cursor
            s, c = time.perf_counter(), time.process_time()
            await pilot.press(*keys)
            await pilot.pause()
            wall = (time.perf_counter() - s) * 1000
            cpu = (time.process_time() - c) * 1000
            timings.append((label, wall, cpu, app.nav.cursor - before))
        out["jumps"] = timings
        out["searches"] = await bench_search(app, pilot)
    return out


async def bench_search(app: Any, pilot: Any) -> list[tuple[str, float, float, int, int]]:
    """Free-text search as ``/`` runs it (``search_for``: every match of the run, off
    the UI thread for a big run, then the move to the next one), from the first event:
    a word that first occurs near the end (a generation of the row at 99.9 %, else that
    row's seq) and one that occurs nowhere. CPU counts every thread of the process."""
    import re

    from flowtrace.tui.render import event_row

    nav = app.nav
    replay = nav.replay
    row = event_row(replay.event(replay.first_seq + (len(replay) * 999) // 1000))
    late = re.search(r"\bg\d+\b", row.split(None, 3)[-1])
    out = []
    for label, word in (
        ("near the end", late.group() if late else row.split()[0]),
        ("nowhere", "nosuchthing"),
    ):
        nav.go(replay.first_seq, jump=False)
        await pilot.pause()
        s, c = time.perf_counter(), time.process_time()
        app.search_for(word)
        await app.workers.wait_for_complete()
        await pilot.pause()
        wall = (time.perf_counter() - s) * 1000
        cpu = (time.process_time() - c) * 1000
        matches = len(nav.scan(nav.search))
        out.append((f"{label} ({word})", wall, cpu, nav.cursor - replay.first_seq, matches))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small trace, in seconds")
    parser.add_argument("--events", type=int, default=None, help="events to record")
    parser.add_argument("--trace", help="use this trace instead of recording one")
    parser.add_argument(
        "--tracemalloc", action="store_true", help="also weigh the loaded runs with tracemalloc"
    )
    parser.add_argument(
        "--runs", type=int, default=3, help="app start-ups measured (each a fresh process)"
    )
    parser.add_argument("--load-only", metavar="TRACE", help=argparse.SUPPRESS)
    parser.add_argument("--app-only", metavar="TRACE", help=argparse.SUPPRESS)
    parser.add_argument("--keys-while-loading", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load_only:
        import json

        print(json.dumps(bench_load(args.load_only, args.tracemalloc)))
        return
    if args.app_only:
        import json

        bench = bench_keys_while_loading if args.keys_while_loading else bench_app
        print(json.dumps(asyncio.run(bench(args.app_only))))
        return
    n = args.events or (30_000 if args.quick else 1_000_000)
    with tempfile.TemporaryDirectory() as tmp:
        path = args.trace
        if path is None:
            path = str(Path(tmp) / "cycle.ftrace.jsonl")
            t = time.perf_counter()
            written = record_cycle(path, n)
            print(
                f"recorded {written:,} events in {time.perf_counter() - t:.1f} s "
                f"({os.path.getsize(path) / 1e6:.0f} MB)"
            )
        r = bench_replay(path, 50 if args.quick else 200)
        print(f"replay of {r['events']:,} events:")
        print(f"  read (TraceReader):           {r['read_s']:6.2f} s")
        print(
            f"  index (Replay, {r['keyframes']} keyframes): {r['index_s']:6.2f} s"
            "   target <= 5 s at 1,000,000"
        )
        print(
            f"  state_at: median {r['state_at_median_ms']:.2f} ms, "
            f"max {r['state_at_max_ms']:.2f} ms   target max <= 20 ms"
        )
        if r["timeline_s"] is not None:
            print(f"  timeline (per-lane intervals, built once): {r['timeline_s']:6.2f} s")
        if r["bytes_per_event"] is not None:
            print(f"  store and seq indexes: {r['bytes_per_event']:.1f} bytes per event")
        load = bench_load_in_child(path, args.tracemalloc)
        print(f"loaded as the debugger does (a fresh process, {load['events']:,} events):")
        print(
            f"  read + index (load_into):     {load['load_s']:6.2f} s"
            "   target: fully indexed <= 5 s at 1,000,000"
        )
        print(f"  then the timeline:            {load['timeline_s']:6.2f} s (from the replay)")
        print(
            f"  read + index + timeline in one pass (as the debugger loads): "
            f"{load['fed_load_s']:6.2f} s"
        )
        print(
            f"  memory held: {load['rss_bytes_per_event']:.0f} bytes per event (resident "
            f"growth), store and indexes {load['store_bytes_per_event']:.0f}"
            "   target <= 150"
        )
        if load["traced_bytes_per_event"] is not None:
            print(f"  traced by tracemalloc: {load['traced_bytes_per_event']:.0f} bytes per event")
        apps = [bench_app_in_child(path) for _ in range(max(1, args.runs))]
        a = apps[0]
        print(
            f"app (headless 120x40) on {a['loaded_events']:,} events, {len(apps)} fresh "
            f"process(es), load average {os.getloadavg()[0]:.2f}:"
        )
        firsts = ", ".join(f"{x['first_paint_s']:.2f}" for x in apps)
        loads = ", ".join(f"{x['loaded_s']:.2f}" for x in apps)
        print(
            f"  first screen with events:     {firsts} s "
            f"({a['events_at_first_paint']:,} events loaded)   target <= 1 s"
        )
        print(f"  whole trace loaded:           {loads} s   target <= 5 s")
        keys = bench_app_in_child(path, keys=True)["keys"]
        if keys:
            print(
                f"  an action while it loads, to the repainted screen: "
                f"{min(k[1] for k in keys):.0f}–{max(k[1] for k in keys):.0f} ms "
                f"({len(keys)} actions, between {keys[0][2]:.0%} and {keys[-1][2]:.0%} loaded)"
            )
        if a["timeline_ms"] is not None:
            fit, zoomed = a["timeline_ms"]
            print(f"  timeline pane render: whole run {fit:.1f} ms, zoomed 100x {zoomed:.1f} ms")
        print("  jumps, key press to repainted screen (target <= 100 ms). cpu = work done;")
        print("  wall also counts the test pilot's idle waits for the next frame:")
        print(f"    {'jump':<22}{'cpu ms':>8}{'wall ms':>9}   moved")
        for label, wall, cpu, moved in a["jumps"]:
            print(f"    {label:<22}{cpu:8.1f}{wall:9.1f}   {moved:+,}")
        print(
            f"  worst jump: cpu {max(j[2] for j in a['jumps']):.1f} ms, "
            f"wall {max(j[1] for j in a['jumps']):.1f} ms"
        )
        print("  free-text search (/) from the first event, to the repainted screen")
        print("  (target <= 2 s at 1,000,000):")
        print(f"    {'search':<30}{'cpu s':>7}{'wall s':>8}   moved   matches")
        for x in apps:
            for label, wall, cpu, moved, matches in x["searches"]:
                print(
                    f"    {label:<30}{cpu / 1000:7.2f}{wall / 1000:8.2f}   {moved:+,}   {matches:,}"
                )


if __name__ == "__main__":
    main()
