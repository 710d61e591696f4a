"""What every transition writes besides the card: one log row, one outbox event for the partner
bank, and, when the card becomes usable or unusable, one notice for the municipal information
service center (cards/cardcenter.py).

Both expiry paths (a service touching a due card, the sweep) and every other service build their
rows here, so the log and the events look the same whichever path wrote them.
"""

from __future__ import annotations

import datetime
import functools
import json
import logging
from typing import Any, NamedTuple

from django.db import transaction

from cards import cardcenter, electronic, metrics, webhooks
from cards.actors import Actor
from cards.choices import OutboxEventKind
from cards.models import CARD_NUMBER_CONTEXT, Card, CardFunctionEvent, CardTransition, OutboxEvent
from common import crypto

logger = logging.getLogger("cards.transitions")

UTC = datetime.UTC
# The one timestamp format of events (PostgreSQL's expiry SQL writes the same).
EVENT_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def event_time(at: datetime.datetime) -> str:
    return at.astimezone(UTC).strftime(EVENT_TIME_FORMAT)


def event_payload(
    *, public_id: str, name: str, from_status: str, to_status: str, at: datetime.datetime
) -> dict[str, str]:
    return {
        "event": OutboxEventKind.CARD_STATUS_CHANGED,
        "card": str(public_id),
        "transition": name,
        "from": from_status,
        "to": to_status,
        "at": event_time(at),
    }


def seal_log_data(data: dict[str, Any] | None, *, applicant_id: int) -> dict[str, Any]:
    """A log row's data as stored (CardTransition.data: personal values encrypted, the card
    holder's own under their data key), for the set-based writers that bypass the field."""
    return CardTransition._meta.get_field("data").seal(data or {}, subject=applicant_id)


def open_log_data(data: dict[str, Any] | None) -> dict[str, Any]:
    """A log row's data opened, for a read by raw SQL (the field opens what the ORM reads)."""
    return CardTransition._meta.get_field("data").open(data or {})


def record_transition(
    *,
    card: Card,
    name: str,
    from_status: str,
    actor: Actor,
    now: datetime.datetime,
    reason: str = "",
    data: dict[str, Any] | None = None,
) -> CardTransition:
    """Append the log row, the outbox event and the card-center notice (if any) of one transition
    made at `now`; log a line after commit. (The expiry sweep writes these rows in bulk, dated at
    the deadline: cards/expiry.py.)"""
    row = CardTransition.objects.create(
        card=card,
        name=name,
        from_status=from_status,
        to_status=card.status,
        at=now,
        recorded_at=now,
        actor_kind=actor.kind,
        actor_user=actor.user,
        bank=actor.bank,
        service_point=actor.service_point,
        channel=actor.channel,
        reason=reason,
        data=data or {},
    )
    event = OutboxEvent.objects.create(
        kind=OutboxEventKind.CARD_STATUS_CHANGED,
        card=card,
        bank_id=card.bank_id,
        payload=event_payload(
            public_id=card.public_id,
            name=name,
            from_status=from_status,
            to_status=card.status,
            at=now,
        ),
        created_at=now,
        next_attempt_at=webhooks.first_attempt_at(card.bank_id, now),
    )
    metrics.transition_recorded(name, actor.kind)  # counted once the transaction commits
    if event.next_attempt_at is not None:  # the bank has a webhook: send it after the commit
        transaction.on_commit(functools.partial(webhooks.enqueue_delivery, event.pk))
    cardcenter.notice_for_transition(card=card, name=name, from_status=from_status, at=now)
    electronic.event_for_transition(card=card, name=name, from_status=from_status, at=now)
    if not from_status and card.replaces_id is not None:
        cardcenter.new_card_recorded(card)
    # Side effects wait for the commit; the line names no person (PIPL).
    card_id, to_status, who = card.public_id, card.status, actor.describe()
    transaction.on_commit(
        lambda: logger.info(
            "card %s %s: %s -> %s by %s", card_id, name, from_status or "-", to_status, who
        )
    )
    return row


def record_function_event(
    *,
    card: Card,
    action: str,
    from_value: str,
    to_value: str,
    actor: Actor,
    now: datetime.datetime,
    reason: str = "",
    data: dict[str, Any] | None = None,
    emit: str | None = None,
) -> CardFunctionEvent:
    """Append the log row of one act on a card's functions or services (cards.services, issue
    #17) and, with `emit` (an OutboxEventKind), the outbox event that tells the card's bank."""
    row = CardFunctionEvent.objects.create(
        card=card,
        action=action,
        from_value=from_value,
        to_value=to_value,
        at=now,
        actor_kind=actor.kind,
        actor_user=actor.user,
        bank=actor.bank,
        service_point=actor.service_point,
        channel=actor.channel,
        reason=reason,
        data=data or {},
    )
    if emit is not None and card.bank_id is not None:
        event = OutboxEvent.objects.create(
            kind=emit,
            card=card,
            bank_id=card.bank_id,
            payload={
                "event": emit,
                "card": str(card.public_id),
                "transition": action,
                "from": from_value,
                "to": to_value,
                "at": event_time(now),
            },
            created_at=now,
            next_attempt_at=webhooks.first_attempt_at(card.bank_id, now),
        )
        if event.next_attempt_at is not None:
            transaction.on_commit(functools.partial(webhooks.enqueue_delivery, event.pk))
    card_id, who = card.public_id, actor.describe()
    transaction.on_commit(
        lambda: logger.info(
            "card %s %s: %s -> %s by %s", card_id, action, from_value or "-", to_value or "-", who
        )
    )
    return row


class TransitionRow(NamedTuple):
    """One card's transition in a set-based write (cards/batch.py): the card after it."""

    card: Card
    from_status: str
    channel: str
    reason: str = ""
    data: dict[str, Any] | None = None


def record_transitions(
    *, rows: list[TransitionRow], name: str, actor: Actor, now: datetime.datetime
) -> None:
    """`record_transition` for many cards at once (PostgreSQL): one multi-row INSERT of the log
    rows and one of the outbox events, in the order given, with exactly the columns and payloads
    the one-card path writes; the webhook deliveries and log lines after the commit. Every
    set-based write of partner events goes through here (a batch of the partner API)."""
    if not rows:
        return
    from django.db import connection

    first_attempt = {}
    for bank_id in {row.card.bank_id for row in rows}:
        at = webhooks.first_attempt_at(bank_id, now)
        first_attempt[bank_id] = at.isoformat() if at is not None else None
    # The rows travel as one JSON document (jsonb_to_recordset): one parameter, encoded in C.
    document = json.dumps(
        [
            {
                "card_id": row.card.pk,
                "public_id": str(row.card.public_id),
                "bank_id": row.card.bank_id,
                "from_status": row.from_status,
                "to_status": row.card.status,
                "channel": row.channel,
                "reason": row.reason,
                "data": seal_log_data(row.data, applicant_id=row.card.applicant_id),
                "attempt_at": first_attempt[row.card.bank_id],
                # As stored in cards_card: the notice's column copies it.
                "card_number": (
                    crypto.encrypt(row.card.card_number, context=CARD_NUMBER_CONTEXT)
                    if row.card.card_number
                    else None
                ),
            }
            for row in rows
        ],
        ensure_ascii=False,
    )
    params = {
        "rows": document,
        "name": name,
        "now": now,
        "kind": actor.kind,
        "user": getattr(actor.user, "pk", None),
        "bank": actor.bank.pk if actor.bank else None,
        "point": actor.service_point.pk if actor.service_point else None,
        "event": OutboxEventKind.CARD_STATUS_CHANGED,
        "at": event_time(now),
        **cardcenter.notice_sql_params(now),
    }
    with connection.cursor() as cursor:
        cursor.execute(_LOG_ROWS, params)
        cursor.execute(_OUTBOX_ROWS, params)
        to_send = [event_id for event_id, attempt_at in cursor.fetchall() if attempt_at]
        cursor.execute(_NOTICE_ROWS, params)  # the card center's, for changes of use
        notices = cursor.fetchall()
    for event_id in to_send:
        transaction.on_commit(functools.partial(webhooks.enqueue_delivery, event_id))
    if notices:
        cardcenter.deliver_after_commit()
    electronic.events_for_changes([(row.card, row.from_status) for row in rows], name=name, at=now)
    metrics.transition_recorded(name, actor.kind, len(rows))
    lines = [(row.card.public_id, row.from_status, row.card.status) for row in rows]
    who = actor.describe()

    def log_lines() -> None:
        for card_id, from_status, to_status in lines:
            logger.info(
                "card %s %s: %s -> %s by %s", card_id, name, from_status or "-", to_status, who
            )

    transaction.on_commit(log_lines)


_ROWS = """ROWS FROM (jsonb_to_recordset(%(rows)s::jsonb)
        AS (card_id bigint, public_id text, bank_id bigint, from_status text, to_status text,
            channel text, reason text, data jsonb, attempt_at timestamptz, card_number text))
    WITH ORDINALITY AS r(card_id, public_id, bank_id, from_status, to_status, channel, reason,
                         data, attempt_at, card_number, n)"""
_LOG_ROWS = f"""
INSERT INTO cards_cardtransition (card_id, name, from_status, to_status, at, recorded_at,
    actor_kind, actor_user_id, bank_id, service_point_id, channel, reason, data)
SELECT r.card_id, %(name)s, r.from_status, r.to_status, %(now)s, %(now)s, %(kind)s, %(user)s,
       %(bank)s, %(point)s, r.channel, r.reason, r.data
FROM {_ROWS}
ORDER BY r.n
"""  # noqa: S608 - constants only
_OUTBOX_ROWS = f"""
INSERT INTO cards_outboxevent (kind, card_id, bank_id, payload, created_at, attempts,
    next_attempt_at)
SELECT %(event)s, r.card_id, r.bank_id,
       jsonb_build_object('event', %(event)s, 'card', r.public_id, 'transition', %(name)s,
                          'from', r.from_status, 'to', r.to_status, 'at', %(at)s),
       %(now)s, 0, r.attempt_at
FROM {_ROWS}
ORDER BY r.n
RETURNING id, next_attempt_at
"""  # noqa: S608 - constants only
_NOTICE_ROWS = f"""
WITH changes AS (
    SELECT r.card_id, %(name)s::text AS name, r.from_status, r.to_status,
           %(now)s::timestamptz AS at, r.card_number
    FROM {_ROWS}
)
{cardcenter.notice_insert_sql(source="changes")}
"""  # noqa: S608 - constants only
