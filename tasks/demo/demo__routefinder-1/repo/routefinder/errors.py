"""Exceptions."""


class GraphError(Exception):
    """Base class for graph errors."""


class NodeNotFound(GraphError, LookupError):
    """A node passed to a search does not exist in the graph."""


class NegativeWeightError(GraphError, ValueError):
    """Dijkstra's algorithm requires non-negative edge weights."""
