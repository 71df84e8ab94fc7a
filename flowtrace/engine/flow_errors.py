"""The errors a flow run ends with besides the node's own: a generation limit reached
(:class:`TerminateLimitReached`) and a node failure reported after the run went on
(:class:`NodeExecutionError`).

Both are public as ``flowtrace.engine.flow.X`` (and ``flowtrace.X``): that is the
``__module__`` they carry, so a recorded error names the same type as before the flow
engine was split into modules, and pickling finds it there.
"""

from __future__ import annotations

from flowtrace.codec import exception_message
from flowtrace.engine.generation import Generation


class TerminateLimitReached(Exception):
    """A node reached its generation limit (``stop_at_node_generation``)."""

    __module__ = "flowtrace.engine.flow"

    def __init__(
        self,
        node_id: str | None = None,
        generation: Generation = None,
        limit: tuple[int, ...] | None = None,
    ) -> None:
        if node_id is None:
            super().__init__("generation limit reached")
        else:
            super().__init__(f"node {node_id!r} reached generation {generation} (limit {limit})")
        self.node_id = node_id
        self.generation = generation
        self.limit = limit


class NodeExecutionError(Exception):
    """A node failed while the flow was asked to keep going
    (``terminate_on_node_error=False``), or a stream's producer failed under a
    reader. ``__cause__`` is the node's own exception; ``errors`` lists every failure
    of the run as ``(node_id, generation, exception)``."""

    __module__ = "flowtrace.engine.flow"

    def __init__(
        self,
        node_id: str,
        generation: Generation,
        error: BaseException,
        errors: list[tuple[str, Generation, BaseException]] | None = None,
    ) -> None:
        super().__init__(
            f"node {node_id!r} failed at generation {generation}: "
            f"{type(error).__name__}: {exception_message(error)}"
        )
        self.node_id = node_id
        self.generation = generation
        self.error = error
        self.errors = errors if errors is not None else [(node_id, generation, error)]
