"""Minimal npm-style range matching: ``>=1.2.0, <2``, ``^1.4.2``, ``~0.3.1``."""
from __future__ import annotations

import re

from .compare import VersionLike, _coerce, compare
from .version import InvalidVersion, Version

_CLAUSE_RE = re.compile(r"^(?P<op>\^|~|>=|<=|>|<|=|==)?\s*(?P<version>\S+)$")


def _expand(op: str, base: Version) -> list[tuple[str, Version]]:
    if op == "^":
        if base.major > 0:
            upper = Version(base.major + 1, 0, 0)
        elif base.minor > 0:
            upper = Version(0, base.minor + 1, 0)
        else:
            upper = Version(0, 0, base.patch + 1)
        return [(">=", base), ("<", upper)]
    if op == "~":
        return [(">=", base), ("<", Version(base.major, base.minor + 1, 0))]
    return [("=" if op == "==" else op, base)]


_CHECKS = {
    "=": lambda c: c == 0,
    ">": lambda c: c > 0,
    ">=": lambda c: c >= 0,
    "<": lambda c: c < 0,
    "<=": lambda c: c <= 0,
}


def satisfies(version: VersionLike, spec: str) -> bool:
    """Return True if ``version`` matches every comma-separated clause of ``spec``."""
    v = _coerce(version)
    for clause in filter(None, (c.strip() for c in spec.split(","))):
        match = _CLAUSE_RE.match(clause)
        if match is None:
            raise InvalidVersion(f"invalid range clause: {clause!r}")
        op = match.group("op") or "="
        for check_op, bound in _expand(op, _coerce(match.group("version"))):
            if not _CHECKS[check_op](compare(v, bound)):
                return False
    return True
