"""Search algorithms."""
from __future__ import annotations

import heapq
import itertools
from collections import deque
from typing import Optional

from .errors import NodeNotFound
from .graph import Graph, Node


def _require(graph: Graph, *nodes: Node) -> None:
    for node in nodes:
        if node not in graph:
            raise NodeNotFound(node)


def dijkstra(graph: Graph, source: Node) -> tuple[dict, dict]:
    """Single-source cheapest paths.

    Returns ``(dist, prev)``: ``dist`` maps every node reachable from
    ``source`` to its cost, ``prev`` maps each reached node (except the
    source) to its predecessor on a cheapest path.
    """
    _require(graph, source)
    dist = {source: 0.0}
    prev: dict = {}
    counter = itertools.count()  # tie-breaker so nodes never get compared
    heap = [(0.0, next(counter), source)]
    done = set()
    while heap:
        cost, _, node = heapq.heappop(heap)
        if node in done:
            continue
        done.add(node)
        for neighbor, weight in graph.neighbors(node).items():
            new_cost = cost + weight
            if neighbor not in dist or new_cost < dist[neighbor]:
                dist[neighbor] = new_cost
                prev[neighbor] = node
                heapq.heappush(heap, (new_cost, next(counter), neighbor))
    return dist, prev


def shortest_path(graph: Graph, source: Node, target: Node) -> Optional[tuple[float, list]]:
    """Return ``(cost, [source, ..., target])`` for a cheapest route.

    Returns ``None`` when ``target`` cannot be reached from ``source``.
    Raises :class:`NodeNotFound` if either node is not in the graph.
    """
    _require(graph, source, target)
    dist, prev = dijkstra(graph, source)
    path = [target]
    while path[-1] != source:
        path.append(prev[path[-1]])
    path.reverse()
    return dist[target], path


def reachable(graph: Graph, source: Node) -> set:
    """All nodes reachable from ``source`` (including itself), by BFS."""
    _require(graph, source)
    seen = {source}
    queue = deque([source])
    while queue:
        node = queue.popleft()
        for neighbor in graph.neighbors(node):
            if neighbor not in seen:
                seen.add(neighbor)
                queue.append(neighbor)
    return seen
