"""``import flowtrace`` stays light: no Textual, no OpenTelemetry, no asyncio mode."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("textual", "opentelemetry", "grpc", "flowtrace.engine.aio", "syrupy")


def test_import_flowtrace_loads_no_heavy_tool_dependency() -> None:
    code = (
        "import json, sys, flowtrace\n"
        "import flowtrace.engine.sync, flowtrace.engine.queues, flowtrace.engine.sockets\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    loaded = json.loads(done.stdout)
    offenders = [m for m in loaded if any(m == h or m.startswith(h + ".") for h in HEAVY)]
    assert offenders == []
    assert "flowtrace" in loaded


def test_the_tools_that_read_traces_never_load_the_engine() -> None:
    code = (
        "import json, sys\n"
        "import flowtrace.replay, flowtrace.tracefile, flowtrace.summary, flowtrace.export\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    loaded = json.loads(done.stdout)
    assert [m for m in loaded if m.startswith("flowtrace.engine")] == []
    assert "flowtrace.instrument" not in loaded
