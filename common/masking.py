"""Masking of personal information (PIPL) wherever the full value is not needed.

Lists, logs, the public status page and events to banks that do not own a card use these.
"""

from __future__ import annotations

from django.utils.translation import gettext

from common.crypto import is_erased


def _erased() -> str:
    """How a value erased by its person's retention shows (common.crypto.ERASED)."""
    return gettext("(erased)")


def mask_id_number(value: str | None) -> str:
    """Keep the first 3 and last 4 characters: 310***********123X."""
    if is_erased(value):
        return _erased()
    if not value:
        return ""
    if len(value) <= 7:
        return value[0] + "*" * (len(value) - 1)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def mask_name(value: str | None) -> str:
    """Chinese names keep the family name (张**); Latin names keep each word's initial."""
    if is_erased(value):
        return _erased()
    if not value:
        return ""
    value = value.strip()
    if " " in value:
        return " ".join(part[0] + "*" * (len(part) - 1) for part in value.split() if part)
    if len(value) == 1:
        return "*"
    return value[0] + "*" * (len(value) - 1)


def mask_phone(value: str | None) -> str:
    """Keep the first 3 and last 4 digits: 138****5678."""
    if is_erased(value):
        return _erased()
    if not value:
        return ""
    if len(value) <= 7:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def mask_address(value: str | None) -> str:
    """Keep the first 6 characters (district and street), hide the rest."""
    if is_erased(value):
        return _erased()
    if not value:
        return ""
    return value[:6] + "*" * min(len(value) - 6, 10) if len(value) > 6 else "*" * len(value)
