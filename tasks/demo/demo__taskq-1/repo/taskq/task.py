"""The unit of work."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional


@dataclass
class Task:
    """A named piece of work.

    Higher ``priority`` values run earlier.  A task only becomes ready once
    every task named in ``depends_on`` has finished.
    """

    name: str
    priority: int = 0
    action: Optional[Callable[[], Any]] = None
    depends_on: tuple[str, ...] = field(default_factory=tuple)

    def run(self) -> Any:
        return self.action() if self.action is not None else None
