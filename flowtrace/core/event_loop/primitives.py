"""Flowno's ``flowno.core.event_loop.primitives`` names."""

from flowtrace.engine.commands import azip, exit, sleep, spawn
from flowtrace.engine.sockets import socket

__all__ = ["azip", "exit", "sleep", "socket", "spawn"]
