import pytest

from semver import InvalidVersion, satisfies


def test_exact_and_comparison_clauses():
    assert satisfies("1.2.3", "1.2.3")
    assert satisfies("1.2.3", ">=1.0.0, <2.0.0")
    assert not satisfies("2.0.0", ">=1.0.0, <2.0.0")


def test_caret():
    assert satisfies("1.9.9", "^1.4.2")
    assert not satisfies("1.4.1", "^1.4.2")
    assert not satisfies("2.0.0", "^1.4.2")
    assert satisfies("0.3.9", "^0.3.1")
    assert not satisfies("0.4.0", "^0.3.1")


def test_tilde():
    assert satisfies("0.3.5", "~0.3.1")
    assert not satisfies("0.4.0", "~0.3.1")


def test_invalid_clause():
    with pytest.raises(InvalidVersion):
        satisfies("1.0.0", ">= one")
