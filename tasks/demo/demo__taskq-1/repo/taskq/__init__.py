"""A dependency-aware priority task scheduler."""
from .queue import PriorityQueue
from .scheduler import CycleError, Scheduler, UnknownDependency
from .task import Task

__all__ = ["CycleError", "PriorityQueue", "Scheduler", "Task", "UnknownDependency"]
