"""Running tasks in priority order while respecting dependencies."""
from __future__ import annotations

from typing import Any

from .queue import PriorityQueue
from .task import Task


class UnknownDependency(KeyError):
    """A task depends on a name that was never added."""


class CycleError(RuntimeError):
    """The dependency graph contains a cycle, so some tasks can never run."""


class Scheduler:
    def __init__(self) -> None:
        self._tasks: dict[str, Task] = {}

    def add(self, task: Task) -> Task:
        if task.name in self._tasks:
            raise ValueError(f"duplicate task name {task.name!r}")
        self._tasks[task.name] = task
        return task

    def plan(self) -> list[str]:
        """Return the order in which :meth:`run` would execute the tasks.

        Among ready tasks the highest priority goes first; ties are broken by
        the order in which tasks were added.
        """
        for task in self._tasks.values():
            for dep in task.depends_on:
                if dep not in self._tasks:
                    raise UnknownDependency(f"{task.name!r} depends on unknown {dep!r}")
        waiting = {name: set(task.depends_on) for name, task in self._tasks.items()}
        dependents: dict[str, list[str]] = {name: [] for name in self._tasks}
        for name, deps in waiting.items():
            for dep in deps:
                dependents[dep].append(name)

        ready: PriorityQueue[Task] = PriorityQueue()
        for name, deps in waiting.items():
            if not deps:
                ready.push(self._tasks[name], self._tasks[name].priority)
        order = []
        while ready:
            task = ready.pop()
            order.append(task.name)
            for child in dependents[task.name]:
                waiting[child].discard(task.name)
                if not waiting[child]:
                    ready.push(self._tasks[child], self._tasks[child].priority)
        if len(order) != len(self._tasks):
            stuck = sorted(set(self._tasks) - set(order))
            raise CycleError(f"dependency cycle among {stuck}")
        return order

    def run(self) -> dict[str, Any]:
        """Execute every task once; returns ``{name: result}`` in execution order."""
        return {name: self._tasks[name].run() for name in self.plan()}
