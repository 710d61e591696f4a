"""Free text as a person typed it: what is left once the invisible characters at its ends are
gone. A zero-width space (U+200B), a direction mark or a byte-order mark is not white space to
`str.strip()`, so a required reason or address made of them passed every `required` check."""

from __future__ import annotations

import unicodedata

# Categories that show nothing at the ends of a text: separators, controls, format characters.
_INVISIBLE = ("Zs", "Zl", "Zp", "Cc", "Cf")


def _invisible(char: str) -> bool:
    return char.isspace() or unicodedata.category(char) in _INVISIBLE


def visible_text(value: str) -> str:
    """`value` without white space and invisible characters at either end ("" if nothing else)."""
    start, end = 0, len(value)
    while start < end and _invisible(value[start]):
        start += 1
    while end > start and _invisible(value[end - 1]):
        end -= 1
    return value[start:end]
