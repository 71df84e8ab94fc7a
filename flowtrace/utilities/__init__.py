"""Flowno's ``flowno.utilities`` package (generation helpers)."""

__all__: list[str] = []
