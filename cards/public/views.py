"""/status/: the form (GET, with the receipt number a QR code carries) and the answer (POST).

Thin: count the attempt against the rate limits, look up, render. The ID number travels only in
a POST body; nothing entered is echoed, logged or cached; every mismatch renders the same page.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from cards import metrics
from cards.numbers import normalise_receipt_number
from cards.public.forms import (
    RECEIPT_NUMBER_MAX_LENGTH,
    StatusLookupForm,
    form_fields,
    receipt_from_query,
)
from cards.public.lookup import status_lookup
from common import ratelimit
from common.security import public_page

logger = logging.getLogger("cards.public")


def lookup_limits() -> tuple[ratelimit.Limit, ratelimit.Limit]:
    """Lookups per client address and per receipt number (settings STATUS_LIMIT_*)."""
    return (
        ratelimit.Limit(
            "status-address",
            settings.STATUS_LIMIT_PER_ADDRESS,
            settings.STATUS_LIMIT_ADDRESS_WINDOW,
        ),
        ratelimit.Limit(
            "status-receipt",
            settings.STATUS_LIMIT_PER_RECEIPT,
            settings.STATUS_LIMIT_RECEIPT_WINDOW,
        ),
    )


@public_page
@sensitive_post_parameters("id_number", "receipt_number")  # kept out of any error report
@require_http_methods(["GET", "POST"])
def status_lookup_view(request):
    prefill = receipt_from_query(request.GET.get("receipt_number"))
    # This page's address for the form and the language switch: only the checked receipt number
    # is kept from the query, never anything else a link may carry.
    here = reverse("status:lookup")
    if prefill:
        here += "?" + urlencode({"receipt_number": prefill})
    if request.method == "GET":
        return _form_page(request, prefill, here)

    by_address, by_receipt = lookup_limits()
    receipt = normalise_receipt_number(
        request.POST.get("receipt_number", "")[: RECEIPT_NUMBER_MAX_LENGTH * 2]
    )
    try:
        verdict = ratelimit.hit(
            [(by_address, ratelimit.client_address(request)), (by_receipt, receipt)]
        )
    except ratelimit.Unavailable as exc:
        # Uncounted lookups would open the door to enumeration: refuse, clearly, for now.
        metrics.status_lookup("unavailable")
        return _wait_page(request, here, exc, 503, _("The lookup is briefly unavailable"))
    if not verdict.allowed:
        logger.info("status lookup refused by the rate limit")  # names no one
        metrics.status_lookup("limited")
        return _wait_page(request, here, verdict, 429)

    form = StatusLookupForm(request.POST)
    data = form.cleaned_data if form.is_valid() else {}
    answer = status_lookup(
        id_number=data.get("id_number", ""), receipt_number=data.get("receipt_number", "")
    )
    metrics.status_lookup("not_found" if answer is None else "found")
    if answer is None:
        return _form_page(request, prefill, here, no_match=True)
    return _render(request, "status/answer.html", {"answer": answer, "here": here})


def _form_page(request, prefill: str, here: str, *, no_match: bool = False):
    """The form, empty but for a QR code's receipt number: nothing typed is ever echoed."""
    fields = form_fields(receipt_number=prefill)
    return _render(
        request, "status/lookup.html", {"fields": fields, "no_match": no_match, "here": here}
    )


def _wait_page(request, here: str, wait, status: int, title: str = ""):
    """Too many attempts (429), or the counters unreachable (503): when to try again. `wait` is
    the limiter's Verdict or its Unavailable error; both say how long."""
    minutes = wait.retry_after_minutes
    if status == 429:
        message = ngettext(
            "There have been too many attempts. Try again in %(minutes)s minute.",
            "There have been too many attempts. Try again in %(minutes)s minutes.",
            minutes,
        )
    else:
        message = ngettext(
            "Please try again in %(minutes)s minute.",
            "Please try again in %(minutes)s minutes.",
            minutes,
        )
    message %= {"minutes": minutes}
    context = {"wait": message, "title": title, "here": here}
    response = _render(request, "status/limited.html", context, status)
    response["Retry-After"] = str(wait.retry_after)
    return response


def _render(request, template: str, context: dict, status: int = 200):
    """These pages are Jinja2 templates (cards/jinja2/, common/jinja2.py): cheap to render."""
    return render(request, template, context, status=status, using="jinja2")
