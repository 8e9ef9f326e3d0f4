"""Errors that reach the user as one line and exit code 2.

Every bad input (file, field, value) becomes an :class:`InputError` that names the file, the field
path and what was expected, so the CLI never shows a traceback for a user's mistake.
"""

from __future__ import annotations


class InputError(Exception):
    """A user input is wrong: which file, which field, what was expected."""

    def __init__(self, source: str, field: str | None, expected: str) -> None:
        self.source = source
        self.field = field
        self.expected = expected
        super().__init__(self.one_line())

    def one_line(self) -> str:
        where = f"{self.source}: {self.field}" if self.field else self.source
        return f"{where}: {self.expected}"
