"""Exception hierarchy."""


class PointerError(Exception):
    """Base class for all JSON Pointer errors."""


class PointerSyntaxError(PointerError, ValueError):
    """The pointer string is malformed."""


class ResolutionError(PointerError, LookupError):
    """The pointer does not resolve against the given document."""

    def __init__(self, pointer: str, reason: str):
        super().__init__(f"cannot resolve {pointer!r}: {reason}")
        self.pointer = pointer
        self.reason = reason
