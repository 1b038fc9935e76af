import re

import pytest

from pathglob import translate


def full(pattern, path):
    return re.fullmatch(translate(pattern), path) is not None


def test_literal_characters_are_escaped():
    assert full("a.txt", "a.txt")
    assert not full("a.txt", "aXtxt")


def test_star_does_not_cross_directories():
    assert full("src/*.py", "src/app.py")
    assert not full("src/*.py", "src/pkg/app.py")


@pytest.mark.parametrize(
    "path, expected",
    [("docs/a.md", True), ("docs/x/y/a.md", True), ("a.md", False), ("docs/a.txt", False)],
)
def test_double_star(path, expected):
    assert full("docs/**/*.md", path) is expected


def test_question_mark_and_classes():
    assert full("file?.[ch]", "file1.c")
    assert not full("file?.[ch]", "file10.c")
    assert full("[!_]*.py", "main.py")
    assert not full("[!_]*.py", "_private.py")
