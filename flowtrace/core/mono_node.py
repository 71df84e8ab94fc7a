"""Flowno's ``flowno.core.mono_node``: typing names for nodes that return one result.

A *mono* node is a coroutine node (``async def`` that returns). ``MonoNodeX`` is a node
with X inputs; ``MonoNodeX_Y`` one with X inputs and Y outputs; ``MonoNode`` the
protocol of any arity. Like Flowno's, these classes only annotate: ``@node`` builds the
real node classes, and nothing here is meant to be instantiated.
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias, TypeVar, TypeVarTuple

from flowtrace.engine.node import DraftNode, DraftOutputPortRef

__all__ = [
    "MonoDraftOutputPortRef",
    "MonoNode",
    "MonoNode0",
    "MonoNode0_0",
    "MonoNode0_1",
    "MonoNode1",
    "MonoNode2",
    "MonoNode_1",
]

_R_co = TypeVar("_R_co", covariant=True, bound=tuple[object, ...])
_R = TypeVar("_R", bound=tuple[object, ...])
_T1 = TypeVar("_T1")
_T2 = TypeVar("_T2")
_O1 = TypeVar("_O1")
_Ts = TypeVarTuple("_Ts")


class MonoDraftOutputPortRef(DraftOutputPortRef):
    """An output port of a mono node."""


class MonoNode(Protocol[*_Ts, _R_co]):
    """Any mono node: ``call(*inputs)`` is a coroutine returning the output tuple."""

    if TYPE_CHECKING:

        def call(self, *args: *_Ts) -> Coroutine[Any, Any, _R_co]: ...


class MonoNode0(DraftNode[_R]):
    """A mono node without inputs."""


class MonoNode0_0(MonoNode0[tuple[None]]):
    """A mono node without inputs or outputs."""


class MonoNode0_1(MonoNode0[tuple[_O1]]):
    """A mono node without inputs and with one output."""


#: A node of any inputs and one output.
MonoNode_1: TypeAlias = DraftNode[*tuple[Any, ...], tuple[_O1]]


class MonoNode1(DraftNode[_T1, _R]):
    """A mono node with one input."""


class MonoNode2(DraftNode[_T1, _T2, _R]):
    """A mono node with two inputs."""
