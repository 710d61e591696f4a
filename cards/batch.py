"""One transition for many cards of one partner bank at once: the batches of the partner API
(`POST /cards/ready`, `/cards/hand-over`, `/cards/withdraw`).

Each item is decided by the rules of the one-card service (cards/services.py): the state in force
(a loss report's passed deadline applied first, by the sweep's own code), the actor's permission,
the transition's own rules (card number format and uniqueness, the holder's ID and receipt, a
reason), then the pure transition on the model. Only the I/O is set-based, in one transaction:

  1. the batch's cards locked in one statement, ordered by id (two batches never deadlock);
  2. due expiries applied to those cards in one statement (cards/expiry.py);
  3. one UPDATE of every card that changes (values from the transitioned models);
  4. one multi-row INSERT of the log rows and one of the outbox events (cards/events.py,
     `record_transitions`), in the order of the items.

So the transition log and the event feed cannot tell a batch from the same calls made one by one.
An item that is refused changes nothing and does not stop the others: its result is the error.
An item naming a card twice sees the card as the earlier item left it (as two calls would).
"""

from __future__ import annotations

import datetime
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from django_fsm import can_proceed

from agencies.models import PartnerBank
from cards import services
from cards.actors import Actor
from cards.choices import CardStatus, TransitionName
from cards.events import TransitionRow, record_transitions
from cards.expiry import EXPIRIES, expire_batch
from cards.models import Card
from common.errors import ApplicationError
from common.fields import BlindIndexField, EncryptedCharField

S = CardStatus
T = TransitionName

MAX_ITEMS = 1000


@dataclass(frozen=True)
class BatchItem:
    """One item: the card's public id and the transition's input (validated at the edge)."""

    card_id: uuid.UUID
    values: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class BatchResult:
    """One item's outcome: the card after the transition, or the refusal."""

    card: Card | None = None
    error: ApplicationError | None = None


def _not_found() -> ApplicationError:
    return ApplicationError(
        _("No such card (or another bank's card: the same answer)."), code="not_found", status=404
    )


# --- The transitions' own rules (the same as the one-card services) --


@dataclass
class _Context:
    now: datetime.datetime
    taken_numbers: set[str] = field(default_factory=set)
    numbers: dict[str, str] = field(default_factory=dict)  # as given: as stored, if well-formed


@dataclass(frozen=True)
class _Change:
    reason: str = ""
    data: dict[str, Any] | None = None
    channel: str | None = None


def _mark_ready(card: Card, values: dict, ctx: _Context) -> _Change:
    number = ctx.numbers.get(values["card_number"]) or services.card_number_checked(
        values["card_number"]
    )
    if number in ctx.taken_numbers:
        raise services._invalid("card_number", _("This card number is already on another card."))
    card.mark_ready(at=ctx.now, card_number=number)
    ctx.taken_numbers.add(number)
    data: dict[str, Any] = {"card_number": card.card_number}
    if card.ready_promised_by is not None:
        data["promised_by"] = card.ready_promised_by.isoformat()
        data["promise_kept"] = card.ready_promise_kept
    return _Change(data=data)


def _agent(values: dict) -> services.Agent | None:
    if not values.get("agent_name"):
        return None
    return services.Agent(values["agent_name"], values["agent_id_type"], values["agent_id_number"])


def _hand_over(card: Card, values: dict, ctx: _Context) -> _Change:
    data = services.hand_over_checked(
        card,
        id_number=values["id_number"],
        receipt_number=values["receipt_number"],
        agent=_agent(values),
    )
    card.hand_over(at=ctx.now)
    return _Change(data=data)


def _withdraw(card: Card, values: dict, ctx: _Context) -> _Change:
    reason = values["reason"].strip()
    if not reason:
        raise services._invalid("reason", _("Give the reason for the withdrawal."))
    card.withdraw(at=ctx.now)
    return _Change(reason=reason, channel=values.get("channel"))


@dataclass(frozen=True)
class _Spec:
    name: str
    perform: Callable[[Card, dict, _Context], _Change]
    fields: tuple[str, ...]  # what the transition sets besides status and updated_at
    related: tuple[str, ...] = ()  # what its rules read besides the card


_SPECS = {
    T.MARK_READY: _Spec(
        T.MARK_READY, _mark_ready, ("ready_at", "card_number", "ready_promise_kept")
    ),
    T.HAND_OVER: _Spec(T.HAND_OVER, _hand_over, ("issued_at",), related=("applicant",)),
    T.WITHDRAW: _Spec(T.WITHDRAW, _withdraw, ("closed_at",)),
}


# --- The services --


def cards_mark_ready_batch(
    *, bank: PartnerBank, actor: Actor, items: Sequence[BatchItem]
) -> list[BatchResult]:
    """`card_mark_ready` for up to MAX_ITEMS cards of `bank`; item values: `card_number`."""
    return _batch(bank=bank, actor=actor, spec=_SPECS[T.MARK_READY], items=items)


def cards_hand_over_batch(
    *, bank: PartnerBank, actor: Actor, items: Sequence[BatchItem]
) -> list[BatchResult]:
    """`card_hand_over` for many cards; item values: `id_number`, `receipt_number`, and an
    entrusted agent's `agent_name`, `agent_id_type`, `agent_id_number` (all or none)."""
    return _batch(bank=bank, actor=actor, spec=_SPECS[T.HAND_OVER], items=items)


def cards_withdraw_batch(
    *, bank: PartnerBank, actor: Actor, items: Sequence[BatchItem]
) -> list[BatchResult]:
    """`card_withdraw` for many cards; item values: `reason`, optionally `channel`."""
    return _batch(bank=bank, actor=actor, spec=_SPECS[T.WITHDRAW], items=items)


def _batch(
    *, bank: PartnerBank, actor: Actor, spec: _Spec, items: Sequence[BatchItem]
) -> list[BatchResult]:
    if len(items) > MAX_ITEMS:
        raise services._invalid("items", _("At most %(n)d items a batch.") % {"n": MAX_ITEMS})
    if connection.vendor != "postgresql":
        return _one_by_one(bank=bank, actor=actor, spec=spec, items=items)
    with transaction.atomic():
        cards = _lock(bank, spec, [item.card_id for item in items])
        now = timezone.now()  # after the locks, as services._act: the instant the rules judge
        for card in cards.values():
            card.as_of(now)  # the model's guards judge that instant too (Card.as_of)
        expired = _apply_due_expiries(cards, now)
        ctx = _Context(now=now)
        if spec.name == T.MARK_READY:
            ctx.numbers = _well_formed_numbers(items)
            ctx.taken_numbers = set(
                Card.objects.filter(
                    card_number_bidx__in=[
                        Card.blind_index("card_number", number)
                        for number in set(ctx.numbers.values())
                    ]
                ).values_list("card_number", flat=True)
            )
        results: list[BatchResult] = []
        rows: list[TransitionRow] = []
        for item in items:
            card = cards.get(item.card_id)
            if card is None:
                results.append(BatchResult(error=_not_found()))
                continue
            try:
                change = _decide(card, actor, spec, item, ctx, expired.get(card.pk))
            except ApplicationError as exc:
                results.append(BatchResult(error=exc))
                continue
            card.updated_at = now
            rows.append(
                TransitionRow(
                    card=card,
                    from_status=change.from_status,
                    channel=change.channel or actor.channel,
                    reason=change.reason,
                    data=change.data,
                )
            )
            results.append(BatchResult(card=card))
        _update(spec, [row.card for row in rows], now)
        record_transitions(rows=rows, name=spec.name, actor=actor, now=now)
    return results


@dataclass(frozen=True)
class _Decided:
    from_status: str
    reason: str
    data: dict[str, Any] | None
    channel: str | None


def _decide(
    card: Card, actor: Actor, spec: _Spec, item: BatchItem, ctx: _Context, expired: str | None
) -> _Decided:
    """`services._act` for one locked card: a passed deadline, the state, the permission, the
    transition's rules, then the pure transition (on the model in memory)."""
    transition = getattr(card, spec.name)
    if expired and not can_proceed(transition, check_conditions=False):
        raise services._deadline_passed(card, expired)
    services._check(card, actor, spec.name)
    from_status = card.status
    change = spec.perform(card, item.values, ctx)
    return _Decided(from_status, change.reason, change.data, change.channel)


# What the rules, the transitions and the answer read of a card (the rest is not loaded).
_LOCKED_FIELDS = (
    "id",
    "public_id",
    "bank_id",
    "applicant_id",
    "service_point_id",
    "collection_point_id",
    "card_type",
    "status",
    "receipt_number",
    "card_number",
    "ready_promised_by",
    "ready_promise_kept",
    "ready_at",
    "issued_at",
    "closed_at",
    "updated_at",
    "phone_report_expires_at",
    "written_report_expires_at",
)


def _lock(bank: PartnerBank, spec: _Spec, card_ids: list[uuid.UUID]) -> dict[uuid.UUID, Card]:
    """The bank's cards among `card_ids`, locked in one statement in id order. The ids travel as
    one text parameter (binding a thousand UUIDs one by one costs more than the query)."""
    joined = ",".join(sorted({str(card_id) for card_id in card_ids}))
    queryset = (
        Card.objects.filter(bank=bank)
        .extra(
            where=['"cards_card"."public_id" = ANY(string_to_array(%s, \',\')::uuid[])'],
            params=[joined],
        )
        .only(*_LOCKED_FIELDS)
        .order_by("id")
    )
    if spec.related:
        fields = [
            f"{name}__{f.name}"
            for name in spec.related
            for f in Card._meta.get_field(name).related_model._meta.concrete_fields
        ]
        queryset = (
            queryset.select_related(*spec.related)
            .only(*_LOCKED_FIELDS, *fields)
            .select_for_update(of=("self",))
        )
    else:
        queryset = queryset.select_for_update()
    return {card.public_id: card for card in queryset}


def _apply_due_expiries(cards: dict[uuid.UUID, Card], now: datetime.datetime) -> dict[int, str]:
    """A passed deadline is in force first, committed even if the item is then refused; the
    expired cards are read again. Returns {card pk: expiry transition}."""
    due: dict[str, list[int]] = {}
    for card in cards.values():
        expiry = card.due_expiry(now)
        if expiry:
            due.setdefault(expiry, []).append(card.pk)
    expired: dict[int, str] = {}
    for name, ids in due.items():
        for pk in expire_batch(EXPIRIES[name], now=now, card_ids=ids, limit=len(ids)):
            expired[pk] = name
    for card in cards.values():
        if card.pk in expired:
            card.refresh_from_db()
    return expired


def _well_formed_numbers(items: Sequence[BatchItem]) -> dict[str, str]:
    """{number as given: as stored} for the batch's well-formed card numbers."""
    numbers = {}
    for item in items:
        given = item.values.get("card_number", "")
        try:
            numbers[given] = services.card_number_checked(given)
        except ApplicationError:
            continue
    return numbers


def _update(spec: _Spec, cards: list[Card], now: datetime.datetime) -> None:
    """One UPDATE of every changed card, with the values its transition set (one JSON document
    of rows: one parameter, encoded in C)."""
    if not cards:
        return
    model_fields = [Card._meta.get_field(name) for name in ("status", *spec.fields)]
    # A changed card number is stored encrypted, with its blind index (common/fields.py); the
    # index travels as hex in the JSON document.
    indexes = [
        f
        for f in Card._meta.concrete_fields
        if isinstance(f, BlindIndexField) and f.source in spec.fields
    ]
    columns = ", ".join(
        [f'"{f.column}" = v."{f.column}"' for f in model_fields]
        + [f'"{f.column}" = decode(v."{f.column}", \'hex\')' for f in indexes]
    )
    types = ", ".join(
        [f'"{f.column}" {f.db_type(connection)}' for f in model_fields]
        + [f'"{f.column}" text' for f in indexes]
    )
    sql = (
        f'UPDATE "{Card._meta.db_table}" AS c SET {columns}, "updated_at" = %s '  # noqa: S608
        f"FROM jsonb_to_recordset(%s::jsonb) AS v(id bigint, {types}) "
        # The primary key's index, not a scan; the ids as one text parameter.
        "WHERE c.id = v.id AND c.id = ANY(string_to_array(%s, ',')::bigint[])"
    )
    ids = [card.pk for card in cards]
    rows = [
        {"id": card.pk}
        | {f.column: _stored(f, getattr(card, f.attname)) for f in model_fields}
        | {f.column: _index_hex(f, card) for f in indexes}
        for card in cards
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, [now, json.dumps(rows, ensure_ascii=False), ",".join(map(str, ids))])


def _stored(field, value):
    if isinstance(field, EncryptedCharField):
        return field.get_db_prep_save(value, connection)
    return _json_value(value)


def _index_hex(field: BlindIndexField, card: Card) -> str | None:
    index = field.index_of(getattr(card, field.source))
    return index.hex() if index is not None else None


def _json_value(value):
    return value.isoformat() if isinstance(value, datetime.date) else value


def _one_by_one(
    *, bank: PartnerBank, actor: Actor, spec: _Spec, items: Sequence[BatchItem]
) -> list[BatchResult]:
    """The embedded SQLite of `make run`: each item through its one-card service."""
    results = []
    for item in items:
        card = Card.objects.filter(bank=bank, public_id=item.card_id).first()
        if card is None:
            results.append(BatchResult(error=_not_found()))
            continue
        try:
            results.append(BatchResult(card=_ONE[spec.name](card, actor, item.values)))
        except (ApplicationError, Http404) as exc:
            error = exc if isinstance(exc, ApplicationError) else _not_found()
            results.append(BatchResult(error=error))
    return results


_ONE = {
    T.MARK_READY: lambda card, actor, v: services.card_mark_ready(
        card=card, actor=actor, card_number=v["card_number"]
    ),
    T.HAND_OVER: lambda card, actor, v: services.card_hand_over(
        card=card,
        actor=actor,
        id_number=v["id_number"],
        receipt_number=v["receipt_number"],
        agent=_agent(v),
    ),
    T.WITHDRAW: lambda card, actor, v: services.card_withdraw(
        card=card,
        actor=Actor.for_bank(actor.bank, channel=v.get("channel") or actor.channel),
        reason=v["reason"],
    ),
}
