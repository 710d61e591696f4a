"""The clerk admin for cards: lists, the card page with one button per transition allowed now,
the counter's search and application pages, printing, and the dashboard on the admin index.

Nothing here changes a card directly: the card admin is view-only, and every button opens a form
that calls one service (cards/counter/views.py, cards/counter/forms.py). What a user sees is
filtered by cards/counter/scope.py on every list, page, action and URL.
"""

from __future__ import annotations

import datetime

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.admin.views.main import ORDER_VAR, ChangeList
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from cards import selectors
from cards.choices import ActorKind, CardStatus, Channel, IdSource, OnlineCheck, TransitionName
from cards.counter import scope
from cards.counter.forms import TRANSITION_FORMS
from cards.counter.functions import functions_panel
from cards.counter.views import (
    OVERDUE_LISTS,
    CounterViews,
    countdown,
    expiring_today_q,
    live_deadline,
    state_in_words,
    take_revealed,
)
from cards.events import open_log_data
from cards.models import (
    Card,
    CardCenterNotice,
    CardCenterReceipt,
    CardTransition,
    OutboxEvent,
)
from common.admin import OutOfScopeIs404, ReadOnly
from common.admin_lists import (
    CITY_LIST_PAGE,
    BoundedPaginator,
    CityLogAdmin,
    ExactIdSearch,
    NoSearchInUrl,
    PostedSearch,
)
from common.masking import mask_address, mask_id_number, mask_name, mask_phone

S = CardStatus
T = TransitionName

admin.site.site_header = _("Shanghai social security cards")
admin.site.site_title = _("Social security card back office")
admin.site.index_title = _("Today at the counter")
admin.site.index_template = "admin/cards/index.html"
admin.site.site_url = None  # no public site to "view" from the back office
admin.site.enable_nav_sidebar = False  # the counter needs the width; the header has the links


class ReadOnlyAdmin(ReadOnly, admin.ModelAdmin):
    pass


# --- Filters ----------------------------------------------------------------------------------


class StateFilter(admin.SimpleListFilter):
    """The state in force: a report whose deadline passed counts as lapsed or cancelled."""

    title = _("state in force")
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return CardStatus.choices

    def queryset(self, request, queryset):
        if self.value() in CardStatus.values:
            return queryset.filter(scope.effective_state_q(self.value()))
        return queryset


class DeadlineFilter(admin.SimpleListFilter):
    title = _("deadline")
    parameter_name = "deadline"

    def lookups(self, request, model_admin):
        # The overdue lists for everyone who sees cards: a supervisor's link followed by a clerk
        # lands on the same list of the clerk's own scope, never silently on every card.
        return [
            ("expiring_today", _("Loss report expires today")),
            ("phone_report_live", _("Phone report still live")),
            ("written_report_week", _("Written report expires within 7 days")),
            ("promised", _("Promised ready by a date")),
            *OVERDUE_LISTS,
        ]

    def queryset(self, request, queryset):
        now = timezone.now()
        value = self.value()
        desk = scope.desk_of(request)
        if value == "expiring_today":
            return queryset.filter(expiring_today_q(desk, now))
        if value == "phone_report_live":
            return queryset.filter(scope.live_loss_report_q(desk, now, state=S.PHONE_REPORTED_LOST))
        if value == "written_report_week":
            return queryset.filter(
                scope.live_loss_report_q(
                    desk,
                    now,
                    state=S.WRITTEN_LOST,
                    until=now + datetime.timedelta(days=7),
                    until_inclusive=True,
                )
            )
        if value == "promised":
            return queryset.filter(status=S.VERIFIED, ready_promised_by__isnull=False)
        if value in dict(OVERDUE_LISTS):
            # The list's own condition on the card (its partial index serves it), not the ids
            # of the list: the planner then reads the city's overdue cards in the list's order.
            queryset = queryset.filter(selectors.overdue_q(value, now=now))
            if desk.point_id is not None and not desk.is_superuser:
                queryset = queryset.filter(**{selectors.OVERDUE_POINT_FIELD[value]: desk.point_id})
            return queryset
        return queryset


class AppliedOnFilter(admin.SimpleListFilter):
    """Applied today, in the last 7 or 30 days, or on one day (the dashboard's chart links)."""

    title = _("applied")
    parameter_name = "applied_on"

    def lookups(self, request, model_admin):
        return [
            ("today", _("Today")),
            ("7d", _("Last 7 days")),
            ("30d", _("Last 30 days")),
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if not value:
            return queryset
        # A point's list reads its link rows' (point, applied_at, card) index, as it is ordered.
        field = scope.applied_at_field(scope.desk_of(request))
        today = timezone.localdate()
        days = {"today": 1, "7d": 7, "30d": 30}
        if value in days:
            return queryset.filter(**{f"{field}__gte": _start_of(today - _days(days[value] - 1))})
        try:
            day = datetime.date.fromisoformat(value)
            start, end = _start_of(day), _start_of(day + _days(1))
        except (ValueError, OverflowError):
            # A link typed or cut by hand: say so, and list nothing rather than every card.
            messages.error(
                request,
                _("“%(filter)s”: “%(value)s” is not a day (YYYY-MM-DD, up to 9999-12-30).")
                % {"filter": self.title, "value": value},
            )
            return queryset.none()
        return queryset.filter(**{f"{field}__gte": start, f"{field}__lt": end})


def _days(n: int) -> datetime.timedelta:
    return datetime.timedelta(days=n)


def _start_of(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


class HereFilter(admin.SimpleListFilter):
    """Which of the point's work: applications taken here, cards to collect here, loss reports
    taken here."""

    title = _("work of this point")
    parameter_name = "here"

    def lookups(self, request, model_admin):
        if scope.desk_of(request).point is None:
            return []
        return [
            ("applied", _("Applications taken here")),
            ("collect", _("Cards to be collected here")),
            ("loss", _("Loss reports taken here")),
        ]

    def queryset(self, request, queryset):
        # The desk's own link row (scope.HERE) says which of the point's work a card is.
        if scope.desk_of(request).point is None:
            return queryset
        match self.value():
            case "applied":
                return queryset.filter(**{f"{scope.HERE}_applied_here": True})
            case "collect":
                return queryset.filter(**{f"{scope.HERE}_collect_here": True})
            case "loss":
                return queryset.filter(**{f"{scope.HERE}_loss_report_here": True})
        return queryset


# --- The card admin ----------------------------------------------------------------------------


class CardChangeList(ChangeList):
    """The card list in an order an index serves, newest application first: for a service point
    its link rows' (point, applied_at, card) index, read in order and stopped at the page; for a
    bank (bank, applied_at, id); for the city (applied_at, id). Sorted by bank, the same with
    the bank first. Every key runs in one direction, so the index is read forwards or backwards
    and never sorted."""

    def get_ordering(self, request, queryset):
        applied_at = scope.applied_at_field(scope.desk_of(request))
        prefix = applied_at.removesuffix("applied_at")
        keys = [applied_at, "pk"]
        descending = True
        order = self.params.get(ORDER_VAR, "").split(".")[0]
        if order:
            try:
                column = self.list_display[int(order.lstrip("-"))]
            except (IndexError, ValueError):
                column = None
            if column == "bank_code":
                keys = [f"{prefix}bank_id", *keys]
                descending = order.startswith("-")
            elif column == "applied_when":
                descending = order.startswith("-")
        sign = "-" if descending else ""
        return [f"{sign}{key}" for key in keys]


@admin.register(Card)
class CardAdmin(NoSearchInUrl, CounterViews, OutOfScopeIs404, ReadOnlyAdmin):
    list_display = (
        "receipt",
        "card_type",
        "state_in_force",
        "holder",
        "holder_id",
        "bank_code",
        "applied_here",
        "collect_at",
        "applied_when",
        "next_deadline",
    )
    list_display_links = ("receipt",)
    list_filter = (
        StateFilter,
        "card_type",
        "channel",
        "bank",
        DeadlineFilter,
        AppliedOnFilter,
        HereFilter,
    )
    list_select_related = ("applicant", "bank", "service_point", "collection_point")
    list_per_page = CITY_LIST_PAGE
    show_full_result_count = False  # no second COUNT over every card on each page
    show_facets = admin.ShowFacets.NEVER  # facet counts are one COUNT per filter choice
    paginator = BoundedPaginator  # the filtered count stops at a thousand
    # No search here: a number is posted to the counter (never in a URL), which does the one
    # exact lookup for the kind of number typed (cards/counter/search.py).
    search_fields = ()
    sortable_by = ("applied_when", "bank_code")  # the orders an index serves (CardChangeList)
    actions = None
    fields = ("card_type",)  # the page is ours (change_form.html); nothing is editable

    def get_queryset(self, request):
        visible = scope.cards_visible_to(scope.desk_of(request))
        return selectors.with_effective_status(visible).select_related(*self.list_select_related)

    def get_changelist(self, request, **kwargs):
        return CardChangeList

    def changelist_view(self, request, extra_context=None):
        """The list a link names is said above it (an overdue list, a day of the chart...)."""
        named = dict(DeadlineFilter.lookups(DeadlineFilter, request, self))
        shown = named.get(request.GET.get("deadline", ""))
        extra_context = {**(extra_context or {}), "list_named": shown}
        return super().changelist_view(request, extra_context)

    # --- Columns --

    @admin.display(description=_("receipt number"), ordering="receipt_number")
    def receipt(self, card):
        return card.receipt_number_display

    @admin.display(description=_("state in force"), ordering="status")
    def state_in_force(self, card):
        label = CardStatus(card.effective_status).label
        if card.effective_status == S.ISSUED and card.is_expired():
            label = gettext("Expired")  # past the validity its rule set gave it
        return format_html(
            '<span class="card-state state-{}">{}</span>', card.effective_status, label
        )

    @admin.display(description=_("holder"))
    def holder(self, card):
        return card.applicant.name_masked

    @admin.display(description=_("ID number"))
    def holder_id(self, card):
        return card.applicant.id_number_masked

    @admin.display(description=_("bank"), ordering="bank__code")
    def bank_code(self, card):
        return card.bank.code if card.bank_id else "—"

    @admin.display(description=_("applied at"), ordering="service_point__code")
    def applied_here(self, card):
        return format_html(
            '<span title="{}">{}</span>', card.service_point.name, card.service_point.code
        )

    @admin.display(description=_("collect at"), ordering="collection_point__code")
    def collect_at(self, card):
        point = card.collection_point
        return format_html('<span title="{}">{}</span>', point.name, point.code)

    @admin.display(description=_("applied on"), ordering="applied_at")
    def applied_when(self, card):
        return timezone.localtime(card.applied_at).strftime("%Y-%m-%d %H:%M")

    @admin.display(description=_("next deadline"))
    def next_deadline(self, card):
        deadline = live_deadline(card)
        if deadline is not None:
            return format_html(
                '<span class="deadline">{} <small>({})</small></span>',
                timezone.localtime(deadline).strftime("%m-%d %H:%M"),
                countdown(deadline),
            )
        if card.status == S.VERIFIED and card.ready_promised_by:
            return gettext("promised by %(day)s") % {"day": card.ready_promised_by.isoformat()}
        if card.status == S.WRITTEN_LOST and card.written_report_expires_at is None:
            return gettext("no deadline")  # the card's rule set gives the formal report none
        return ""

    # --- The card page --

    def change_view(self, request, object_id, form_url="", extra_context=None):
        card = self.get_object(request, unquote(object_id))  # 404 outside the clerk's scope
        context = {**self.card_page(request, card), **(extra_context or {})}
        return super().change_view(request, object_id, form_url, extra_context=context)

    def card_page(self, request, card: Card) -> dict:
        desk = scope.desk_of(request)
        actor = desk.actor
        applicant = card.applicant
        revealed = take_revealed(request, applicant)
        deadline = live_deadline(card)
        allowed = scope.transitions_allowed_now(card, actor)
        buttons = [
            {
                "name": name,
                "label": TRANSITION_FORMS[name].title,
                "url": reverse("admin:cards_card_transition", args=[card.pk, name]),
                "dangerous": TRANSITION_FORMS[name].dangerous,
            }
            for name in allowed
        ]
        replaces = card.replaces if card.replaces_id else None
        replaced_by = Card.objects.filter(replaces=card).order_by("pk").first()
        links = {
            "replaces": replaces if replaces and scope.card_is_visible(desk, replaces.pk) else None,
            "replaced_by": replaced_by
            if replaced_by and scope.card_is_visible(desk, replaced_by.pk)
            else None,
        }
        applicant_url = None
        if scope.applicant_is_visible(desk, applicant.pk):
            applicant_url = reverse("admin:applicants_applicant_change", args=[applicant.pk])
        try:
            before = int(request.GET.get("history_before", ""))
        except ValueError:
            before = None
        history, older = selectors.card_history_page(card=card, before=before)
        return {
            "card": card,
            "state": card.status_at(),
            "state_label": CardStatus(card.status_at()).label,
            "state_words": state_in_words(card),
            "deadline": deadline,
            "deadline_left": countdown(deadline),
            "holder": {
                "name": mask_name(applicant.name),
                "id_type": applicant.get_id_type_display(),
                "id_number": applicant.id_number if revealed else applicant.id_number_masked,
                "revealed": revealed,
                "phone": mask_phone(applicant.phone),
                "address": mask_address(applicant.address),
                "url": applicant_url,
            },
            "can_reveal": request.user.has_perm("cards.reveal_id_number"),
            "reveal_url": reverse("admin:cards_card_reveal", args=[card.pk]),
            "buttons": buttons,
            "receipt_url": reverse("admin:cards_card_receipt", args=[card.pk]),
            "certificate_url": reverse("admin:cards_card_certificate", args=[card.pk])
            if card.loss_certificate_number
            else None,
            "links": links,
            "agent": {
                "name": mask_name(card.agent_name),
                "id_number": mask_id_number(card.agent_id_number),
            }
            if card.agent_name
            else None,
            "history": [history_row(row) for row in history],
            "history_older_url": f"?history_before={older}" if older else None,
            "history_newest_url": "?" if before is not None else None,
            "online": card.channel not in (Channel.COUNTER, Channel.BANK_OUTLET),
            "functions": functions_panel(request, card),  # issue #17 (cards/counter/functions.py)
        }


def identity_notes(identity: dict | None) -> list[str]:
    """What the clerk checked before the act (cards.services._identity_record), masked."""
    if not identity:
        return []
    notes = [gettext("holder's ID document seen")]
    if identity.get("id_source") == IdSource.PRESENTED_AT_SEARCH:
        notes.append(gettext("its number as searched at this visit"))
    if identity.get("card_presented"):
        notes.append(gettext("card shown"))
    if identity.get("receipt_presented"):
        notes.append(gettext("receipt shown"))
    agent = identity.get("agent")
    if agent:
        notes.append(
            gettext("agent %(name)s, %(number)s")
            % {
                "name": mask_name(agent.get("name")),
                "number": mask_id_number(agent.get("id_number")),
            }
        )
    return notes


def history_row(row) -> dict:
    """One log row as the clerk reads it; the caller's phone and address stay out."""
    if row.actor_kind == ActorKind.USER and row.actor_user_id:
        who = row.actor_user.get_username()
    elif row.actor_kind == ActorKind.BANK and row.bank_id:
        who = row.bank.code
    else:
        who = gettext("System")
    data = open_log_data(row.data)
    notes = []
    if data.get("certificate_number"):
        notes.append(gettext("certificate %(n)s") % {"n": data["certificate_number"]})
    if data.get("card_number"):
        notes.append(gettext("card number %(n)s") % {"n": data["card_number"]})
    if data.get("promised_by"):
        notes.append(gettext("promised by %(day)s") % {"day": data["promised_by"]})
    if data.get("differences"):
        notes.append(
            gettext("fields differ: %(fields)s")
            % {"fields": ", ".join(d.get("field", "") for d in data["differences"])}
        )
    if data.get("contact_phone"):
        notes.append(gettext("contact %(phone)s") % {"phone": mask_phone(data["contact_phone"])})
    if data.get("agent"):
        notes.append(gettext("by an entrusted agent"))
    notes.extend(identity_notes(data.get("identity")))
    for check in data.get("online_checks", ()):
        label = OnlineCheck(check["kind"]).label if check.get("kind") in OnlineCheck.values else ""
        notes.append(
            gettext("%(check)s by %(provider)s, ref. %(reference)s, %(at)s: %(result)s")
            % {
                "check": label,
                "provider": check.get("provider", ""),
                "reference": check.get("reference", ""),
                "at": check.get("verified_at", "")[:16].replace("T", " "),
                "result": check.get("result", ""),
            }
        )
    if data.get("automatic"):
        notes.append(gettext("automatic"))
    return {
        "at": row.at,
        "name": TransitionName(row.name).label if row.name in TransitionName.values else row.name,
        "from": CardStatus(row.from_status).label if row.from_status else "",
        "to": CardStatus(row.to_status).label,
        "who": who,
        "where": row.service_point.code if row.service_point_id else "",
        "where_name": row.service_point.name if row.service_point_id else "",
        "channel": row.get_channel_display(),
        "reason": gettext(row.reason) if row.reason else "",
        "notes": "; ".join(notes),
    }


@admin.register(CardTransition)
class CardTransitionAdmin(CityLogAdmin, ReadOnlyAdmin):
    """The whole city's transition log, newest first, for the auditor (cards.audit_cardtransition).
    Clerks see a card's own history on its page, never this list."""

    list_display = ("id", "at", "card", "name", "from_status", "to_status", "actor_kind")
    list_filter = ("name", "actor_kind", "channel")
    list_select_related = ("card",)
    ordering = ("-id",)
    show_full_result_count = False
    fields = (
        "card",
        "name",
        "from_status",
        "to_status",
        "at",
        "recorded_at",
        "actor_kind",
        "actor_user",
        "bank",
        "service_point",
        "channel",
        "reason",
    )

    def get_queryset(self, request):
        # The personal `data` is not the auditor's, and opening it would look up each holder's
        # data key (crypto-shredding): never read.
        return super().get_queryset(request).defer("data")

    def has_module_permission(self, request):
        return request.user.has_perm("cards.audit_cardtransition")

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("cards.audit_cardtransition")


@admin.register(OutboxEvent)
class OutboxEventAdmin(CityLogAdmin, ReadOnlyAdmin):
    list_display = ("id", "kind", "bank", "created_at", "delivered_at", "attempts")
    list_filter = ("kind", "bank")
    list_select_related = ("bank",)


class DeliveredFilter(admin.SimpleListFilter):
    title = _("delivery")
    parameter_name = "delivered"

    def lookups(self, request, model_admin):
        return (("no", _("Not delivered yet")), ("yes", _("Delivered")))

    def queryset(self, request, queryset):
        if self.value() == "no":
            return queryset.filter(delivered_at__isnull=True)
        if self.value() == "yes":
            return queryset.filter(delivered_at__isnull=False)
        return queryset


@admin.register(CardCenterNotice)
class CardCenterNoticeAdmin(PostedSearch, ExactIdSearch, CityLogAdmin, ReadOnlyAdmin):
    """What has (not yet) reached the municipal information service center, and above the list
    the delivery state of every destination: the center and each bank's webhook."""

    change_list_template = "admin/cards/cardcenternotice/change_list.html"
    list_display = (
        "id",
        "kind",
        "card_type",
        "card_number",
        "bank",
        "at",
        "delivered_at",
        "attempts",
        "next_attempt_at",
        "last_error",
    )
    list_filter = (DeliveredFilter, "kind", "card_type")
    list_select_related = ("bank",)
    search_fields = ("notice_id",)  # exactly (ExactIdSearch); the card number is encrypted
    exact_id_field = "notice_id"
    search_help_text = _("A notice id, exactly.")
    show_full_result_count = False
    ordering = ("-id",)

    def changelist_view(self, request, extra_context=None):
        from cards.cardcenter import notice_backlog
        from cards.webhooks import webhook_backlog

        now = timezone.now()
        rows = [notice_backlog(), *webhook_backlog()]
        for row in rows:
            row["age"] = now - row["oldest"] if row["oldest"] else None
        extra_context = {**(extra_context or {}), "deliveries": rows}
        return super().changelist_view(request, extra_context)


@admin.register(CardCenterReceipt)
class CardCenterReceiptAdmin(PostedSearch, ExactIdSearch, CityLogAdmin, ReadOnlyAdmin):
    """The local card-center backend's inbox (`make run`, tests): what the center received."""

    list_display = ("id", "kind", "card_number", "received_at", "times_received", "notice_id")
    list_filter = ("kind",)
    search_fields = ("notice_id",)  # exactly (ExactIdSearch)
    exact_id_field = "notice_id"
    search_help_text = _("A notice id, exactly.")
    show_full_result_count = False
