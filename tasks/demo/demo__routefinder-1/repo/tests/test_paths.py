import pytest

from routefinder import Graph, NegativeWeightError, NodeNotFound, reachable, shortest_path

ROADS = [
    ("A", "B", 7),
    ("A", "C", 9),
    ("A", "F", 14),
    ("B", "C", 10),
    ("B", "D", 15),
    ("C", "D", 11),
    ("C", "F", 2),
    ("D", "E", 6),
    ("E", "F", 9),
]


def test_classic_example():
    graph = Graph.from_edges(ROADS)
    assert shortest_path(graph, "A", "E") == (20, ["A", "C", "F", "E"])


def test_cheaper_multi_hop_route_wins():
    graph = Graph.from_edges([("x", "y", 10), ("x", "z", 1), ("z", "y", 2)])
    assert shortest_path(graph, "x", "y") == (3, ["x", "z", "y"])


def test_directed_edges_are_one_way():
    graph = Graph.from_edges([("a", "b", 1), ("b", "c", 1), ("c", "a", 5)], directed=True)
    assert shortest_path(graph, "a", "c") == (2, ["a", "b", "c"])
    assert shortest_path(graph, "c", "b") == (6, ["c", "a", "b"])


def test_source_equals_target():
    graph = Graph.from_edges(ROADS)
    assert shortest_path(graph, "D", "D") == (0, ["D"])


def test_unknown_nodes():
    graph = Graph.from_edges(ROADS)
    with pytest.raises(NodeNotFound):
        shortest_path(graph, "A", "Z")


def test_negative_weights_rejected():
    with pytest.raises(NegativeWeightError):
        Graph().add_edge("a", "b", -1)


def test_reachable():
    graph = Graph.from_edges([("a", "b"), ("b", "c"), ("x", "y")], directed=True)
    assert reachable(graph, "a") == {"a", "b", "c"}
    assert reachable(graph, "c") == {"c"}
