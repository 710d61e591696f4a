"""Template tags of the clerk admin: the dashboard on the admin index."""

from django import template

from cards.counter.views import dashboard

register = template.Library()


@register.simple_tag(takes_context=True)
def counter_dashboard(context) -> dict:
    """{% counter_dashboard as board %}: the dashboard of the logged-in user's service point."""
    return dashboard(context["request"])
