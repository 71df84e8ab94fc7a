"""Flowno's ``flowno.core.group_node`` names."""

from flowtrace.engine.node import DraftGroupNode

__all__ = ["DraftGroupNode"]
