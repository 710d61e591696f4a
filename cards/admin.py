"""Django's admin autodiscovery imports `<app>.admin`; the clerk screens live in cards/counter/.

Here: the rule sets (cards/rules.py, stored as cards.models.RuleSet), read-only, for the system
administrator (and superusers): which rule set is in force, and every rule of each version.
"""

from django.conf import settings
from django.contrib import admin
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from cards import rules
from cards.counter import admin as counter_admin  # noqa: F401
from cards.counter import functions as counter_functions  # noqa: F401 - issue #17's screens
from cards.models import RuleSet
from common.admin import ReadOnly


@admin.register(RuleSet)
class RuleSetAdmin(ReadOnly, admin.ModelAdmin):
    """Rule sets are code (cards/rules.py) stored per version by a migration: nobody edits them
    here; a change of rules is a new version, deployed."""

    list_display = ("name", "version", "in_force", "recorded_at")
    fields = ("name", "version", "in_force", "recorded_at", "rule_table")
    readonly_fields = fields

    @admin.display(description=_("in force here"), boolean=True)
    def in_force(self, row: RuleSet) -> bool:
        current = rules.in_force()
        return (row.name, row.version) == (current.name, current.version)

    @admin.display(description=_("rules"))
    def rule_table(self, row: RuleSet) -> str:
        return format_html(
            "<table><tbody>{}</tbody></table><p>{}</p>",
            format_html_join(
                "", "<tr><th>{}</th><td>{}</td></tr>", sorted((row.values or {}).items())
            ),
            _("Environment setting RULE_SET = %(name)s") % {"name": settings.RULE_SET},
        )
