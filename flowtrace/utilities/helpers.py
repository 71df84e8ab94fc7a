"""Flowno's ``flowno.utilities.helpers`` names: the generation helpers."""

from flowtrace.engine.generation import (
    clip_generation,
    cmp_generation,
    inc_generation,
    main_generation,
    parent_generation,
    stitched_generation,
)

__all__ = [
    "clip_generation",
    "cmp_generation",
    "inc_generation",
    "main_generation",
    "parent_generation",
    "stitched_generation",
]
