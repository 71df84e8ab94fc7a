"""Flowno's ``flowno.core.types`` names."""

from typing import Literal, NewType, TypeAlias

from flowtrace.engine.generation import Generation

DataGeneration: TypeAlias = tuple[int, ...]
RunLevel: TypeAlias = Literal[0, 1, 2, 3]
InputPortIndex = NewType("InputPortIndex", int)
OutputPortIndex = NewType("OutputPortIndex", int)
Status: TypeAlias = str

__all__ = [
    "DataGeneration",
    "Generation",
    "InputPortIndex",
    "OutputPortIndex",
    "RunLevel",
    "Status",
]
