"""Django's gettext, remembered per language: for the public status page, which asks for the same
thirty-odd messages on every request (Django's gettext finds the active language and searches the
catalog each time; the page's Jinja2 templates call it through a wrapper besides).

The catalogs do not change while a process runs; a change of LANGUAGES, LANGUAGE_CODE or
LOCALE_PATHS (tests) forgets everything, as Django's own translation cache does.
"""

from __future__ import annotations

from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.translation import get_language
from django.utils.translation import gettext as django_gettext

_MEMO: dict[tuple[str | None, str], str] = {}


def gettext(message: str) -> str:
    """`django.utils.translation.gettext(message)` in the active language."""
    key = (get_language(), message)
    try:
        return _MEMO[key]
    except KeyError:
        _MEMO[key] = translated = django_gettext(message)
        return translated


@receiver(setting_changed)
def _forget(*, setting: str, **kwargs) -> None:
    if setting in {"LANGUAGES", "LANGUAGE_CODE", "LOCALE_PATHS"}:
        _MEMO.clear()
