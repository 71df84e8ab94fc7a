"""The engine's name for :mod:`flowtrace.generation` (generation arithmetic lives in a
leaf module so that replay, which never imports the engine, orders generations with the
very same function)."""

from flowtrace.generation import (
    Generation,
    clip_generation,
    cmp_generation,
    inc_generation,
    main_generation,
    parent_generation,
    stitched_generation,
)

__all__ = [
    "Generation",
    "cmp_generation",
    "inc_generation",
    "clip_generation",
    "stitched_generation",
    "main_generation",
    "parent_generation",
]
