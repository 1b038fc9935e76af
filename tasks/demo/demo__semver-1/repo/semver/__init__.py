"""Tiny semantic-version toolkit implementing the SemVer 2.0.0 precedence rules."""
from .compare import compare, max_version, precedence_key, sort_versions
from .ranges import satisfies
from .version import InvalidVersion, Version, parse

__all__ = [
    "InvalidVersion",
    "Version",
    "compare",
    "max_version",
    "parse",
    "precedence_key",
    "satisfies",
    "sort_versions",
]
__version__ = "0.3.1"
