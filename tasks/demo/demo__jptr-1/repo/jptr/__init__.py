"""JSON Pointer (RFC 6901) parsing, building and resolution."""
from .build import escape, join, leaf_pointers
from .errors import PointerError, PointerSyntaxError, ResolutionError
from .pointer import parse, unescape
from .resolve import resolve, set_value

__all__ = [
    "PointerError",
    "PointerSyntaxError",
    "ResolutionError",
    "escape",
    "join",
    "leaf_pointers",
    "parse",
    "resolve",
    "set_value",
    "unescape",
]
