"""Flowno's ``flowno.core.event_loop`` package names."""

from flowtrace.engine.commands import exit, sleep, spawn
from flowtrace.engine.loop import EventLoop, current_event_loop, current_task
from flowtrace.engine.sockets import socket

__all__ = ["EventLoop", "current_event_loop", "current_task", "exit", "sleep", "socket", "spawn"]
