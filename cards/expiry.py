"""Expiry by deadline: the one code that lapses phone reports, cancels written-lost cards and
cancels cards not collected in time (the deadlines each card's rule set gave it, cards/rules.py;
an empty deadline never passes).

Used both by every service that touches a due card (a passed deadline is in force before the
scheduler runs) and by the sweeps of the scheduler. Set-based: one statement per batch claims due
rows with FOR UPDATE SKIP LOCKED, updates them, and appends their log and outbox rows and their
card-center notices (cards/cardcenter.py), so a rerun or two workers at once change nothing twice.
The transition's source and target are read from the state machine on the model, not restated
here.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db import connection, transaction

from cards import cardcenter, metrics, rules
from cards.choices import ActorKind, CardType, Channel, OutboxEventKind, TransitionName
from cards.events import EVENT_TIME_FORMAT, event_payload
from cards.models import Card, CardTransition, OutboxEvent


@dataclass(frozen=True)
class Expiry:
    name: str
    source: str
    target: str
    deadline_field: str
    closes: bool  # the target is terminal: set closed_at


def _from_state_machine(name: str, deadline_field: str, closes: bool) -> Expiry:
    transitions = getattr(Card, name)._django_fsm.transitions
    ((source, declared),) = transitions.items()
    return Expiry(name, source, declared.target, deadline_field, closes)


EXPIRIES: dict[str, Expiry] = {
    TransitionName.LAPSE_PHONE_REPORT: _from_state_machine(
        TransitionName.LAPSE_PHONE_REPORT, "phone_report_expires_at", closes=False
    ),
    TransitionName.EXPIRE_WRITTEN_REPORT: _from_state_machine(
        TransitionName.EXPIRE_WRITTEN_REPORT, "written_report_expires_at", closes=True
    ),
    TransitionName.CANCEL_UNCOLLECTED: _from_state_machine(
        TransitionName.CANCEL_UNCOLLECTED, "uncollected_cancels_at", closes=True
    ),
}

DEFAULT_BATCH_SIZE = 5000

# PostgreSQL: one statement a batch. Rows are claimed oldest deadline first; rows locked by a clerk
# (or another worker) are skipped now and taken by the next batch or run.
_PG_EXPIRE = """
WITH due AS (
    SELECT id FROM cards_card
    WHERE status = %(source)s AND {deadline} <= %(now)s {only_ids}
    ORDER BY {deadline}, id
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
), updated AS (
    UPDATE cards_card AS c
    SET status = %(target)s, updated_at = %(now)s {closes}
    FROM due WHERE c.id = due.id
    RETURNING c.id, c.public_id, c.bank_id, c.card_number, c.{deadline} AS deadline,
              c.card_type, c.rule_set
), logged AS (
    INSERT INTO cards_cardtransition
        (card_id, name, from_status, to_status, at, recorded_at, actor_kind, channel, reason, data)
    SELECT id, %(name)s, %(source)s, %(target)s, deadline, %(now)s, %(system)s, %(channel)s, '',
           jsonb_build_object('deadline', to_char(deadline AT TIME ZONE 'UTC', %(fmt)s))
    FROM updated
), evented AS (
    INSERT INTO cards_outboxevent (kind, card_id, bank_id, payload, created_at, attempts)
    SELECT %(kind)s, id, bank_id,
           jsonb_build_object(
               'event', %(kind)s, 'card', public_id::text, 'transition', %(name)s,
               'from', %(source)s, 'to', %(target)s,
               'at', to_char(deadline AT TIME ZONE 'UTC', %(fmt)s)),
           %(now)s, 0
    FROM updated
), changes AS (
    SELECT id AS card_id, %(name)s AS name, %(source)s AS from_status, %(target)s AS to_status,
           deadline AS at, card_number
    FROM updated
), noticed AS ({notices}
)
SELECT id, card_type, rule_set FROM updated
"""
# strftime's format in PostgreSQL's to_char words.
_PG_TIME_FORMAT = 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
assert EVENT_TIME_FORMAT == "%Y-%m-%dT%H:%M:%S.%fZ"


def expire_batch(
    expiry: Expiry,
    *,
    now: datetime.datetime,
    limit: int = DEFAULT_BATCH_SIZE,
    card_ids: list[int] | None = None,
) -> list[int]:
    """Expire up to `limit` due cards (only `card_ids` if given); return the ids expired.

    Runs in the caller's transaction if there is one, else in its own.
    """
    with transaction.atomic():
        if connection.vendor == "postgresql":
            return _expire_batch_postgresql(expiry, now=now, limit=limit, card_ids=card_ids)
        return _expire_batch_portable(expiry, now=now, limit=limit, card_ids=card_ids)


def _expire_batch_postgresql(expiry, *, now, limit, card_ids) -> list[int]:
    sql = _PG_EXPIRE.format(
        deadline=expiry.deadline_field,
        only_ids="AND id = ANY(%(ids)s)" if card_ids is not None else "",
        closes=f", closed_at = c.{expiry.deadline_field}" if expiry.closes else "",
        notices=cardcenter.notice_insert_sql(source="changes"),
    )
    params = {
        **cardcenter.notice_sql_params(now),
        "source": expiry.source,
        "target": expiry.target,
        "name": expiry.name,
        "now": now,
        "limit": limit,
        "ids": card_ids,
        "system": ActorKind.SYSTEM,
        "channel": Channel.SYSTEM,
        "kind": OutboxEventKind.CARD_STATUS_CHANGED,
        "fmt": _PG_TIME_FORMAT,
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    ids = [row[0] for row in rows]
    if ids:
        cardcenter.deliver_after_commit()
        # Only cards that can have an electronic card are read again (none under seed-2019).
        with_ecard = {
            card_id
            for card_id, card_type, rule_set in rows
            if card_type == CardType.SOCIAL_SECURITY and rules.get(rule_set).electronic_card
        }
        if with_ecard:
            _electronic_events(expiry, sorted(with_ecard))
    return ids


def _electronic_events(expiry: Expiry, ids: list[int]) -> None:
    """The electronic cards' status changes of these expiries (cards/electronic.py)."""
    from cards import electronic

    electronic.events_for_cards(
        ids,
        name=expiry.name,
        from_status=expiry.source,
        to_status=expiry.target,
        at_field=expiry.deadline_field,
    )


def _expire_batch_portable(expiry, *, now, limit, card_ids) -> list[int]:
    """The same rows through the ORM, for the embedded SQLite of `make run`."""
    due = Card.objects.filter(
        status=expiry.source, **{f"{expiry.deadline_field}__lte": now}
    ).order_by(expiry.deadline_field, "id")
    if card_ids is not None:
        due = due.filter(id__in=card_ids)
    rows = list(due.values_list("id", "public_id", "bank_id", expiry.deadline_field)[:limit])
    if not rows:
        return []
    ids = [row[0] for row in rows]
    for card_id, _public_id, _bank_id, deadline in rows:
        changes = {"status": expiry.target, "updated_at": now}
        if expiry.closes:
            changes["closed_at"] = deadline
        Card.objects.filter(id=card_id, status=expiry.source).update(**changes)
    CardTransition.objects.bulk_create(
        CardTransition(
            card_id=card_id,
            name=expiry.name,
            from_status=expiry.source,
            to_status=expiry.target,
            at=deadline,
            recorded_at=now,
            actor_kind=ActorKind.SYSTEM,
            channel=Channel.SYSTEM,
            data={"deadline": deadline.astimezone(datetime.UTC).strftime(EVENT_TIME_FORMAT)},
        )
        for card_id, _public_id, _bank_id, deadline in rows
    )
    OutboxEvent.objects.bulk_create(
        OutboxEvent(
            kind=OutboxEventKind.CARD_STATUS_CHANGED,
            card_id=card_id,
            bank_id=bank_id,
            payload=event_payload(
                public_id=public_id,
                name=expiry.name,
                from_status=expiry.source,
                to_status=expiry.target,
                at=deadline,
            ),
            created_at=now,
        )
        for card_id, public_id, bank_id, deadline in rows
    )
    cards = Card.objects.in_bulk(ids)
    cardcenter.notices_bulk_create(
        [
            {
                "card": cards[card_id],
                "name": expiry.name,
                "from_status": expiry.source,
                "to_status": expiry.target,
                "at": deadline,
            }
            for card_id, _public_id, _bank_id, deadline in rows
        ]
    )
    cardcenter.deliver_after_commit()
    _electronic_events(expiry, ids)
    return ids


def expire_card_if_due(card: Card, *, now: datetime.datetime) -> str | None:
    """Apply the due expiry of one card the caller has locked; return its name, or None."""
    name = card.due_expiry(now)
    if name is None:
        return None
    expire_batch(EXPIRIES[name], now=now, limit=1, card_ids=[card.pk])
    metrics.transition_recorded(name, ActorKind.SYSTEM)
    card.refresh_from_db()
    return name
