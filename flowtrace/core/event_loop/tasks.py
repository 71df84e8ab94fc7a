"""Flowno's ``flowno.core.event_loop.tasks`` names."""

from flowtrace.engine.tasks import TaskCancelled, TaskHandle

__all__ = ["TaskCancelled", "TaskHandle"]
