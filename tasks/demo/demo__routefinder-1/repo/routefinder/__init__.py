"""Weighted graphs and cheapest-route search."""
from .errors import GraphError, NegativeWeightError, NodeNotFound
from .graph import Graph
from .paths import dijkstra, reachable, shortest_path

__all__ = [
    "Graph",
    "GraphError",
    "NegativeWeightError",
    "NodeNotFound",
    "dijkstra",
    "reachable",
    "shortest_path",
]
