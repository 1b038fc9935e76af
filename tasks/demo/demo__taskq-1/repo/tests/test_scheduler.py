import pytest

from taskq import CycleError, Scheduler, Task, UnknownDependency


def test_priority_order_without_dependencies():
    s = Scheduler()
    s.add(Task("lint", priority=1))
    s.add(Task("test", priority=5))
    s.add(Task("deploy", priority=3))
    assert s.plan() == ["test", "deploy", "lint"]


def test_dependencies_run_first():
    s = Scheduler()
    s.add(Task("package", priority=9, depends_on=("build",)))
    s.add(Task("build", priority=1))
    s.add(Task("docs", priority=5))
    assert s.plan() == ["docs", "build", "package"]


def test_run_returns_results_in_order():
    s = Scheduler()
    s.add(Task("a", priority=2, action=lambda: 1))
    s.add(Task("b", priority=1, action=lambda: 2, depends_on=("a",)))
    assert list(s.run().items()) == [("a", 1), ("b", 2)]


def test_unknown_dependency():
    s = Scheduler()
    s.add(Task("a", depends_on=("ghost",)))
    with pytest.raises(UnknownDependency):
        s.plan()


def test_cycle_detection():
    s = Scheduler()
    s.add(Task("a", priority=1, depends_on=("b",)))
    s.add(Task("b", priority=2, depends_on=("a",)))
    s.add(Task("c", priority=3))
    with pytest.raises(CycleError, match=r"\['a', 'b'\]"):
        s.plan()


def test_duplicate_names_rejected():
    s = Scheduler()
    s.add(Task("a"))
    with pytest.raises(ValueError):
        s.add(Task("a"))
