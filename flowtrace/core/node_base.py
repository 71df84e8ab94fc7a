"""Flowno's ``flowno.core.node_base`` names, re-exported from :mod:`flowtrace.engine`."""

from flowtrace.engine.node import (
    Constant,
    DraftInputPort,
    DraftInputPortRef,
    DraftNode,
    DraftOutputPortRef,
    FinalizedInputPort,
    FinalizedInputPortRef,
    FinalizedNode,
    FinalizedOutputPortRef,
    MissingDefaultError,
    NodePlaceholder,
    Nothing,
    OutputPortRefPlaceholder,
    Some,
    SuperNode,
)
from flowtrace.engine.streams import Stream, StreamCancelled

__all__ = [
    "Constant",
    "DraftInputPort",
    "DraftInputPortRef",
    "DraftNode",
    "DraftOutputPortRef",
    "FinalizedInputPort",
    "FinalizedInputPortRef",
    "FinalizedNode",
    "FinalizedOutputPortRef",
    "MissingDefaultError",
    "NodePlaceholder",
    "Nothing",
    "OutputPortRefPlaceholder",
    "Some",
    "Stream",
    "StreamCancelled",
    "SuperNode",
]
