"""Run as a script by test_offload_api: a flow whose only node waits on a call that a
daemon thread completes, in a process with no other thread (so nothing but the call in
flight tells the loop that it will be woken). Prints the result."""

from __future__ import annotations

import threading
import time
from concurrent.futures import Executor, Future
from typing import Any

from flowtrace import FlowHDL, node
from flowtrace.offload import offload


class DaemonThreadExecutor(Executor):
    """Runs each call in a daemon thread."""

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()

        def run() -> None:
            time.sleep(0.2)
            future.set_result(fn(*args, **kwargs))

        threading.Thread(target=run, daemon=True).start()
        return future


def double(x: int) -> int:
    return 2 * x


@node
async def Waits(x: int) -> int:
    return int(await offload(double, x))


if __name__ == "__main__":
    with FlowHDL() as f:
        f.w = Waits(21)
    f.run_until_complete(executors=DaemonThreadExecutor())
    print(f.w.get_data())
