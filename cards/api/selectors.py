"""Reads of the partner-bank API. Every one is scoped to one bank: another bank's card or event is
not found, exactly as one that does not exist. Lists read a constant number of queries whatever
their length (related rows joined); a card's history is one query however long it is."""

from __future__ import annotations

import datetime
import json
import uuid
from typing import NamedTuple

from django.db import connection
from django.db.models import Q, QuerySet
from django.http import Http404

from agencies.models import PartnerBank, ServicePoint
from applicants.models import Applicant
from cards.choices import Channel
from cards.models import Card, CardTransition, OutboxEvent
from cards.selectors import with_effective_status
from common.prepared import PreparedStatement, columns, instance_from_row

# What a card in a list reads besides itself (its service points are codes: agencies.selectors).
CARD_RELATED = ("applicant", "replaces", "replaced_by")


def card_api_queryset(*, bank: PartnerBank, now: datetime.datetime | None = None) -> QuerySet[Card]:
    """The bank's cards with their state in force (`effective_status`) and what a card's
    representation reads, joined."""
    return with_effective_status(
        Card.objects.filter(bank=bank).select_related(*CARD_RELATED), now=now
    )


def card_api_sync_page(
    queryset: QuerySet[Card],
    *,
    horizon: datetime.datetime,
    after: tuple[datetime.datetime, int] | None,
    limit: int,
) -> list[Card]:
    """Up to `limit` cards after the position `after`, in (updated_at, id) order, stamped before
    `horizon` (cards/api/sync.py says why)."""
    queryset = queryset.filter(updated_at__lt=horizon)
    if after is not None:
        updated_at, card_id = after
        queryset = queryset.filter(updated_at__gte=updated_at).filter(
            Q(updated_at__gt=updated_at) | Q(id__gt=card_id)
        )
    return list(queryset.order_by("updated_at", "id")[:limit])


class HistoryRow(NamedTuple):
    """One row of a card's transition log, as the API reads it (the fields of CardTransition)."""

    id: int
    name: str
    from_status: str
    to_status: str
    at: datetime.datetime
    actor_kind: str
    service_point_id: int | None
    channel: str
    reason: str
    data: dict


_REPLACED_BY = Card._meta.get_field("replaced_by")
_CARD_FIELDS, _CARD_COLUMNS = columns("c", Card)
_APPLICANT_FIELDS, _APPLICANT_COLUMNS = columns("a", Applicant)
_LINK_FIELDS = ["id", "public_id", "bank_id"]
_, _OLD_COLUMNS = columns("old", Card, _LINK_FIELDS)
_, _NEW_COLUMNS = columns("new", Card, _LINK_FIELDS)
_C = {f.attname: f'"{f.column}"' for f in Card._meta.concrete_fields}
_T = {f.attname: f't."{f.column}"' for f in CardTransition._meta.concrete_fields}
_HISTORY = ", ".join(_T[name] for name in HistoryRow._fields)
# The API's most frequent read, in one statement prepared once per connection
# (common/prepared.py): the card and its holder, the cards it replaces or that replaced it, and
# its log, oldest first.
_CARD_DETAIL = PreparedStatement(
    f"""SELECT {_CARD_COLUMNS}, {_APPLICANT_COLUMNS}, {_OLD_COLUMNS}, {_NEW_COLUMNS},
        (SELECT json_agg(json_build_array({_HISTORY}) ORDER BY {_T["id"]})
         FROM "{CardTransition._meta.db_table}" t WHERE {_T["card_id"]} = c."id")
    FROM "{Card._meta.db_table}" c
    JOIN "{Applicant._meta.db_table}" a ON a."id" = c.{_C["applicant_id"]}
    LEFT JOIN "{Card._meta.db_table}" old ON old."id" = c.{_C["replaces_id"]}
    LEFT JOIN "{Card._meta.db_table}" new ON new.{_C["replaces_id"]} = c."id"
    WHERE c.{_C["public_id"]} = %s AND c.{_C["bank_id"]} = %s""",  # noqa: S608 - names from _meta
    replica_ok=True,
)


def card_api_get(*, bank: PartnerBank, public_id: str) -> Card:
    """One of the bank's cards with its history (`card.history`); 404 for a card of another bank,
    as for none. The API's most frequent read: one prepared statement on PostgreSQL."""
    try:
        key = uuid.UUID(str(public_id))
    except ValueError:
        raise Http404 from None
    if connection.vendor != "postgresql":
        return _card_api_get_orm(bank=bank, public_id=key)
    row = _CARD_DETAIL.fetchone([key, bank.pk])
    if row is None:
        raise Http404
    values = iter(row)

    def take(n: int) -> list:
        return [next(values) for _ in range(n)]

    card = instance_from_row(Card, connection.alias, _CARD_FIELDS, take(len(_CARD_FIELDS)))
    card.applicant = instance_from_row(
        Applicant, connection.alias, _APPLICANT_FIELDS, take(len(_APPLICANT_FIELDS))
    )
    old, new = take(len(_LINK_FIELDS)), take(len(_LINK_FIELDS))
    if old[0] is not None:
        card.replaces = Card.from_db(connection.alias, _LINK_FIELDS, old)
    # Known either way: reading `card.replaced_by` asks the database nothing more.
    _REPLACED_BY.set_cached_value(
        card, Card.from_db(connection.alias, _LINK_FIELDS, new) if new[0] is not None else None
    )
    (log,) = take(1)
    card.history = [_history_row(values) for values in _json(log) or []]
    return card


def _json(value):
    return json.loads(value) if isinstance(value, str) else value


def _history_row(values: list) -> HistoryRow:
    row = HistoryRow(*values)
    return row._replace(at=datetime.datetime.fromisoformat(row.at), data=row.data or {})


def _card_api_get_orm(*, bank: PartnerBank, public_id: uuid.UUID) -> Card:
    """The same card through the ORM, for databases other than PostgreSQL (`make run`)."""
    try:
        card = Card.objects.select_related(*CARD_RELATED).get(bank=bank, public_id=public_id)
    except Card.DoesNotExist:
        raise Http404 from None
    card.history = list(CardTransition.objects.filter(card_id=card.pk).order_by("id"))
    return card


def card_api_find(*, bank: PartnerBank, public_id: str) -> Card:
    """The bank's card to act on (the service locks and re-reads it); 404 as `card_api_get`."""
    try:
        key = uuid.UUID(str(public_id))
    except ValueError:
        raise Http404 from None
    card = Card.objects.filter(bank=bank, public_id=key).first()
    if card is None:
        raise Http404
    return card


def bank_outlet_find(*, bank: PartnerBank, code: str) -> ServicePoint | None:
    """One of the bank's own outlets by its code (another bank's is as unknown as none)."""
    return ServicePoint.objects.filter(bank=bank, code=code.strip()).first()


def event_api_list(
    *, bank: PartnerBank, after: int, settled_id: int, limit: int
) -> list[OutboxEvent]:
    """The bank's events after the id `after`, up to `settled_id`, in id order."""
    return list(
        OutboxEvent.objects.filter(bank=bank, id__gt=after, id__lte=settled_id).order_by("id")[
            :limit
        ]
    )


def platform_card_get(*, public_id) -> Card:
    """A card applied for on the city's online service platform (only the platform submits on
    that channel: cards.services.card_submit); 404 for any other card, as for none."""
    try:
        key = uuid.UUID(str(public_id))
    except ValueError:
        raise Http404 from None
    card = (
        Card.objects.select_related("applicant", "bank")
        .filter(public_id=key, channel=Channel.ONLINE_PLATFORM)
        .first()
    )
    if card is None:
        raise Http404
    return card
