"""The demo: a cycle feeds a stream that one reader cancels.

``planner`` ⇄ ``critic`` is a cycle (the critic's verdict feeds the next plan, broken
by a default). Each plan is streamed word by word by ``writer``; ``preview`` reads the
first words and cancels (the writer stops for everyone), ``draft`` collects what was
written, ``length`` receives the writer's final value. Runs on virtual time, so it is
fast and its trace is identical on every run — try ``flowtrace tui examples/demo.py``.
"""

from typing import Any

from flowtrace import FlowHDL, Stream, StreamCancelled, TerminateLimitReached, node, sleep

PLANS = [
    "draft an outline of the answer",
    "answer with three short points",
    "tighten the wording and stop",
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
async def Writer(plan: str):  # type: ignore[no-untyped-def]
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


@node
async def Critic(preview: str, draft: str, length: Any) -> str:
    return f"revise after {length}: {preview!r}"


def main() -> None:
    with FlowHDL(virtual_time=True) as f:
        f.planner = Planner(f.critic)
        f.writer = Writer(f.planner)
        f.preview = Preview(f.writer)
        f.draft = Draft(f.writer)
        f.critic = Critic(f.preview, f.draft, f.writer)
    try:
        f.run_until_complete(stop_at_node_generation={f.critic: (2,)})
    except TerminateLimitReached as stop:
        print(f"stopped: {stop}")
    for name in ("planner", "preview", "draft", "writer", "critic"):
        n = getattr(f, name)
        print(f"{name:8} {n.generation} {n.get_data()}")


if __name__ == "__main__":
    main()
