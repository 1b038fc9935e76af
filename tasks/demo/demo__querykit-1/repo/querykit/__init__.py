"""Build, parse and merge URL query strings."""
from .build import build_query
from .parse import first, parse_query
from .url import with_query, without_params

__all__ = ["build_query", "first", "parse_query", "with_query", "without_params"]
