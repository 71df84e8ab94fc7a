"""Run a 3-node flow many times in this process and print the resident set size (MiB)
after each checkpoint, one JSON object: what ``test_memory_over_many_runs.py`` checks.

Usage: ``python _many_runs.py RUNS CHECKPOINT[,CHECKPOINT…] [TRACE_FILE]`` — with a
trace file, every run is recorded into it (one recorder for the whole process, as
``flowtrace run`` does).
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from flowtrace import FlowHDL, node


@node
async def Source(x: int = 1) -> int:
    return x


@node
async def Inc(x: int) -> int:
    return x + 1


def rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        resident_pages = int(statm.read().split()[1])
    return resident_pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def main(argv: list[str]) -> None:
    runs = int(argv[0])
    checkpoints = {int(c) for c in argv[1].split(",")}
    instruments: list[Any] = []
    if len(argv) > 2:
        from flowtrace.record import Recorder

        instruments.append(Recorder(argv[2], flush_interval=0))
    rss: dict[int, float] = {}
    for i in range(1, runs + 1):
        with FlowHDL() as f:
            f.a = Source()
            f.b = Inc(f.a)
            f.c = Inc(f.b)
        f.run_until_complete(instruments=instruments)
        assert f.c.get_data() == (3,)
        if i in checkpoints:
            rss[i] = rss_mib()
    for instrument in instruments:
        instrument.close()
    print(json.dumps(rss))


if __name__ == "__main__":
    main(sys.argv[1:])
