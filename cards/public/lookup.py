"""The public status lookup: a citizen's own card, found by ID number and receipt number together,
and what the page says about it (the state in plain language, what has happened, what happens
next). Social Insurance Law art. 4: the right to inquire.

One indexed statement per lookup, match or not: the card by `receipt_number` (unique index)
joined to its holder, whose `id_number` must be the one given (compared through its keyed blind
index, `id_number_bidx`: the number is stored encrypted), with its linked cards (primary key,
unique `replaces`), and in sub-selects its two service points and bank (primary keys) and its
transition log (an index on its card). One row or none. Input that cannot be a
receipt number (the check character fails) or an ID number is known not to match before the
query; the same statement still runs, with an ID number no one has, so that every kind of
mismatch costs the same time and gives the same answer: None.

The statement is written out here rather than built by the ORM each time: compiling the
seven-table queryset cost more than the rest of the request together, on a page that has to stay
close to the cost of a trivial view (bench/status_lookup.py); the sub-selects keep the planner's
join search to four tables. Table and column names come from the models' _meta, rows become model
instances through `Model.from_db`, and the effective state is the model's own rule,
`Card.effective_status` (the Python twin of cards.selectors.with_effective_status): a passed
loss-report deadline counts before the scheduler runs.

Only what the holder may see leaves this module: the masked name, no ID number, phone, address,
card number, staff name or clerk's note; the fields a rejection names, never the registry's values.
"""

from __future__ import annotations

import datetime
import json
import re
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

from django.conf import settings
from django.db import connection
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import get_language, ngettext

from agencies.models import PartnerBank, ServicePoint
from applicants.identity import normalise_id_number
from applicants.models import Applicant, id_number_index
from cards import rules
from cards.choices import (
    REJECTION_BRING,
    CardStatus,
    CardType,
    ElectronicCardStatus,
    FinancialStatus,
    RejectionReason,
    TransitionName,
)
from cards.expiry import EXPIRIES
from cards.models import Card, CardTransition
from cards.numbers import format_receipt_number, is_valid_receipt_number, normalise_receipt_number
from cards.public.hours import opening_hours_for_page
from common.masking import mask_name
from common.prepared import PreparedStatement
from common.translation import gettext as _

S = CardStatus
T = TransitionName
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
# Any identity document number the system stores, normalised (applicants/identity.py).
ID_NUMBER = re.compile(r"^[A-Z0-9]{5,32}$")
RECEIPT_MAX_LENGTH = 16  # the column's length
HOTLINE = "12333"
# The rejection reason cards.services.card_verify writes when the registry has no record. Other
# reasons are a clerk's own words and are not shown.
NO_REGISTRY_RECORD = "No record in the municipal registry."


# --- What the page shows ------------------------------------------------------------------------


@dataclass(frozen=True)
class Place:
    name: str
    address: str
    opening_hours: str
    phone: str


@dataclass(frozen=True)
class Event:
    """One line of the timeline: when (Shanghai time), what, where."""

    at: datetime.datetime
    iso: str
    when: str
    label: str
    place: str


@dataclass(frozen=True)
class Correction:
    """A field the registry check found different, and how to put it right."""

    field: str
    label: str
    advice: str


@dataclass(frozen=True)
class LinkedCard:
    relation: str
    card_type: str
    receipt_number: str
    status: str
    status_label: str


@dataclass
class Guidance:
    """A state's own explanation and next steps."""

    headline: str
    explanation: list[str]
    next_steps: list[str]
    place: Place | None = None
    place_heading: str = ""
    bring: list[str] = field(default_factory=list)
    deadline: str = ""
    deadline_label: str = ""
    corrections: list[Correction] = field(default_factory=list)


@dataclass(frozen=True)
class StatusAnswer:
    card_type: str
    card_type_label: str
    holder: str
    receipt_number: str
    status: str
    status_label: str
    guidance: Guidance
    linked: list[LinkedCard]
    timeline: list[Event]
    # The third-generation card's functions (issue #17): (label, state) pairs, none under seed-2019.
    functions: list[tuple[str, str]] = field(default_factory=list)


# --- The reads ----------------------------------------------------------------------------------

# The card's own columns the page needs, and those of a linked card (to show its effective state).
CARD_FIELDS = frozenset(
    {
        "id",
        "card_type",
        "status",
        "receipt_number",
        "applicant_id",
        "applied_at",
        "verified_at",
        "ready_at",
        "ready_promised_by",
        "issued_at",
        "phone_reported_at",
        "phone_report_expires_at",
        "written_reported_at",
        "written_report_expires_at",
        "loss_certificate_number",
        "closed_at",
        "rule_set",
        "rule_set_version",
        "expires_on",
        "uncollected_cancels_at",
        "collect_by",
        "financial_status",  # issue #17: the card's functions
    }
)
LINKED_FIELDS = frozenset(
    {
        "id",
        "applicant_id",
        "card_type",
        "status",
        "receipt_number",
        "phone_report_expires_at",
        "written_report_expires_at",
        "uncollected_cancels_at",
    }
)
POINT_FIELDS = ("name", "address", "opening_hours", "phone")


def _concrete(model, wanted: frozenset[str]) -> list:
    """The wanted fields in the model's own order, as Model.from_db expects them."""
    return [f for f in model._meta.concrete_fields if f.attname in wanted]


def _columns(alias: str, fields) -> str:
    return ", ".join(f'{alias}."{f.column}"' for f in fields)


def _column(model, name: str) -> str:
    return '"' + model._meta.get_field(name).column + '"'


_CARD = _concrete(Card, CARD_FIELDS)
_LINKED = _concrete(Card, LINKED_FIELDS)
_POINT = [ServicePoint._meta.get_field(name) for name in POINT_FIELDS]
_CARD_TABLE, _APPLICANT_TABLE = Card._meta.db_table, Applicant._meta.db_table
_POINT_TABLE, _BANK_TABLE = ServicePoint._meta.db_table, PartnerBank._meta.db_table
_LOG_TABLE = CardTransition._meta.db_table


def _point(foreign_key: str) -> str:
    fields = ", ".join(f'p."{f.column}"' for f in _POINT)
    return f'(SELECT ARRAY[{fields}] FROM "{_POINT_TABLE}" p WHERE p."id" = {foreign_key})'  # noqa: S608


def _bank(foreign_key: str) -> str:
    names = f"b.{_column(PartnerBank, 'name_zh')}, b.{_column(PartnerBank, 'name_en')}"
    return f'(SELECT ARRAY[{names}] FROM "{_BANK_TABLE}" b WHERE b."id" = {foreign_key})'  # noqa: S608


# The transition log, oldest first. Who did it (staff, bank user) and what they recorded (a caller's
# phone and address) stay in the database: only a rejection's differing fields and its reason.
_T = {
    name: "t." + _column(CardTransition, name)
    for name in ("name", "to_status", "at", "data", "reason", "service_point", "bank", "card")
}
_LOG = f"""(SELECT json_agg(json_build_array(
           {_T["name"]}, {_T["to_status"]}, {_T["at"]},
           CASE WHEN {_T["name"]} = %s THEN jsonb_build_object(
             'differences', {_T["data"]} -> 'differences',
             'reason_code', {_T["data"]} -> 'reason_code') END,
           CASE WHEN {_T["name"]} = %s THEN {_T["reason"]} ELSE '' END,
           (SELECT p.{_column(ServicePoint, "name")} FROM "{_POINT_TABLE}" p
            WHERE p."id" = {_T["service_point"]}),
           {_bank(_T["bank"])}) ORDER BY t."id")
        FROM "{_LOG_TABLE}" t WHERE {_T["card"]} = c."id")"""  # noqa: S608 - names from _meta

# The service points, the bank and the log are sub-selects, not joins: each is a lookup by key
# either way, but seven joined tables cost the planner three times as much as the whole lookup.
LOOKUP_SQL = f"""
SELECT {_columns("c", _CARD)}, a.{_column(Applicant, "name")},
       {_bank("c." + _column(Card, "bank"))},
       {_point("c." + _column(Card, "service_point"))},
       {_point("c." + _column(Card, "collection_point"))},
       {_columns("old", _LINKED)}, {_columns("new", _LINKED)},
       {_LOG}
FROM "{_CARD_TABLE}" c
JOIN "{_APPLICANT_TABLE}" a ON a."id" = c.{_column(Card, "applicant")}
LEFT JOIN "{_CARD_TABLE}" old ON old."id" = c.{_column(Card, "replaces")}
LEFT JOIN "{_CARD_TABLE}" new ON new.{_column(Card, "replaces")} = c."id"
WHERE c.{_column(Card, "receipt_number")} = %s AND a.{_column(Applicant, "id_number_bidx")} = %s
"""  # noqa: S608 - names from the models' _meta; the values are parameters


# Parsed and planned once per database connection: common/prepared.py.
_LOOKUP = PreparedStatement(LOOKUP_SQL, replica_ok=True)


@dataclass(frozen=True)
class Bank:
    name_zh: str
    name_en: str


@dataclass(frozen=True)
class Found:
    """A matching card with what the page shows of its surroundings."""

    card: Card
    holder_name: str
    bank: Bank | None
    applied_at: Place
    collection_point: Place
    replaces: Card | None
    replaced_by: Card | None
    history: list[LogRow]


class LogRow(NamedTuple):
    name: str
    to_status: str
    at: datetime.datetime
    differences: list[dict] | None
    reason: str
    service_point: str | None
    bank: Bank | None
    reason_code: str = ""  # a rejection's reason from cards.choices.RejectionReason


def _id_number_index(id_number: str) -> bytes:
    """The blind index of a well-formed number; for "" (malformed input) that of "-", which no
    stored number is: the same work and the same statement, so every mismatch costs the same."""
    return id_number_index(id_number or "-")


def card_public_get(*, id_number: str, receipt_number: str) -> Found | None:
    """The card with this receipt number whose holder has this ID number, with its log, or None
    (one query, prepared once per database connection)."""
    id_number = normalise_id_number(id_number or "")
    receipt_number = normalise_receipt_number(receipt_number or "")[:RECEIPT_MAX_LENGTH]
    well_formed = bool(ID_NUMBER.match(id_number)) and is_valid_receipt_number(receipt_number)
    if not well_formed:
        id_number = ""  # no holder has it: the same query, certainly no row
    if connection.vendor != "postgresql":
        found = _card_public_get_orm(id_number=id_number, receipt_number=receipt_number)
        return found if well_formed else None
    # The holder's number is stored encrypted: compared through its keyed blind index.
    row = _LOOKUP.fetchone([T.REJECT, T.REJECT, receipt_number, _id_number_index(id_number)])
    if row is None or not well_formed:
        return None
    values = iter(row)

    def take(n: int) -> list:
        return [next(values) for _ in range(n)]

    card = Card.from_db(connection.alias, [f.attname for f in _CARD], take(len(_CARD)))
    holder_name, bank, applied_at, collection_point = take(4)
    replaces, replaced_by = (
        Card.from_db(connection.alias, [f.attname for f in _LINKED], columns)
        if columns[0] is not None
        else None
        for columns in (take(len(_LINKED)), take(len(_LINKED)))
    )
    (log,) = take(1)
    return Found(
        card=card,
        holder_name=holder_name,
        bank=Bank(*bank) if bank else None,
        applied_at=_place(applied_at),
        collection_point=_place(collection_point),
        replaces=replaces,
        replaced_by=replaced_by,
        history=_history(log),
    )


def _card_public_get_orm(*, id_number: str, receipt_number: str) -> Found | None:
    """The same read through the ORM, for databases other than PostgreSQL (`make run` on SQLite;
    tests compare the two on PostgreSQL)."""
    card = (
        Card.objects.select_related(
            "applicant", "bank", "service_point", "collection_point", "replaces", "replaced_by"
        )
        .filter(
            receipt_number=receipt_number,
            applicant__id_number_bidx=_id_number_index(id_number),
        )
        .first()
    )
    if card is None:
        return None
    log = CardTransition.objects.filter(card_id=card.pk).select_related("service_point", "bank")
    return Found(
        card=card,
        holder_name=card.applicant.name,
        bank=_bank_of(card.bank),
        applied_at=_place_of(card.service_point),
        collection_point=_place_of(card.collection_point),
        replaces=card.replaces,
        replaced_by=getattr(card, "replaced_by", None),
        history=[
            LogRow(
                name=row.name,
                to_status=row.to_status,
                at=row.at,
                differences=_named_fields((row.data or {}).get("differences"))
                if row.name == T.REJECT
                else None,
                reason=row.reason if row.name == T.REJECT else "",
                service_point=row.service_point.name if row.service_point else None,
                bank=_bank_of(row.bank),
                reason_code=(row.data or {}).get("reason_code") or ""
                if row.name == T.REJECT
                else "",
            )
            for row in log.order_by("id")
        ],
    )


def _bank_of(bank: PartnerBank | None) -> Bank | None:
    return Bank(bank.name_zh, bank.name_en) if bank is not None else None


def _place_of(point: ServicePoint) -> Place:
    return _place([getattr(point, name) for name in POINT_FIELDS])


def _place(values) -> Place:
    """A service point as the page shows it: its opening hours in the page's language."""
    name, address, opening_hours, phone = values
    return Place(name, address, opening_hours_for_page(opening_hours or ""), phone)


def _named_fields(differences: list[dict] | None) -> list[dict] | None:
    """A rejection's differing fields by name only, on both paths: the form's and the registry's
    values (sealed in the log: the statement reads them still encrypted, the ORM opens them)
    never leave this module."""
    if differences is None:
        return None
    return [{"field": str(difference.get("field", ""))} for difference in differences]


def _history(log: str | list | None) -> list[LogRow]:
    if isinstance(log, str):
        log = json.loads(log)
    return [
        LogRow(
            name=name,
            to_status=to_status,
            at=datetime.datetime.fromisoformat(at),
            differences=_named_fields((rejection or {}).get("differences")),
            reason=reason or "",
            service_point=point,
            bank=Bank(*bank) if bank else None,
            reason_code=(rejection or {}).get("reason_code") or "",
        )
        for name, to_status, at, rejection, reason, point, bank in log or []
    ]


def status_lookup(
    *, id_number: str, receipt_number: str, now: datetime.datetime | None = None
) -> StatusAnswer | None:
    """The answer for a matching pair, or None for anything else."""
    found = card_public_get(id_number=id_number, receipt_number=receipt_number)
    if found is None:
        return None
    return status_answer(found=found, now=now or timezone.now())


# --- The presentation ---------------------------------------------------------------------------


def status_answer(*, found: Found, now: datetime.datetime) -> StatusAnswer:
    card = found.card
    status = card.status_at(now)
    guidance = STATE_GUIDANCE[status](_Context(found=found, history=found.history, now=now))
    return StatusAnswer(
        card_type=card.card_type,
        card_type_label=str(CardType(card.card_type).label),
        holder=mask_name(found.holder_name),
        receipt_number=format_receipt_number(card.receipt_number),
        status=status,
        status_label=str(_("Expired"))
        if status == S.ISSUED and card.is_expired(timezone.localdate(now))
        else str(S(status).label),
        guidance=guidance,
        linked=_linked_cards(found, now),
        timeline=_timeline(card, found.history, now),
        functions=_functions(found, status),
    )


def _functions(found: Found, status: str) -> list[tuple[str, str]]:
    """The financial function and the electronic card, where the card's rule set has them."""
    from cards import electronic

    card = found.card
    shown = []
    if card.financial_status:
        shown.append((_("Financial function"), str(FinancialStatus(card.financial_status).label)))
    if electronic.has_electronic_card(card):
        e_status = electronic.status_for(status, is_replacement=found.replaces is not None)
        if e_status:
            shown.append(
                (_("Electronic social security card"), str(ElectronicCardStatus(e_status).label))
            )
    return shown


@dataclass(frozen=True)
class _Context:
    found: Found
    history: list[LogRow]
    now: datetime.datetime

    @property
    def card(self) -> Card:
        return self.found.card

    def last(self, *names: str) -> LogRow | None:
        for row in reversed(self.history):
            if row.name in names:
                return row
        return None

    @property
    def bank_name(self) -> str:
        return _bank_name(self.found.bank)


def _when(moment: datetime.datetime) -> str:
    """A moment in Shanghai time, in the page's language: 2026年3月2日 17:30."""
    return date_format(moment.astimezone(SHANGHAI), "DATETIME_FORMAT")


def _day(moment: datetime.datetime | datetime.date) -> str:
    if isinstance(moment, datetime.datetime):
        moment = moment.astimezone(SHANGHAI).date()
    return date_format(moment, "DATE_FORMAT")


def _bank_name(bank: Bank | None) -> str:
    if bank is None:
        return ""
    return bank.name_zh if (get_language() or "").startswith("zh") else bank.name_en


def _bring_to_collect() -> list[str]:
    return [
        _("Your original ID document: the one you applied with."),
        _("This application receipt."),
        _(
            "If someone collects it for you: your original ID document, their own original ID "
            "document and this receipt."
        ),
    ]


def _lose_it_step(card: Card) -> str:
    hours = int(rules.for_card(card).phone_report_validity.total_seconds() // 3600)
    if hours % 24 == 0 and hours > 24:
        days = hours // 24
        return ngettext(
            "If you lose the card: call %(hotline)s at once to report it lost by phone (valid for "
            "%(days)s day), then report it lost in writing at a community affairs acceptance "
            "center with your resident identity card.",
            "If you lose the card: call %(hotline)s at once to report it lost by phone (valid for "
            "%(days)s days), then report it lost in writing at a community affairs acceptance "
            "center with your resident identity card.",
            days,
        ) % {"hotline": HOTLINE, "days": days}
    return ngettext(
        "If you lose the card: call %(hotline)s at once to report it lost by phone (valid for "
        "%(hours)s hour), then report it lost in writing at a community affairs acceptance "
        "center with your resident identity card.",
        "If you lose the card: call %(hotline)s at once to report it lost by phone (valid for "
        "%(hours)s hours), then report it lost in writing at a community affairs acceptance "
        "center with your resident identity card.",
        hours,
    ) % {"hotline": HOTLINE, "hours": hours}


def _applied(ctx: _Context) -> Guidance:
    days = settings.VERIFICATION_WAITING_LIMIT.days
    return Guidance(
        headline=_("We have received your application"),
        explanation=[
            _(
                "Your application was taken on %(date)s. The service point is checking your "
                "form against the municipal registry."
            )
            % {"date": _day(ctx.card.applied_at)}
        ],
        next_steps=[
            _("You do not need to do anything now."),
            ngettext(
                "The check usually takes no more than %(days)s day. If a detail on your form "
                "differs from the registry, this page will show which ones to correct.",
                "The check usually takes no more than %(days)s days. If a detail on your form "
                "differs from the registry, this page will show which ones to correct.",
                days,
            )
            % {"days": days},
            _("Questions? Ask the service point where you applied, or call %(hotline)s.")
            % {"hotline": HOTLINE},
        ],
        place=ctx.found.applied_at,
        place_heading=_("Where you applied"),
    )


def _verified(ctx: _Context) -> Guidance:
    card = ctx.card
    if card.card_type == CardType.SOCIAL_SECURITY:
        expected = (card.applied_at.astimezone(SHANGHAI) + datetime.timedelta(days=183)).date()
        making = _(
            "%(bank)s is making your card. This usually takes about six months from the day "
            "you applied: expect it around %(month)s."
        ) % {"bank": ctx.bank_name, "month": date_format(expected, "YEAR_MONTH_FORMAT")}
    elif card.ready_promised_by is not None:
        days = settings.MEDICAL_POINT_WORKING_DAYS
        making = ngettext(
            "The medical insurance service point will finish your card by %(date)s "
            "(within %(days)s working day).",
            "The medical insurance service point will finish your card by %(date)s "
            "(within %(days)s working days).",
            days,
        ) % {"date": _day(card.ready_promised_by), "days": days}
    else:
        making = _("The medical insurance center is finishing your card.")
    return Guidance(
        headline=_("Your application is approved and your card is being made"),
        explanation=[
            _("Your details match the municipal registry (checked on %(date)s).")
            % {"date": _day(card.verified_at or card.applied_at)},
            making,
        ],
        next_steps=[
            _("You do not need to do anything now."),
            _(
                "When the card is ready, this page will say so. Then collect it at the place "
                "below with your original ID document and this receipt."
            ),
        ],
        place=ctx.found.collection_point,
        place_heading=_("Where you will collect the card"),
    )


def _ready_for_collection(ctx: _Context) -> Guidance:
    card = ctx.card
    explanation = [_("Your card has been ready since %(date)s.") % {"date": _day(card.ready_at)}]
    deadline = deadline_label = None
    if card.collect_by is not None:
        # Seed 001: a street medical point's card is collected within the specified time.
        explanation.append(_("Please collect it by %(date)s.") % {"date": _day(card.collect_by)})
        deadline, deadline_label = _day(card.collect_by), _("Collect the card by")
    if card.uncollected_cancels_at is not None:
        explanation.append(
            _("A card not collected by %(time)s is cancelled and destroyed.")
            % {"time": _when(card.uncollected_cancels_at)}
        )
        if deadline is None:
            deadline = _when(card.uncollected_cancels_at)
            deadline_label = _("The card is cancelled if not collected by")
    return Guidance(
        headline=_("Your card is ready to collect"),
        explanation=explanation,
        deadline=deadline,
        deadline_label=deadline_label,
        next_steps=[
            _("Collect it at the place below, during its opening hours."),
            _("You can collect it yourself, or someone you trust can collect it for you."),
        ],
        place=ctx.found.collection_point,
        place_heading=_("Where to collect the card"),
        bring=_bring_to_collect(),
    )


def _issued(ctx: _Context) -> Guidance:
    card = ctx.card
    explanation = [
        _("The card was handed over on %(date)s.") % {"date": _day(card.issued_at)}
        if card.issued_at
        else _("The card has been handed over.")
    ]
    last = ctx.last(
        T.REPORT_LOST_BY_PHONE,
        T.REPORT_LOST_IN_WRITING,
        T.LAPSE_PHONE_REPORT,
        T.WITHDRAW_LOSS_REPORT,
    )
    if card.due_expiry(ctx.now) == T.LAPSE_PHONE_REPORT or (
        last is not None and last.name == T.LAPSE_PHONE_REPORT
    ):
        explanation.append(
            _(
                "Your phone loss report lapsed at %(time)s because no written report followed "
                "in time: the card can be used again."
            )
            % {"time": _when(card.phone_report_expires_at)}
        )
    elif last is not None and last.name == T.WITHDRAW_LOSS_REPORT:
        explanation.append(
            _("Your loss report was withdrawn on %(date)s: the card can be used again.")
            % {"date": _day(last.at)}
        )
    if card.expires_on is not None:
        if card.is_expired(timezone.localdate(ctx.now)):
            return Guidance(
                headline=_("Your card has expired"),
                explanation=[
                    *explanation,
                    _("The card was valid until %(date)s.") % {"date": _day(card.expires_on)},
                ],
                next_steps=[
                    _(
                        "Apply for a renewal at a service point with your ID document; the new "
                        "card replaces this one."
                    )
                ],
            )
        explanation.append(
            _("The card is valid until %(date)s; you can renew it from %(opens)s.")
            % {
                "date": _day(card.expires_on),
                "opens": _day(rules.renewal_opens_on(rules.for_card(card), card.expires_on)),
            }
        )
    return Guidance(
        headline=_("Your card has been issued and can be used"),
        explanation=explanation,
        next_steps=[
            _("Keep the card safe. You do not need to do anything."),
            _lose_it_step(card),
        ],
    )


def _phone_reported_lost(ctx: _Context) -> Guidance:
    card = ctx.card
    lapses = _when(card.phone_report_expires_at)
    return Guidance(
        headline=_("Reported lost by phone: the card is blocked for now"),
        explanation=[
            # Not "... on %(time)s.": an English time ends in "a.m."/"p.m." ("p.m..").
            _("On %(time)s the card was reported lost by phone (%(hotline)s).")
            % {"hotline": HOTLINE, "time": _when(card.phone_reported_at)},
        ],
        deadline=lapses,
        deadline_label=_("This phone report lapses at"),
        next_steps=[
            _(
                "Before %(time)s, report the loss in writing at a community affairs acceptance "
                "center or a street/township service station. Bring your resident identity "
                "card; someone acting for you brings your ID card and their own."
            )
            % {"time": lapses},
            _("You can apply for a replacement card at the same time."),
            _(
                "If no written report is made by then, the phone report lapses and the card "
                "can be used again."
            ),
            _(
                "Found the card? A service center can withdraw the report, or you can simply "
                "let it lapse."
            ),
        ],
    )


def _written_lost(ctx: _Context) -> Guidance:
    card = ctx.card
    if card.written_report_expires_at is None:
        return _written_lost_open_ended(ctx)
    cancels = _when(card.written_report_expires_at)
    return Guidance(
        headline=_("Reported lost in writing: the card is blocked"),
        explanation=[
            _(
                "The card was reported lost in writing on %(time)s (loss-report certificate "
                "%(certificate)s)."
            )
            % {"time": _when(card.written_reported_at), "certificate": card.loss_certificate_number}
        ],
        deadline=cancels,
        deadline_label=_("The card will be cancelled automatically at"),
        next_steps=[
            _("At %(time)s the card will be cancelled automatically and can never be used again.")
            % {"time": cancels},
            _(
                "To get a new card, apply for a replacement at a community affairs acceptance "
                "center before then, with your resident identity card. After the cancellation a "
                "new card is a new application."
            ),
            _(
                "Found the card? Withdraw the report at a community affairs acceptance center "
                "before %(time)s, with your resident identity card."
            )
            % {"time": cancels},
        ],
    )


def _written_lost_open_ended(ctx: _Context) -> Guidance:
    """A formal loss report under a rule set that gives it no deadline (shanghai-3rd-gen)."""
    card = ctx.card
    return Guidance(
        headline=_("Reported lost in writing: the card is blocked"),
        explanation=[
            _(
                "The card was reported lost in writing on %(time)s (loss-report certificate "
                "%(certificate)s)."
            )
            % {
                "time": _when(card.written_reported_at),
                "certificate": card.loss_certificate_number,
            },
            _("The report has no deadline: the card stays blocked until you act."),
        ],
        next_steps=[
            _(
                "To get a new card, apply for a replacement at a community affairs acceptance "
                "center with your resident identity card."
            ),
            _(
                "Found the card? Withdraw the report at a community affairs acceptance center "
                "with your resident identity card."
            ),
        ],
    )


def _cancelled(ctx: _Context) -> Guidance:
    card = ctx.card
    last = ctx.last(T.EXPIRE_WRITTEN_REPORT, T.CANCEL, T.CANCEL_UNCOLLECTED)
    if card.due_expiry(ctx.now) == T.CANCEL_UNCOLLECTED or (
        last is not None and last.name == T.CANCEL_UNCOLLECTED
    ):
        why = _("The card was not collected by %(time)s and was cancelled.") % {
            "time": _when(card.uncollected_cancels_at)
        }
    elif card.due_expiry(ctx.now) == T.EXPIRE_WRITTEN_REPORT or (
        last is not None and last.name == T.EXPIRE_WRITTEN_REPORT
    ):
        why = _(
            "The written loss report ran out at %(time)s and the card was cancelled automatically."
        ) % {"time": _when(card.written_report_expires_at)}
    else:
        why = _("The card was cancelled on %(date)s.") % {"date": _day(card.closed_at or ctx.now)}
    replacement = _linked_replacement(ctx.found)
    steps = [_("The card can no longer be used.")]
    if replacement is None:
        steps.append(
            _(
                "If you need a card, apply for a new one at a service point with your ID "
                "document and a photo receipt, and say that it replaces this card."
            )
        )
    else:
        steps.append(_("A new card has been applied for: see it below."))
    return Guidance(headline=_("This card is cancelled"), explanation=[why], next_steps=steps)


def _replaced(ctx: _Context) -> Guidance:
    return Guidance(
        headline=_("This card has been replaced by a new card"),
        explanation=[
            _("The card was replaced on %(date)s and can no longer be used.")
            % {"date": _day(ctx.card.closed_at or ctx.now)}
        ],
        next_steps=[
            _(
                "Follow the new card with its own receipt number, shown below, and the same "
                "ID number."
            )
        ],
    )


# How to put right each field the registry check compares (applicants/registry.py).
def _correction_texts() -> dict[str, tuple[str, str]]:
    return {
        "name": (_("Name"), _("Write your name exactly as on your ID document.")),
        "sex": (_("Sex"), _("Give the sex shown on your ID document.")),
        "birth_date": (_("Date of birth"), _("Write the date of birth on your ID document.")),
        "nationality": (
            _("Nationality"),
            _("Give the nationality shown on your passport or residence document."),
        ),
        "shanghai_hukou": (
            _("Shanghai household registration"),
            _("Say whether your household registration (hukou) is in Shanghai."),
        ),
        "hukou_place": (
            _("Place of household registration"),
            _("Write the place exactly as in your household register (hukou booklet)."),
        ),
    }


def _rejected(ctx: _Context) -> Guidance:
    card = ctx.card
    rejection = ctx.last(T.REJECT)
    on = _day(rejection.at if rejection else card.closed_at or ctx.now)
    differences = (rejection.differences or []) if rejection else []
    reason = rejection.reason if rejection else ""
    bring: list[str] = []
    other_language = ""
    texts = _correction_texts()
    corrections = []
    for difference in differences:
        name = str(difference.get("field", ""))
        label, advice = texts.get(
            name, (_("Another detail"), _("Ask the service point which detail to correct."))
        )
        corrections.append(Correction(field=name, label=label, advice=advice))
    if corrections:
        explanation = _(
            "On %(date)s the service point found that your form differs from the municipal "
            "registry in the details below."
        ) % {"date": on}
        steps = [
            _(
                "Correct these details on a new application form and apply again at a service "
                "point, for example where you applied (below). Bring your ID document, the "
                "photo receipt and the form."
            ),
            _(
                "If your ID document is right and the registry is wrong, ask the service point "
                "how to have the registry corrected."
            ),
        ]
    elif rejection is not None and rejection.reason_code in RejectionReason.values:
        # The reason the clerk chose from the list fit to show, in both languages, and what to
        # bring next time.
        label = RejectionReason(rejection.reason_code).label
        explanation = _(
            "On %(date)s the service point could not approve your application: %(reason)s"
        ) % {"date": on, "reason": str(label)}
        with translation.override("en" if (get_language() or "").startswith("zh") else "zh-hans"):
            other_language = str(label)
        steps = [
            _(
                "Apply again at a service point, for example where you applied (below), with "
                "what is listed under “What to bring”."
            )
        ]
        bring = [str(item) for item in REJECTION_BRING.get(rejection.reason_code, ())]
    elif reason == NO_REGISTRY_RECORD:
        explanation = _("On %(date)s the municipal registry had no record for your ID number.") % {
            "date": on
        }
        steps = [_("Ask at the service point where you applied, with your ID document.")]
    else:
        explanation = _("On %(date)s the service point could not approve your application.") % {
            "date": on
        }
        steps = [
            _(
                "Ask the service point where you applied what to correct, with your ID "
                "document and this receipt, or call %(hotline)s."
            )
            % {"hotline": HOTLINE}
        ]
    return Guidance(
        headline=_("Your application was not approved"),
        explanation=[explanation, *([other_language] if other_language else [])],
        next_steps=steps,
        corrections=corrections,
        place=ctx.found.applied_at,
        place_heading=_("Where you applied"),
        bring=bring,
    )


def _withdrawn(ctx: _Context) -> Guidance:
    return Guidance(
        headline=_("This application was withdrawn"),
        explanation=[
            _("The application was withdrawn on %(date)s. Nothing more will happen with it.")
            % {"date": _day(ctx.card.closed_at or ctx.now)}
        ],
        next_steps=[
            _(
                "If you still need a card, apply again at a service point with your ID document "
                "and a photo receipt."
            )
        ],
    )


# Every state has its own explanation and next step (issue 7); tests check the table is complete.
STATE_GUIDANCE: dict[str, Callable[[_Context], Guidance]] = {
    S.APPLIED: _applied,
    S.VERIFIED: _verified,
    S.READY_FOR_COLLECTION: _ready_for_collection,
    S.ISSUED: _issued,
    S.PHONE_REPORTED_LOST: _phone_reported_lost,
    S.WRITTEN_LOST: _written_lost,
    S.CANCELLED: _cancelled,
    S.REPLACED: _replaced,
    S.REJECTED: _rejected,
    S.WITHDRAWN: _withdrawn,
}


def _linked_replacement(found: Found) -> Card | None:
    new = found.replaced_by
    return new if new is not None and new.applicant_id == found.card.applicant_id else None


def _linked_cards(found: Found, now: datetime.datetime) -> list[LinkedCard]:
    """The card this one replaces and the card that replaces it: the holder's own only."""
    linked = []
    for relation, other in (
        (_("This card replaces"), found.replaces),
        (_("Replaced by the new card"), found.replaced_by),
    ):
        if other is None or other.applicant_id != found.card.applicant_id:
            continue
        status = other.status_at(now)
        linked.append(
            LinkedCard(
                relation=relation,
                card_type=str(CardType(other.card_type).label),
                receipt_number=format_receipt_number(other.receipt_number),
                status=status,
                status_label=str(S(status).label),
            )
        )
    return linked


def _timeline(card: Card, history: list[LogRow], now: datetime.datetime) -> list[Event]:
    events = [
        Event(
            at=row.at,
            iso=row.at.isoformat(),
            when=_when(row.at),
            label=str(T(row.name).label),
            place=row.service_point or _bank_name(row.bank),
        )
        for row in history
    ]
    due = card.due_expiry(now)
    if due is not None:  # in force, not yet written by the scheduler
        deadline = getattr(card, EXPIRIES[due].deadline_field)
        events.append(
            Event(
                at=deadline,
                iso=deadline.isoformat(),
                when=_when(deadline),
                label=str(T(due).label),
                place="",
            )
        )
    return events
