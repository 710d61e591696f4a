"""The Jinja2 environment for the few pages that must cost little more than a trivial view (the
public status page, bench/status_lookup.py): Django's template language spent more time rendering
its answer than the rest of the request together. Clerk and admin pages stay on Django templates.

What the templates get besides their context (Django's Jinja2 backend adds `request`,
`csrf_input` and `csrf_token`): `static()` and `url()` as in Django templates,
`language_code()` for the active language, and gettext as `_()`/`gettext()`/`ngettext()` with
Django's own catalogs, resolved at render time in the request's language. Messages are written as
`{{ _("...") }}` so that `makemessages` finds them as it finds Django templates' strings.
"""

from __future__ import annotations

from django.templatetags.static import static
from django.urls import reverse
from django.utils.translation import get_language, gettext, ngettext
from jinja2 import Environment


def environment(**options) -> Environment:
    options.pop("autoescape", None)  # Django's backend asks for it too: always on
    env = Environment(autoescape=True, extensions=["jinja2.ext.i18n"], **options)
    env.install_gettext_callables(gettext, ngettext, newstyle=True)
    env.globals.update(static=static, url=reverse, language_code=get_language)
    return env
