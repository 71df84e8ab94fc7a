"""A stateful node: a class with ``async def call`` keeps its attributes across runs.
Wired to itself it doubles its running total each generation (1, 2, 4, 8)."""

from flowtrace import FlowHDL, TerminateLimitReached, node


@node
class Accumulator:
    total = 0.0
    calls = 0

    async def call(self, x: float = 1.0) -> float:
        self.calls += 1
        self.total += x
        return self.total


def main() -> None:
    with FlowHDL() as f:
        f.acc = Accumulator(f.acc)  # type: ignore[call-arg]  # @node class: python/mypy#3135
    try:
        f.run_until_complete(stop_at_node_generation={f.acc: (3,)})
    except TerminateLimitReached as stop:
        print(f"stopped: {stop}")
    print("result", f.acc.get_data())
    print("state", f.acc.total, "after", f.acc.calls, "calls")


if __name__ == "__main__":
    main()
