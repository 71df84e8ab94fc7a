"""Flowno's ``flowno.core.event_loop.queues`` names."""

from flowtrace.engine.queues import AsyncMapQueue, AsyncQueue, AsyncSetQueue, QueueClosedError

__all__ = ["AsyncMapQueue", "AsyncQueue", "AsyncSetQueue", "QueueClosedError"]
