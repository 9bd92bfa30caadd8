"""CSV cells that a spreadsheet will not run: a cell starting with `=`, `+`, `-`, `@`, a tab or a
carriage return is read by Excel and LibreOffice as a formula (OWASP "CSV injection"), and audit
exports carry text that anyone can send (a purpose, a path, a reason). Such a cell gets a leading
apostrophe, which spreadsheets show as text and drop from the value."""

from __future__ import annotations

from typing import Any

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    """The cell as text a spreadsheet shows, never evaluates; numbers stay numbers."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value
