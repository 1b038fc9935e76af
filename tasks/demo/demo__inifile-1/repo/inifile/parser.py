"""Assemble tokenized lines into sections."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

from .convert import to_bool, to_int, to_list
from .lexer import IniSyntaxError, tokenize

_MISSING = object()


class IniFile:
    """Parsed INI data.  Keys are case-insensitive; ``[DEFAULT]`` values are inherited."""

    def __init__(self, default_section: str = "DEFAULT"):
        self.default_section = default_section
        self._sections: dict[str, dict[str, str]] = {default_section: {}}

    def sections(self) -> list[str]:
        """Section names in file order, excluding the default section."""
        return [name for name in self._sections if name != self.default_section]

    def has_section(self, name: str) -> bool:
        return name in self._sections

    def items(self, section: str) -> dict[str, str]:
        """All keys visible in ``section`` including inherited defaults."""
        if section not in self._sections:
            raise KeyError(section)
        merged = dict(self._sections[self.default_section])
        merged.update(self._sections[section])
        return merged

    def get(self, section: str, key: str, default=_MISSING) -> str:
        value = self.items(section).get(key.lower(), _MISSING)
        if value is _MISSING:
            if default is _MISSING:
                raise KeyError(f"{section}.{key}")
            return default
        return value

    def getint(self, section: str, key: str, default=_MISSING) -> int:
        value = self.get(section, key, default)
        return value if isinstance(value, int) else to_int(value)

    def getbool(self, section: str, key: str, default=_MISSING) -> bool:
        value = self.get(section, key, default)
        return value if isinstance(value, bool) else to_bool(value)

    def getlist(self, section: str, key: str) -> list[str]:
        return to_list(self.get(section, key))

    def __iter__(self) -> Iterator[str]:
        return iter(self.sections())


def loads(text: str, default_section: str = "DEFAULT") -> IniFile:
    """Parse INI ``text``."""
    ini = IniFile(default_section)
    current: dict[str, str] | None = None
    last_key: str | None = None
    for line in tokenize(text):
        if line.kind == "section":
            current = ini._sections.setdefault(line.key, {})
            last_key = None
        elif line.kind == "pair":
            if current is None:
                raise IniSyntaxError("key outside of any section", line.lineno)
            current[line.key] = line.value
            last_key = line.key
        else:
            if current is None or last_key is None:
                raise IniSyntaxError("continuation line without a key", line.lineno)
            current[last_key] = (current[last_key] + "\n" + line.value).strip("\n")
    return ini


def load(path: str | Path, default_section: str = "DEFAULT") -> IniFile:
    """Read and parse the INI file at ``path`` (UTF-8)."""
    return loads(Path(path).read_text(encoding="utf-8"), default_section)
