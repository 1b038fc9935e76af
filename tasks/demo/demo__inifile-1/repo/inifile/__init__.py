"""A small, forgiving INI configuration reader."""
from .convert import to_bool, to_int, to_list
from .lexer import IniSyntaxError, Line, tokenize
from .parser import IniFile, load, loads

__all__ = [
    "IniFile",
    "IniSyntaxError",
    "Line",
    "load",
    "loads",
    "to_bool",
    "to_int",
    "to_list",
    "tokenize",
]
