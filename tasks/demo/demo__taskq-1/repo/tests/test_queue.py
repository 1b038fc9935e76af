import pytest

from taskq import PriorityQueue


def test_highest_priority_first():
    queue = PriorityQueue()
    queue.push("low", 1)
    queue.push("high", 10)
    queue.push("mid", 5)
    assert queue.peek() == "high"
    assert [queue.pop() for _ in range(3)] == ["high", "mid", "low"]


def test_len_and_bool():
    queue = PriorityQueue()
    assert not queue and len(queue) == 0
    queue.push("x")
    assert queue and len(queue) == 1


def test_empty_queue_errors():
    with pytest.raises(IndexError):
        PriorityQueue().pop()
    with pytest.raises(IndexError):
        PriorityQueue().peek()
