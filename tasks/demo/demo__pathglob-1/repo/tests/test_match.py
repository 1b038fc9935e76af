from pathglob import filter_paths, match, match_any

PATHS = [
    "README.md",
    "src/app/main.py",
    "src/app/__init__.py",
    "src/app/tests/test_main.py",
    "docs/index.md",
    "build/lib/app.py",
]


def test_basename_patterns():
    assert match("src/app/main.py", "*.py")
    assert match(".\\src\\app\\main.py", "main.py")
    assert not match("src/app/main.py", "src/*.py")


def test_match_is_case_sensitive_by_default():
    assert not match("README.MD", "*.md")


def test_match_any():
    assert match_any("docs/index.md", ["*.py", "docs/**"])
    assert not match_any("setup.cfg", ["*.py", "docs/**"])


def test_filter_include_and_exclude():
    assert filter_paths(PATHS, ["**/*.py"], ["build/**", "**/tests/**"]) == [
        "src/app/main.py",
        "src/app/__init__.py",
    ]


def test_filter_defaults_keep_everything():
    assert filter_paths(PATHS) == PATHS
