"""Adjacency-list graph."""
from __future__ import annotations

from typing import Hashable, Iterable, Iterator

from .errors import NegativeWeightError

Node = Hashable


class Graph:
    """A weighted graph; ``directed=False`` adds every edge in both directions."""

    def __init__(self, directed: bool = False):
        self.directed = directed
        self._adj: dict[Node, dict[Node, float]] = {}

    def add_node(self, node: Node) -> None:
        self._adj.setdefault(node, {})

    def add_edge(self, u: Node, v: Node, weight: float = 1.0) -> None:
        """Add (or re-weight) the edge ``u -> v``."""
        if weight < 0:
            raise NegativeWeightError(f"edge {u!r}->{v!r} has negative weight {weight}")
        self.add_node(u)
        self.add_node(v)
        self._adj[u][v] = weight
        if not self.directed:
            self._adj[v][u] = weight

    @classmethod
    def from_edges(cls, edges: Iterable[tuple], directed: bool = False) -> "Graph":
        """Build a graph from ``(u, v)`` or ``(u, v, weight)`` tuples."""
        graph = cls(directed)
        for edge in edges:
            graph.add_edge(*edge)
        return graph

    def neighbors(self, node: Node) -> dict[Node, float]:
        return dict(self._adj[node])

    def nodes(self) -> list[Node]:
        return list(self._adj)

    def __contains__(self, node: object) -> bool:
        return node in self._adj

    def __iter__(self) -> Iterator[Node]:
        return iter(self._adj)

    def __len__(self) -> int:
        return len(self._adj)
