"""Gitignore-flavoured glob matching for slash-separated paths."""
from .filter import filter_paths
from .match import match, match_any, normalize
from .translate import compile_pattern, translate

__all__ = ["compile_pattern", "filter_paths", "match", "match_any", "normalize", "translate"]
