"""Precedence rules from SemVer 2.0.0, section 11."""
from __future__ import annotations

from typing import Iterable, Union

from .version import Version, parse

VersionLike = Union[Version, str]


def _coerce(version: VersionLike) -> Version:
    return version if isinstance(version, Version) else parse(version)


def _identifier_key(identifier: str) -> tuple:
    """Numeric identifiers compare numerically and sort before alphanumeric ones."""
    if identifier.isdigit():
        return (0, int(identifier), "")
    return (1, 0, identifier)


def precedence_key(version: VersionLike) -> tuple:
    """Return a key whose ordering matches SemVer precedence.

    Build metadata is ignored.  A pre-release version has *lower* precedence
    than the associated normal version: ``1.0.0-alpha < 1.0.0``.
    """
    v = _coerce(version)
    pre = tuple(_identifier_key(part) for part in v.prerelease)
    return (v.major, v.minor, v.patch, pre)


def compare(a: VersionLike, b: VersionLike) -> int:
    """Return -1, 0 or 1 as ``a`` is lower than, equal to or higher than ``b``."""
    ka, kb = precedence_key(a), precedence_key(b)
    return (ka > kb) - (ka < kb)


def sort_versions(versions: Iterable[VersionLike], reverse: bool = False) -> list:
    """Sort versions by precedence, returning the original objects."""
    return sorted(versions, key=precedence_key, reverse=reverse)


def max_version(versions: Iterable[VersionLike], include_prerelease: bool = True):
    """Return the highest version, or ``None`` if there is no candidate."""
    candidates = [
        v for v in versions if include_prerelease or not _coerce(v).is_prerelease
    ]
    if not candidates:
        return None
    return max(candidates, key=precedence_key)
