"""The Jinja2 environment for the few pages that must cost little more than a trivial view (the
public status page, bench/status_lookup.py): Django's template language spent more time rendering
its answer than the rest of the request together. Clerk and admin pages stay on Django templates.

What the templates get besides their context (Django's Jinja2 backend adds `request`,
`csrf_input` and `csrf_token`): `static()` and `url()` as in Django templates (remembered per
script prefix: neither changes while a process runs), `language_code()` for the active language,
and `_()`/`gettext()`/`ngettext()` with Django's own catalogs in the request's language
(common/translation.py). Messages are written as `{{ _("...") }}` so that `makemessages` finds
them as it finds Django templates' strings; what they return is escaped like any other value.
"""

from __future__ import annotations

import functools

from django.templatetags.static import static as django_static
from django.urls import get_script_prefix, reverse
from django.utils.translation import get_language, ngettext
from jinja2 import Environment

from common.translation import gettext


@functools.cache
def _static(prefix: str, path: str) -> str:
    return django_static(path)


@functools.cache
def _url(prefix: str, name: str) -> str:
    return reverse(name)


def static(path: str) -> str:
    return _static(get_script_prefix(), path)


def url(name: str) -> str:
    """The path of a URL pattern that takes no arguments."""
    return _url(get_script_prefix(), name)


def environment(**options) -> Environment:
    options.pop("autoescape", None)  # Django's backend asks for it too: always on
    env = Environment(autoescape=True, extensions=["jinja2.ext.i18n"], **options)
    env.install_gettext_callables(gettext, ngettext, newstyle=False)
    env.globals.update(_=gettext, static=static, url=url, language_code=get_language)
    return env
