"""The counter's own admin pages: search, new person, new application, one page per transition,
the logged ID-number reveal, the printable receipt and certificate, and the supervisor dashboard.

Every view is thin: it finds the card in the clerk's scope (counter/scope.py: 404 otherwise), checks
that the transition is allowed now for this clerk (state and cards.permissions: 403 otherwise),
validates a form, and calls one service. A refusal is shown to the clerk, never a 500.
No document number ever goes into a URL (they end up in access logs): searches are posted.
"""

from __future__ import annotations

import datetime
import time
from dataclasses import dataclass
from typing import Any

import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from agencies.choices import ServicePointKind
from applicants.models import Applicant, id_number_index
from applicants.policy import applicant_card_eligibility
from applicants.registry import (
    COMPARED_FIELDS,
    RegistryUnavailable,
    compare_with_registry,
    get_registry,
)
from cards import counts, rules, selectors, services
from cards.choices import LIVE_STATES, CardStatus, CardType, OverdueKind, TransitionName
from cards.counter import scope
from cards.counter.forms import (
    TRANSITION_FORMS,
    ApplicationForm,
    CounterSearchForm,
    EmploymentVisitForm,
    IssueOnTheSpotVisitForm,
    RegistrationForm,
    add_refusal,
    documents_for,
)
from cards.counter.functions import receipt_functions
from cards.counter.search import (
    SearchKind,
    counter_find,
    parse_search,
    person_cards,
    registrable_types,
)
from cards.counter.visit import VISIT_NEXT, visit_build
from cards.models import LOSS_DEADLINE_COLUMNS, Card, OverdueCount, PointPersonReason
from cards.permissions import POINT_KIND_CARD_TYPES, actor_may
from common.admin_lists import bounded_count
from common.errors import ApplicationError
from common.masking import mask_name
from privacy.access import admin_reveal_read

S = CardStatus
T = TransitionName

# What the counter search found, kept in the clerk's session (ids only, never a number) so that
# the next pages can serve that person: the person, and their cards elsewhere that this counter
# may act on (cards/counter/scope.py, DESK_TRANSITIONS).
COUNTER_SESSION_KEY = "cards_counter"
COUNTER_SESSION_SECONDS = 30 * 60
REVEAL_SESSION_KEY = "cards_revealed"
REVEAL_SECONDS = 120


def _remember(
    request: HttpRequest,
    *,
    person_id: int | None,
    desk_ids: list[int],
    id_presented: bool = False,
    receipt_ids: tuple[int, ...] = (),
) -> None:
    """`id_presented`: the person's exact document number was the search (the document shown at
    the desk), so no form of this visit asks for it again; `receipt_ids`: the cards found by
    their receipt number (the receipt shown)."""
    request.session[COUNTER_SESSION_KEY] = {
        "person": person_id,
        "desk": desk_ids,
        "id_presented": bool(id_presented and person_id),
        "receipts": list(receipt_ids),
        "until": time.time() + COUNTER_SESSION_SECONDS,
    }


def _remember_new_document(request: HttpRequest, number: str) -> None:
    """The unknown document number just searched, which the registration form may register: its
    blind index, never the number (the session is not where personal data is kept)."""
    request.session[COUNTER_SESSION_KEY] = {
        **request.session.get(COUNTER_SESSION_KEY, {}),
        "new_document": id_number_index(number).hex(),
    }


def _searched_new_document(request: HttpRequest, number: str) -> bool:
    remembered = _recalled(request).get("new_document")
    return bool(remembered) and remembered == id_number_index(number).hex()


def _recalled(request: HttpRequest) -> dict[str, Any]:
    found = request.session.get(COUNTER_SESSION_KEY) or {}
    if found.get("until", 0) < time.time():
        return {"person": None, "desk": [], "id_presented": False, "receipts": []}
    return found


def presented_for(request: HttpRequest, card: Card) -> dict[str, Any]:
    """What this visit's search already presented for `card`: the holder's document (searched by
    its exact number) and the card's receipt (searched by its number)."""
    found = _recalled(request)
    return {
        "id_number": card.applicant.id_number
        if found.get("id_presented") and found.get("person") == card.applicant_id
        else None,
        "receipt": card.pk in found.get("receipts", []),
    }


def _desk_card(request: HttpRequest, pk: int) -> Card | None:
    if pk not in _recalled(request).get("desk", []):
        return None
    return Card.objects.select_related("applicant").filter(pk=pk).first()


def _actor_or_403(request: HttpRequest):
    actor = scope.desk_of(request).actor
    if actor is None:
        raise PermissionDenied(_("Only staff of a service point or a bank can act on cards."))
    return actor


def _change_url(card: Card) -> str:
    return reverse("admin:cards_card_change", args=[card.pk])


def _visit_url() -> str:
    return reverse("admin:cards_card_visit")


def status_page_url(card: Card) -> str:
    """The public status page of a card, at the address citizens reach (STATUS_PAGE_BASE_URL),
    never the host the clerk's browser used."""
    base = settings.STATUS_PAGE_BASE_URL.rstrip("/")
    return f"{base}/status/?" + urlencode({"receipt_number": card.receipt_number})


def print_link(url: str, label: str):
    return format_html('<a class="print-link" href="{}" target="_blank">{}</a>', url, label)


# --- Plain words for the state, the deadlines and the countdown --------------------------------


def countdown(deadline: datetime.datetime | None, now: datetime.datetime | None = None) -> str:
    """'2 days 3 h', '5 h 12 min', '8 min': how long until `deadline`, or '' if passed."""
    if deadline is None:
        return ""
    left = deadline - (now or timezone.now())
    if left.total_seconds() <= 0:
        return ""
    minutes = int(left.total_seconds() // 60)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return _("%(days)d days %(hours)d h") % {"days": days, "hours": hours}
    if hours:
        return _("%(hours)d h %(minutes)d min") % {"hours": hours, "minutes": minutes}
    return _("%(minutes)d min") % {"minutes": max(minutes, 1)}


def _when(value: datetime.datetime | None) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else ""


def state_in_words(card: Card, now: datetime.datetime | None = None) -> str:
    """One or two sentences a clerk can read out: where the card stands and what comes next."""
    now = now or timezone.now()
    state = card.status_at(now)
    if state == S.APPLIED:
        return _("Application taken on %(at)s. Next: verify it against the municipal registry.") % {
            "at": _when(card.applied_at)
        }
    if state == S.VERIFIED:
        if card.ready_promised_by:
            return _(
                "Verified on %(at)s. The card is being made here; promised ready by %(day)s."
            ) % {"at": _when(card.verified_at), "day": card.ready_promised_by.isoformat()}
        if card.card_type == CardType.SOCIAL_SECURITY:
            return _(
                "Verified on %(at)s. The partner bank produces the card (about half a year)."
            ) % {"at": _when(card.verified_at)}
        return _("Verified on %(at)s. The card can be issued.") % {"at": _when(card.verified_at)}
    if state == S.READY_FOR_COLLECTION:
        text = _(
            "Ready since %(at)s: the holder collects it at %(point)s with the original identity "
            "document and the application receipt."
        ) % {"at": _when(card.ready_at), "point": card.collection_point.name}
        if card.collect_by:
            text += " " + _("To be collected by %(day)s.") % {"day": card.collect_by.isoformat()}
        if card.uncollected_cancels_at:
            text += " " + _("Cancelled if not collected by %(at)s.") % {
                "at": _when(card.uncollected_cancels_at)
            }
        return text
    if state == S.ISSUED:
        if card.status == S.PHONE_REPORTED_LOST:
            return _(
                "Issued. A phone pre-report lapsed at %(at)s without a written report: "
                "the card is in use again."
            ) % {"at": _when(card.phone_report_expires_at)}
        if card.is_expired(timezone.localdate(now)):
            return _("Expired on %(day)s (issued on %(at)s): the holder applies for a renewal.") % {
                "day": card.expires_on.isoformat(),
                "at": _when(card.issued_at),
            }
        if card.expires_on:
            return _("Issued on %(at)s: the card is in use, valid until %(day)s.") % {
                "at": _when(card.issued_at),
                "day": card.expires_on.isoformat(),
            }
        return _("Issued on %(at)s: the card is in use.") % {"at": _when(card.issued_at)}
    if state == S.PHONE_REPORTED_LOST:
        return _(
            "Reported lost by phone on %(at)s. The pre-report lapses at %(until)s "
            "(in %(left)s) unless a written loss report follows."
        ) % {
            "at": _when(card.phone_reported_at),
            "until": _when(card.phone_report_expires_at),
            "left": countdown(card.phone_report_expires_at, now),
        }
    if state == S.WRITTEN_LOST and card.written_report_expires_at is None:
        return _(
            "Reported lost in writing on %(at)s (certificate %(number)s). No deadline: the "
            "card's rule set never cancels it by itself."
        ) % {"at": _when(card.written_reported_at), "number": card.loss_certificate_number}
    if state == S.WRITTEN_LOST:
        return _(
            "Reported lost in writing on %(at)s (certificate %(number)s). Unless the card is "
            "found, it is cancelled automatically at %(until)s (in %(left)s)."
        ) % {
            "at": _when(card.written_reported_at),
            "number": card.loss_certificate_number,
            "until": _when(card.written_report_expires_at),
            "left": countdown(card.written_report_expires_at, now),
        }
    if state == S.CANCELLED and card.status == S.WRITTEN_LOST:
        return _(
            "The written loss report expired at %(at)s: the card is cancelled. A replacement is "
            "a new application."
        ) % {"at": _when(card.written_report_expires_at)}
    if state == S.CANCELLED and card.status == S.READY_FOR_COLLECTION:
        return _("Not collected by %(at)s: the card is cancelled.") % {
            "at": _when(card.uncollected_cancels_at)
        }
    return _("Closed on %(at)s (%(state)s).") % {
        "at": _when(card.closed_at),
        "state": CardStatus(state).label,
    }


def live_deadline(card: Card, now: datetime.datetime | None = None) -> datetime.datetime | None:
    """The deadline of a live loss report, or None."""
    column = LOSS_DEADLINE_COLUMNS.get(card.status_at(now))
    return getattr(card, column) if column else None


# --- The ID-number reveal ------------------------------------------------------------------


def record_reveal(request: HttpRequest, *, applicant: Applicant, card: Card | None = None) -> None:
    """Log one look at the full number in the one read log (privacy.PersonalDataAccess) and let
    the next page show it once, for a short while."""
    if not request.user.has_perm("cards.reveal_id_number"):
        raise PermissionDenied(_("You may not see full ID numbers."))
    admin_reveal_read(request, applicant=applicant, card=card, field="id_number")
    revealed = request.session.get(REVEAL_SESSION_KEY) or {}
    revealed[str(applicant.pk)] = time.time() + REVEAL_SECONDS
    request.session[REVEAL_SESSION_KEY] = revealed


def take_revealed(request: HttpRequest, applicant: Applicant) -> bool:
    """Whether to show this person's full number on this page (once per logged reveal)."""
    revealed = request.session.get(REVEAL_SESSION_KEY) or {}
    until = revealed.pop(str(applicant.pk), 0)
    if until:
        request.session[REVEAL_SESSION_KEY] = revealed
    return until >= time.time()


# --- The dashboard on the admin index ------------------------------------------------------------


@dataclass(frozen=True)
class Bar:
    day: datetime.date
    count: int
    percent: int
    url: str


def changelist_url(**params: str) -> str:
    base = reverse("admin:cards_card_changelist")
    return f"{base}?{urlencode(params)}" if params else base


def expiring_today_q(desk: scope.Desk, now: datetime.datetime) -> Q:
    """Loss reports in force whose deadline falls before the next local midnight."""
    end_of_day = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    end_of_day += datetime.timedelta(days=1)
    return scope.live_loss_report_q(desk, now, until=end_of_day)


OVERDUE_LISTS = (
    ("overdue_medical_promise", gettext_lazy("Medical insurance cards past the promised day")),
    ("overdue_verification", gettext_lazy("Applications waiting too long for verification")),
    ("overdue_uncollected", gettext_lazy("Cards not collected for 6 months")),
    (
        "overdue_street_collection",
        gettext_lazy("Street medical point cards past their collect-by day"),
    ),
    ("expiring_next_month", gettext_lazy("Cards expiring next month")),
)


EXPIRING_SHOWN = 20
OVERDUE_SHOWN = 10


def dashboard(request: HttpRequest) -> dict[str, Any]:
    """The admin index for staff: the desk's cards by state in force, loss reports expiring
    today, the overdue lists (supervisors), and applications per day for 30 days.

    Every figure is a few rows: the state counts and the chart from the counters kept as the work
    happens (cards.counts), corrected to the state in force by the loss reports past their
    deadline and not yet swept (a small range of the sweeps' own indexes); the expiring and
    overdue lists are ranges of partial indexes, counted up to a limit (common.admin_lists)."""
    desk = scope.desk_of(request)
    if not (desk.is_superuser or desk.staff):
        return {}
    now = timezone.now()
    today = timezone.localdate(now)
    point = desk.point
    visible = scope.cards_visible_to(desk).order_by()
    board: dict[str, Any] = {"point": point, "now": now}

    by_state = counts_in_force(desk, visible, now)
    board["states"] = [
        {"state": s, "label": s.label, "count": by_state.get(s, 0), "url": changelist_url(state=s)}
        for s in CardStatus
    ]
    board["total"] = sum(by_state.values())

    expiring = (
        selectors.with_effective_status(visible.filter(expiring_today_q(desk, now)), now=now)
        .select_related("applicant")
        .order_by("written_report_expires_at", "phone_report_expires_at", "pk")
    )
    board["expiring"] = [
        {
            "card": card,
            "holder": card.applicant.name_masked,
            "deadline": live_deadline(card, now),
            "left": countdown(live_deadline(card, now), now),
        }
        for card in expiring[:EXPIRING_SHOWN]
    ]
    board["expiring_count"], board["expiring_more"] = bounded_count(expiring)
    board["expiring_url"] = changelist_url(deadline="expiring_today")

    if desk.is_supervisor:
        overdue = []
        point_id = None if desk.is_superuser else desk.point_id
        for name, label in OVERDUE_LISTS:
            queryset = selectors.overdue_list(name, point_id=point_id)
            if point_id is None and not desk.is_superuser:
                queryset = queryset.filter(pk__in=visible.values("pk"))
            rows = list(queryset[:OVERDUE_SHOWN])
            count, more = bounded_count(queryset)
            overdue.append(
                {
                    "label": label,
                    "rows": rows,
                    "count": count,
                    "more": more,
                    "url": changelist_url(deadline=name),
                }
            )
        board["overdue"] = overdue
        flagged = OverdueCount.objects.filter(day__gt=today - datetime.timedelta(days=7))
        flagged = flagged.filter(service_point=point) if point else flagged
        days = [today - datetime.timedelta(days=n) for n in range(6, -1, -1)]
        table: dict[str, dict[datetime.date, int]] = {}
        for row in flagged.values_list("kind", "day", "count"):
            bucket = table.setdefault(row[0], {})
            bucket[row[1]] = bucket.get(row[1], 0) + row[2]
        board["flag_days"] = days
        board["flags"] = [
            {"label": OverdueKind(kind).label, "counts": [table[kind].get(d, 0) for d in days]}
            for kind in OverdueKind.values
            if kind in table
        ]

    start = today - datetime.timedelta(days=29)
    applications = Card.objects.filter(service_point=point) if point else visible
    per_day = counts.daily_counts(desk.counter_key, start, today, applications)
    peak = max(per_day.values(), default=0)
    here = {"here": "applied"} if point else {}
    board["bars"] = [
        Bar(
            day=day,
            count=per_day.get(day, 0),
            percent=round(100 * per_day.get(day, 0) / peak) if peak else 0,
            url=changelist_url(applied_on=day.isoformat(), **here),
        )
        for day in (start + datetime.timedelta(days=n) for n in range(30))
    ]
    board["bars_peak"] = peak
    board["bars_total"] = sum(per_day.values())
    return board


def counts_in_force(desk, visible, now: datetime.datetime) -> dict[str, int]:
    """The desk's cards by state in force: the kept counts by stored state, less the loss reports
    whose deadline has passed and that the sweep has not written yet, which count as issued
    (a lapsed phone report) or cancelled (an expired written report). Those are read from the
    sweeps' partial indexes, a range as long as the sweep's backlog."""
    stored = counts.state_counts(desk.counter_key, visible)
    due = (
        visible.filter(
            Q(status=S.PHONE_REPORTED_LOST, phone_report_expires_at__lte=now)
            | Q(status=S.WRITTEN_LOST, written_report_expires_at__lte=now)
            | Q(status=S.READY_FOR_COLLECTION, uncollected_cancels_at__lte=now)
        )
        .values("status")
        .annotate(n=Count("pk"))
    )
    in_force = dict(stored)
    for row in due:
        moved_to = S.ISSUED if row["status"] == S.PHONE_REPORTED_LOST else S.CANCELLED
        in_force[row["status"]] = in_force.get(row["status"], 0) - row["n"]
        in_force[moved_to] = in_force.get(moved_to, 0) + row["n"]
    return {state: n for state, n in in_force.items() if n}


# --- The views, mixed into CardAdmin ---------------------------------------------------------


class CounterViews:
    """Custom URLs of the Card admin. Each finds the card in the clerk's scope or answers 404."""

    def get_urls(self):
        wrap = self.admin_site.admin_view
        info = "cards_card"
        return [
            path("counter/", wrap(self.counter_view), name=f"{info}_counter"),
            path("counter/visit/", wrap(self.visit_view), name=f"{info}_visit"),
            path("counter/new-person/", wrap(self.new_person_view), name=f"{info}_new_person"),
            path("counter/apply/", wrap(self.apply_view), name=f"{info}_apply"),
            path("counter/employment/", wrap(self.employment_view), name=f"{info}_employment"),
            path(
                "counter/issue-on-the-spot/",
                wrap(self.issue_on_the_spot_view),
                name=f"{info}_issue_on_the_spot",
            ),
            path(
                "<path:object_id>/do/<str:name>/",
                wrap(self.transition_view),
                name=f"{info}_transition",
            ),
            path("<path:object_id>/reveal/", wrap(self.reveal_view), name=f"{info}_reveal"),
            path("<path:object_id>/receipt/", wrap(self.receipt_view), name=f"{info}_receipt"),
            path(
                "<path:object_id>/certificate/",
                wrap(self.certificate_view),
                name=f"{info}_certificate",
            ),
            *super().get_urls(),
        ]

    def _context(self, request: HttpRequest, title: str, **extra: Any) -> dict[str, Any]:
        return {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": title,
            **extra,
        }

    def _visible_card(self, request: HttpRequest, object_id: str) -> Card:
        try:
            return self.get_queryset(request).get(pk=int(unquote(object_id)))
        except (Card.DoesNotExist, ValueError):
            raise Http404(_("No such card here.")) from None

    # --- Search, and the visit screen it opens --

    def counter_view(self, request: HttpRequest) -> HttpResponse:
        """Find a person by the exact ID number, a card by its receipt or card number: either
        opens the person's visit screen. A malformed number is refused with its rule, and a new
        person is offered only for a valid document number of a type it may be."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = CounterSearchForm(request.POST if request.method == "POST" else None)
        found = None
        new_person_form = None
        refusals: list[str] = []
        if request.method == "POST" and form.is_valid():  # a malformed number stops here
            desk = scope.desk_of(request)
            found = counter_find(desk, form.cleaned_data["q"])
            holder = found.person
            # The person whose exact document number was searched (for the hotline too, which
            # is shown no more of them than their cards it may report).
            searched = holder or (
                found.desk_cards[0].applicant
                if found.key.is_document and found.desk_cards
                else None
            )
            if holder is None and found.cards and not desk.is_hotline:
                # A receipt or card number: the holder of the card(s) found, one person.
                holders = {card.applicant_id for card in found.cards}
                holder = found.cards[0].applicant if len(holders) == 1 else None
            _remember(
                request,
                person_id=(searched or holder).pk if (searched or holder) else None,
                desk_ids=[card.pk for card in found.desk_cards],
                id_presented=searched is not None,
                receipt_ids=tuple(c.pk for c in found.cards)
                if found.key.kind == SearchKind.RECEIPT
                else (),
            )
            nobody = holder is None and not found.cards and not found.desk_cards
            if nobody and found.key.is_document and desk.takes_applications:
                types, refusals = registrable_types(found.key)
                if types:
                    _remember_new_document(request, found.key.value)
                    new_person_form = RegistrationForm(
                        initial={"id_number": found.query, "id_type": types[0]},
                        id_types=types,
                        point=desk.point,
                    )
            return self._render_counter(
                request, form, found, new_person_form, holder=holder, refusals=refusals
            )
        return self._render_counter(request, form, None, None)

    def visit_view(self, request: HttpRequest) -> HttpResponse:
        """The visit screen of the person found at this desk (the session's), again: where every
        act of the visit returns."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        recalled = _recalled(request)
        person = (
            Applicant.objects.filter(pk=recalled["person"]).first()
            if recalled.get("person")
            else None
        )
        if person is None:
            return HttpResponseRedirect(reverse("admin:cards_card_counter"))
        desk = scope.desk_of(request)
        cards, desk_cards = person_cards(desk, person, by_document=bool(recalled["id_presented"]))
        if not cards and not desk_cards and not desk.takes_applications:
            return HttpResponseRedirect(reverse("admin:cards_card_counter"))
        visit = visit_build(
            desk,
            person=person if desk.takes_applications or desk.is_superuser else None,
            cards=cards,
            desk_cards=desk_cards,
            id_presented=bool(recalled["id_presented"]),
            holder=person,
        )
        context = self._context(
            request,
            _("Visit"),
            form=CounterSearchForm(),
            visit=visit,
            found=None,
            cards=[],
            desk_cards=[],
            person=None,
            new_person_form=None,
        )
        return render(request, "admin/cards/counter.html", context)

    def _render_counter(
        self, request, form, found, new_person_form, *, holder=None, refusals=()
    ) -> HttpResponse:
        person = found.person if found else None
        desk = scope.desk_of(request)
        visit = None
        if found is not None and (holder is not None or found.cards or found.desk_cards):
            visit = visit_build(
                desk,
                person=holder if (desk.takes_applications or desk.is_superuser) else None,
                cards=found.cards,
                desk_cards=found.desk_cards,
                id_presented=(found.person is not None or bool(found.desk_cards))
                and found.key.is_document,
                holder=holder or (found.desk_cards[0].applicant if found.desk_cards else None),
            )
        context = self._context(
            request,
            _("Counter: find a person or a card"),
            form=form,
            found=found,
            visit=visit,
            cards=[self._card_row(card) for card in found.cards] if found else [],
            desk_cards=[self._desk_row(request, card) for card in found.desk_cards]
            if found
            else [],
            person=self._person_block(request, person) if person else None,
            new_person_form=new_person_form,
            registration_refusals=refusals,
        )
        return render(request, "admin/cards/counter.html", context)

    def _card_row(self, card: Card) -> dict[str, Any]:
        return {
            "card": card,
            "state": CardStatus(card.status_at()).label,
            "holder": card.applicant.name_masked,
            "id_number": card.applicant.id_number_masked,
            "url": _change_url(card),
        }

    def _desk_row(self, request, card: Card) -> dict[str, Any]:
        actor = scope.desk_of(request).actor
        allowed = [
            name
            for name in scope.transitions_allowed_now(card, actor)
            if name in scope.DESK_TRANSITIONS
        ]
        return {
            "card": card,
            "state": CardStatus(card.status_at()).label,
            "holder": card.applicant.name_masked,
            "id_number": card.applicant.id_number_masked,
            "actions": [
                {
                    "label": TRANSITION_FORMS[name].title,
                    "url": reverse("admin:cards_card_transition", args=[card.pk, name]),
                }
                for name in allowed
            ],
        }

    def _person_block(self, request, person: Applicant) -> dict[str, Any]:
        desk = scope.desk_of(request)
        point = desk.point
        card_types = POINT_KIND_CARD_TYPES.get(point.kind, frozenset()) if point else CardType
        live = {
            card.card_type: card
            for card in person.cards.filter(status__in=LIVE_STATES).order_by("applied_at")
        }
        answers = []
        for card_type in CardType:
            if card_type not in card_types:
                continue
            answer = applicant_card_eligibility(person, card_type, point=point)
            answers.append(
                {
                    "card_type": card_type.label,
                    "eligible": bool(answer) and card_type not in live,
                    "reasons": [r.message for r in answer.reasons],
                    "has_live_card": card_type in live,
                }
            )
        return {
            "applicant": person,
            "name": person.name_masked,
            "id_number": person.id_number_masked,
            "id_type": person.get_id_type_display(),
            "answers": answers,
            "can_apply": desk.takes_applications,
            "apply_url": reverse("admin:cards_card_apply"),
        }

    # --- A new person (registered, enrolled and applied for in one form), a new application --

    @staticmethod
    def _require_counter(request: HttpRequest) -> None:
        if not scope.desk_of(request).takes_applications:
            raise PermissionDenied(_("Applications are not taken at your workplace."))

    def new_person_view(self, request: HttpRequest) -> HttpResponse:
        """Register a person, enrol them in the insurances ticked and take their application, in
        one form and one transaction: each step through its own service, all or nothing."""
        self._require_counter(request)
        if request.method != "POST":
            return HttpResponseRedirect(reverse("admin:cards_card_counter"))
        desk = scope.desk_of(request)
        actor = _actor_or_403(request)
        number = request.POST.get("id_number", "")
        refusal: list[str] = []
        try:
            key = parse_search(number)
        except ValidationError as exc:
            key, refusal = None, exc.messages
        types: list[str] = []
        if key is not None and key.is_document:
            types, refusal = registrable_types(key)
        form = RegistrationForm(request.POST, id_types=types, point=desk.point)
        if not types:
            form.add_error(
                None,
                " ".join([_("Registration needs a valid document number of its type."), *refusal]),
            )
        elif form.is_valid() and not _searched_new_document(request, key.value):
            # The number is shown read-only, not typed: another number posted was never searched,
            # so no document was presented for it (the visit would record one).
            form.add_error(
                "id_number",
                _("Register the number searched at the counter: search again for another number."),
            )
        elif form.is_valid():
            try:
                with transaction.atomic():  # the person, their insurances and the card, or none
                    person = form.create(actor=actor)
                    scope.person_seen_at_desk(desk, person, reason=PointPersonReason.REGISTERED)
                    form.enrol(person, actor=actor)
                    card = form.submit(actor=actor, applicant=person)
            except (ApplicationError, ValidationError) as exc:
                add_refusal(form, exc)
            else:
                _remember(request, person_id=person.pk, desk_ids=[], id_presented=True)
                if card is None:
                    messages.success(request, _("The person is registered."))
                else:
                    self._say_applied(request, card)
                return HttpResponseRedirect(_visit_url())
        search = CounterSearchForm(initial={"q": number})
        return self._render_counter(request, search, None, form)

    @staticmethod
    def _say_applied(request: HttpRequest, card: Card) -> None:
        messages.success(
            request,
            format_html(
                "{} {}",
                _("Application taken: receipt number %(receipt)s.")
                % {"receipt": card.receipt_number_display},
                print_link(
                    reverse("admin:cards_card_receipt", args=[card.pk]),
                    _("Print the application receipt"),
                ),
            ),
        )

    def _found_person(self, request: HttpRequest) -> Applicant | None:
        person_id = _recalled(request).get("person")
        return Applicant.objects.filter(pk=person_id).first() if person_id else None

    def apply_view(self, request: HttpRequest) -> HttpResponse:
        """Take an application for the person found at this counter; the eligibility answer is
        on the page before anything is submitted."""
        self._require_counter(request)
        person = self._found_person(request)
        if person is None:
            messages.info(request, _("Find the person first: enter their ID number."))
            return HttpResponseRedirect(reverse("admin:cards_card_counter"))
        actor = _actor_or_403(request)
        point = scope.desk_of(request).point
        initial = {}
        if request.GET.get("card_type") in CardType.values:
            initial["card_type"] = request.GET["card_type"]
        form = ApplicationForm(
            request.POST if request.method == "POST" else None,
            point=point,
            applicant=person,
            initial=initial,
        )
        if request.method == "POST" and form.is_valid():
            try:
                card = form.submit(actor=actor)
            except ApplicationError as exc:
                add_refusal(form, exc)
            else:
                self._say_applied(request, card)
                return HttpResponseRedirect(_change_url(card))
        context = self._context(
            request,
            _("New application"),
            form=form,
            person=self._person_block(request, person),
            point=point,
            documents=documents_for(point.kind if point else None, T.SUBMIT),
        )
        return render(request, "admin/cards/apply.html", context)

    def issue_on_the_spot_view(self, request: HttpRequest) -> HttpResponse:
        """A county medical insurance center settles a medical insurance card on the spot: apply,
        verify against the registry and issue, one confirmation; each step through its own
        service, in one transaction (a refused issue leaves no application behind). A registry
        that differs rejects the application as verification always does, and nothing is
        issued."""
        self._require_counter(request)
        desk = scope.desk_of(request)
        if desk.point.kind != ServicePointKind.COUNTY_MEDICAL_CENTER:
            raise PermissionDenied(_("Cards are issued on the spot only at a county center."))
        person = self._found_person(request)
        if person is None:
            messages.info(request, _("Find the person first: enter their ID number."))
            return HttpResponseRedirect(reverse("admin:cards_card_counter"))
        actor = _actor_or_403(request)
        form = IssueOnTheSpotVisitForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            try:
                with transaction.atomic():
                    card = services.card_submit(
                        applicant=person, card_type=CardType.MEDICAL_INSURANCE, actor=actor
                    )
                    card = services.card_verify(card=card, actor=actor)
                    if card.status == S.VERIFIED:
                        card = services.card_issue_on_the_spot(
                            card=card, actor=actor, card_number=form.cleaned_data["card_number"]
                        )
            except ApplicationError as exc:
                add_refusal(form, exc)
            else:
                if card.status == S.ISSUED:
                    messages.success(
                        request,
                        _("The medical insurance card %(number)s is issued: hand it over now.")
                        % {"number": card.card_number},
                    )
                else:
                    messages.warning(
                        request,
                        _(
                            "The form differs from the municipal registry: the application is "
                            "rejected and no card was issued."
                        ),
                    )
                return HttpResponseRedirect(_visit_url())
        context = self._context(
            request,
            _("Apply, verify and issue on the spot"),
            form=form,
            person=self._person_block(request, person),
            point=desk.point,
            comparison=registry_comparison(person),
            documents=documents_for(desk.point.kind, T.ISSUE_ON_THE_SPOT),
            button=_("Apply, verify and issue"),
        )
        return render(request, "admin/cards/apply.html", context)

    def employment_view(self, request: HttpRequest) -> HttpResponse:
        """Record the employment that insures the person found through an employer (a person
        without Shanghai household registration is insured only so): the employer, the
        employment and its enrolments in one transaction, then back to the visit, where the
        eligibility is asked again."""
        self._require_counter(request)
        person = self._found_person(request)
        if person is None:
            messages.info(request, _("Find the person first: enter their ID number."))
            return HttpResponseRedirect(reverse("admin:cards_card_counter"))
        form = EmploymentVisitForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            try:
                with transaction.atomic():
                    form.save(person)
            except (ApplicationError, ValidationError) as exc:
                add_refusal(form, exc)
            else:
                messages.success(request, _("The employment and its insurances are recorded."))
                return HttpResponseRedirect(_visit_url())
        context = self._context(
            request,
            _("Record an employment"),
            form=form,
            person=self._person_block(request, person),
            point=scope.desk_of(request).point,
            button=_("Record the employment"),
        )
        return render(request, "admin/cards/apply.html", context)

    # --- Transitions --

    def transition_view(self, request: HttpRequest, object_id: str, name: str) -> HttpResponse:
        """One transition: GET shows its form and the documents to check, POST calls its service.

        The card must be in the clerk's scope, or be a card of the person found at this counter
        by their exact ID number for a transition any counter may do (scope.DESK_TRANSITIONS).
        What the visit's search presented (the holder's document, the receipt) is not asked
        again; the log records where it came from."""
        form_class = TRANSITION_FORMS.get(name)
        if form_class is None:
            raise Http404
        try:
            pk = int(unquote(object_id))
        except ValueError:
            raise Http404 from None
        desk = scope.desk_of(request)
        card = scope.card_visible_to(desk, pk)
        via_desk = False
        if card is None and name in scope.DESK_TRANSITIONS:
            card = _desk_card(request, pk)
            via_desk = card is not None
        if card is None:
            raise Http404(_("No such card here."))
        actor = _actor_or_403(request)
        current = scope.card_in_force(card)
        back_to_visit = request.GET.get("next") == VISIT_NEXT
        if not actor_may(current, actor, name):
            raise PermissionDenied(_("You may not do this here, or not to this card."))
        if name not in scope.transitions_allowed_now(card, actor):
            messages.error(
                request,
                _("Not allowed now for a card in the state %(state)s.")
                % {"state": CardStatus(current.status).label},
            )
            if back_to_visit:
                return HttpResponseRedirect(_visit_url())
            return HttpResponseRedirect(
                _change_url(card) if not via_desk else reverse("admin:cards_card_counter")
            )
        form = form_class(
            request.POST if request.method == "POST" else None,
            card=card,
            presented=presented_for(request, card),
        )
        if request.method == "POST" and form.is_valid():
            try:
                result = form.perform(actor=actor)
            except ApplicationError as exc:
                add_refusal(form, exc)
            else:
                self._say_done(request, name, card, result)
                if scope.card_visible_to(desk, result.pk) is None:  # the hotline
                    return HttpResponseRedirect(reverse("admin:cards_card_counter"))
                if back_to_visit:
                    return HttpResponseRedirect(_visit_url())
                return HttpResponseRedirect(_change_url(result))
        context = self._context(
            request,
            str(form.title),
            form=form,
            card=card,
            card_state=CardStatus(current.status).label,
            holder=card.applicant.name_masked,
            holder_id=card.applicant.id_number_masked,
            via_desk=via_desk,
            back_url=_visit_url()
            if back_to_visit
            else (reverse("admin:cards_card_counter") if via_desk else _change_url(card)),
            comparison=registry_comparison(card.applicant) if name == T.VERIFY else None,
            deadline_left=countdown(live_deadline(card)),
            state_words=state_in_words(card),
            documents=documents_for(desk.point.kind if desk.point else None, name)
            or form.documents,
            media=self.media + form.media,
        )
        return render(request, "admin/cards/transition.html", context)

    @staticmethod
    def _say_done(request: HttpRequest, name: str, before: Card, result: Card) -> None:
        if name == T.VERIFY and result.status == S.REJECTED:
            messages.warning(
                request,
                _("The form differs from the municipal registry: the application is rejected."),
            )
            return
        if name == T.REPORT_LOST_IN_WRITING:
            old = result.replaces if result.pk != before.pk else result
            certificate = reverse("admin:cards_card_certificate", args=[old.pk])
            text = _("Written loss report taken: certificate %(number)s.") % {
                "number": old.loss_certificate_number
            }
            if result.pk != before.pk:
                text += " " + _("A replacement was applied for: receipt number %(receipt)s.") % {
                    "receipt": result.receipt_number_display
                }
                link = print_link(certificate, _("Print the certificate and the new receipt"))
            else:
                link = print_link(certificate, _("Print the certificate"))
            messages.success(request, format_html("{} {}", text, link))
            return
        if name == T.REPORT_LOST_BY_PHONE:
            messages.success(
                request,
                _(
                    "Phone report recorded. It lapses at %(deadline)s unless the holder makes a "
                    "written report at a service center before then."
                )
                % {"deadline": _when(result.phone_report_expires_at)},
            )
            return
        if name == T.REPLACE:
            messages.success(
                request,
                format_html(
                    "{} {}",
                    _("The card is replaced; the new card's receipt number is %(receipt)s.")
                    % {"receipt": result.receipt_number_display},
                    print_link(
                        reverse("admin:cards_card_receipt", args=[result.pk]),
                        _("Print the new card's receipt"),
                    ),
                ),
            )
            return
        messages.success(
            request,
            _("Done: %(transition)s. The card is now: %(state)s.")
            % {
                "transition": TransitionName(name).label,
                "state": CardStatus(result.status).label,
            },
        )

    # --- Reveal, print --

    def reveal_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        card = self._visible_card(request, object_id)
        if request.method == "POST":
            record_reveal(request, applicant=card.applicant, card=card)
        return HttpResponseRedirect(_change_url(card))

    def _receipt_context(self, card: Card) -> dict[str, Any]:
        status_url = status_page_url(card)
        qr = segno.make(status_url, error="m")
        return {
            "card": card,
            "holder": card.applicant,
            "holder_id": card.applicant.id_number_masked,
            "qr_svg": mark_safe(qr.svg_inline(scale=4, title=status_url)),  # noqa: S308
            "status_url": status_url,
            "collect": collection_advice(card),
            **receipt_functions(card),  # issue #17: fee, social security number
        }

    def receipt_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        card = self._visible_card(request, object_id)
        context = {
            **self._receipt_context(card),
            "printed_at": timezone.now(),
            "change_url": _change_url(card),
        }
        return render(request, "cards/receipt.html", context)

    def certificate_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The loss-report certificate; when a replacement was taken in the same step, the new
        card's receipt follows on its own sheet, so one print gives the holder both papers."""
        card = self._visible_card(request, object_id)
        if not card.loss_certificate_number:
            raise Http404(_("This card has no written loss report."))
        report = card.transitions.filter(name=T.REPORT_LOST_IN_WRITING).select_related(
            "service_point"
        )
        report = report.order_by("-id").first()
        replacement = Card.objects.filter(replaces=card).select_related("applicant").first()
        if replacement is not None and scope.card_visible_to(
            scope.desk_of(request), replacement.pk
        ):
            new_receipt = self._receipt_context(replacement)
        else:
            new_receipt = None
        context = {
            "card": card,
            "holder": card.applicant,
            "holder_id": card.applicant.id_number_masked,
            "report": report,
            "replacement": replacement,
            "new_receipt": new_receipt,
            "status_url": status_page_url(card),
            "printed_at": timezone.now(),
            "change_url": _change_url(card),
        }
        return render(request, "cards/certificate.html", context)


def registry_comparison(applicant: Applicant) -> dict[str, Any]:
    """The registration form beside the registry record, field by field."""
    try:
        entry = get_registry().lookup(applicant.id_type, applicant.id_number)
    except RegistryUnavailable:
        return {"found": False, "rows": [], "differs": True, "unavailable": True}
    if entry is None:
        return {"found": False, "rows": [], "differs": True}
    form = {field: getattr(applicant, field) for field in COMPARED_FIELDS}
    differing = {d.field for d in compare_with_registry(form, entry)}
    labels = {f.name: f.verbose_name for f in Applicant._meta.fields}
    rows = []
    for field in COMPARED_FIELDS:
        form_value, registry_value = form[field], getattr(entry, field)
        if field == "name":  # the names, masked like everywhere else, unless they differ
            shown = (form_value, registry_value) if field in differing else None
            form_value, registry_value = shown or (mask_name(form_value),) * 2
        rows.append(
            {
                "label": labels.get(field, field),
                "form": _display_value(field, form_value),
                "registry": _display_value(field, registry_value),
                "differs": field in differing,
            }
        )
    return {"found": True, "rows": rows, "differs": bool(differing)}


def _display_value(field: str, value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if field == "sex":
        from applicants.choices import Sex

        return Sex(value).label if value in Sex.values else str(value)
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value)


def collection_advice(card: Card) -> list[str]:
    """What the holder brings to collect the card, and where and when."""
    point = card.collection_point
    bring = [
        _("Your original identity document and this receipt."),
        _("An entrusted agent brings their own identity document and yours."),
    ]
    if card.card_type == CardType.SOCIAL_SECURITY:
        where = _(
            "Collect the card at %(point)s, %(address)s, when it is ready (about half a year); "
            "follow the status online with the QR code."
        ) % {"point": point.name, "address": point.address}
    elif point.kind == ServicePointKind.STREET_MEDICAL_POINT:
        where = _(
            "Collect the card at %(point)s, %(address)s: it is completed within 3 working days "
            "after verification."
        ) % {"point": point.name, "address": point.address}
        if card.ready_promised_by:
            where += " " + _("Promised ready by %(day)s.") % {
                "day": card.ready_promised_by.isoformat()
            }
        days = rules.for_card(card).street_collection_days
        if card.collect_by:
            where += " " + _("Collect it by %(day)s.") % {"day": card.collect_by.isoformat()}
        elif days is not None:
            where += " " + ngettext(
                "Collect it within %(days)s day of its being ready.",
                "Collect it within %(days)s days of its being ready.",
                days,
            ) % {"days": days}
    else:
        where = _("The card is issued on the spot at %(point)s, %(address)s.") % {
            "point": point.name,
            "address": point.address,
        }
    return [where, *bring]
