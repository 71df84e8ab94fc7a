"""Flowno's ``flowno.core.streaming_node``: typing names for nodes that stream.

A *streaming* node is an async-generator node (``async def`` that yields).
``StreamingNodeX`` is a node with X inputs; ``StreamingNodeX_Y`` one with X inputs and
Y outputs; ``StreamingNode`` the protocol of any arity. Like Flowno's, these classes
only annotate: ``@node`` builds the real node classes, and nothing here is meant to be
instantiated.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias, TypeVar, TypeVarTuple

from flowtrace.engine.node import DraftNode, DraftOutputPortRef

__all__ = [
    "StreamingDraftOutputPortRef",
    "StreamingNode",
    "StreamingNode0",
    "StreamingNode0_0",
    "StreamingNode0_1",
    "StreamingNode1",
    "StreamingNode2",
    "StreamingNode_1",
]

_R_co = TypeVar("_R_co", covariant=True, bound=tuple[object, ...])
_R = TypeVar("_R", bound=tuple[object, ...])
_T1 = TypeVar("_T1")
_T2 = TypeVar("_T2")
_O1 = TypeVar("_O1")
_Ts = TypeVarTuple("_Ts")


class StreamingDraftOutputPortRef(DraftOutputPortRef):
    """An output port of a streaming node."""


class StreamingNode(Protocol[*_Ts, _R_co]):
    """Any streaming node: ``call(*inputs)`` is an async generator of output tuples."""

    if TYPE_CHECKING:

        def call(self, *args: *_Ts) -> AsyncGenerator[_R_co, None]: ...


class StreamingNode0(DraftNode[_R]):
    """A streaming node without inputs."""


class StreamingNode0_0(StreamingNode0[tuple[None]]):
    """A streaming node without inputs or outputs."""


class StreamingNode0_1(StreamingNode0[tuple[_O1]]):
    """A streaming node without inputs and with one output."""


#: A node of any inputs and one output.
StreamingNode_1: TypeAlias = DraftNode[*tuple[Any, ...], tuple[_O1]]


class StreamingNode1(DraftNode[_T1, _R]):
    """A streaming node with one input."""


class StreamingNode2(DraftNode[_T1, _T2, _R]):
    """A streaming node with two inputs."""
