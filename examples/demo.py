"""The demo: a cycle feeds a stream that one reader cancels, until a node fails.

``planner`` ⇄ ``critic`` is a cycle (the critic's verdict feeds the next plan, broken
by a default). Each plan is streamed word by word by ``writer``; ``preview`` reads the
first words and cancels (the writer stops for everyone), ``draft`` collects what was
written, and ``critic`` also receives the writer's final value. In the third round the
critic finds nothing left to review and raises, which ends the run: the trace has a
cycle break, stream cancellations and an error to find. Runs on virtual time, so it
is fast and its trace is identical on every run — try ``flowtrace tui examples/demo.py``.
"""

from collections.abc import AsyncIterator
from typing import Any

from flowtrace import FlowHDL, Stream, StreamCancelled, TerminateLimitReached, node, sleep

PLANS = [
    "draft an outline of the answer",
    "answer with three short points",
    "stop here",
]


@node
class Planner:
    rounds = 0

    async def call(self, feedback: str = "start") -> str:
        await sleep(0.1)
        plan = PLANS[self.rounds % len(PLANS)]
        self.rounds += 1
        return plan


@node
async def Writer(plan: str) -> AsyncIterator[str]:
    written = 0
    try:
        for word in plan.split():
            await sleep(0.02)
            written += 1
            yield word + " "
    except StreamCancelled:
        raise StopAsyncIteration(f"{written} words") from None
    raise StopAsyncIteration(f"{written} words")


@node(stream_in=["words"])
async def Preview(words: Stream[str], limit: int = 3) -> str:
    seen: list[str] = []
    async for word in words:
        seen.append(word)
        if len(seen) == limit:
            await words.cancel()
    return "".join(seen).strip()


@node(stream_in=["words"])
async def Draft(words: Stream[str]) -> str:
    return "".join([w async for w in words]).strip()


class ReviewError(Exception):
    """The critic cannot review a plan."""


@node
async def Critic(preview: str, draft: str, length: Any) -> str:
    if len(draft.split()) < 3:
        raise ReviewError(f"nothing left to review after {length}: {draft!r}")
    return f"revise after {length}: {preview!r}"


def main() -> None:
    with FlowHDL(virtual_time=True) as f:
        f.planner = Planner(f.critic)  # type: ignore[call-arg]  # @node class: python/mypy#3135
        f.writer = Writer(f.planner)
        f.preview = Preview(f.writer)
        f.draft = Draft(f.writer)
        f.critic = Critic(f.preview, f.draft, f.writer)
    try:
        f.run_until_complete(stop_at_node_generation={f.critic: (5,)})
    except TerminateLimitReached as stop:
        print(f"stopped: {stop}")
    except ReviewError as error:
        print(f"failed: {error}")
    for name in ("planner", "preview", "draft", "writer", "critic"):
        n = getattr(f, name)
        print(f"{name:8} {n.generation} {n.get_data()}")


if __name__ == "__main__":
    main()
