"""A node error ends the run: the node's own exception reaches the caller unchanged,
and the trace names the node and generation (``NodeErrored``, ``FlowFinished``)."""

from flowtrace import FlowHDL, node
from flowtrace.events import FlowFinished, NodeErrored
from flowtrace.instrument import InstrumentBase


class Errors(InstrumentBase):
    kinds = (NodeErrored, FlowFinished)

    def on_event(self, event: object) -> None:
        if isinstance(event, NodeErrored):
            print(
                f"trace: {event.node_id} failed at {event.generation} ({event.phase}): "
                f"{event.error.type}: {event.error.message}"
            )
        elif isinstance(event, FlowFinished):
            print(f"trace: flow finished: {event.outcome} (node {event.node_id})")


@node
async def Parse(text: str) -> int:
    return int(text)


@node
async def Report(value: int) -> str:
    return f"value is {value}"


def main() -> None:
    with FlowHDL() as f:
        f.parse = Parse("forty-two")
        f.report = Report(f.parse)
    try:
        f.run_until_complete(instruments=[Errors()])
    except ValueError as error:
        print(f"caught {type(error).__name__}: {error}")
    print("report ran:", f.report.get_data() is not None)


if __name__ == "__main__":
    main()
