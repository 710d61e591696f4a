"""The municipal information service center (市信息中心): every change of whether a card may be
used is transmitted to it (seed 001: the service center "shall timely transmit the report of loss
to the municipal information service center"), for every card type, bank or not.

The adapter, beside the registry's (applicants/registry.py): CARD_CENTER_BACKEND names a class
with `destination` and `send(notice, body, headers) -> (delivered, what happened)`:
- `cards.cardcenter.LocalTableCardCenter` (default; `make run`, tests) records each notice once per
  notice id in `CardCenterReceipt`, visible in the admin;
- `cards.cardcenter.HttpCardCenter` POSTs it to CARD_CENTER_URL, signed like the bank webhooks
  with its own CARD_CENTER_SECRET.

The outbox: a transition that changes whether a card may be used (CARD_CENTER_NOTICE_TRANSITIONS)
writes a `CardCenterNotice` in its own transaction: services through `cards.events`
(`notice_for_transition`), set-based SQL (the expiry sweeps; a batch of partner calls) through
`notice_insert_sql`. After the commit a Celery task delivers it:
- in order per card: a notice is sent only when no older notice of the same card is undelivered;
  delivering one queues the next of its card;
- retried with exponential backoff from CARD_CENTER_RETRY_BASE to CARD_CENTER_RETRY_MAX, each
  retry queued at its own time (countdown); never given up (the duty to transmit stays);
- idempotent on the receiver: the same notice id (X-Shebao-Notice-Id, and "id" in the body) on
  every attempt;
- its own queue (CARD_CENTER_QUEUE), a slot limit, a circuit breaker and short timeouts
  (cards/delivery.py), so a slow center delays no bank and no bank delays the center;
- `redrive_notices` (beat, every minute) queues every notice whose attempt is overdue, whatever
  became of the tasks: the position is the notice rows themselves (`next_attempt_at`, set when
  the notice is written), in PostgreSQL, so losing Redis loses nothing.

The request: `POST <CARD_CENTER_URL>`, JSON (README, "The card center", lists the fields), with
  X-Shebao-Notice-Id: <uuid>       the same on every retry: deduplicate on it
  X-Shebao-Timestamp: <unix seconds>
  X-Shebao-Signature: v1=<hex HMAC-SHA256(CARD_CENTER_SECRET, "<timestamp>.<body>")>
Any 2xx is a delivery.
"""

from __future__ import annotations

import datetime
import functools
import json
import logging
from typing import Protocol

from celery import shared_task
from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Min
from django.utils import timezone
from django.utils.module_loading import import_string

from cards import delivery
from cards.choices import CARD_CENTER_NOTICE_TRANSITIONS, CardStatus, TransitionName
from cards.models import Card, CardCenterNotice, CardCenterReceipt

logger = logging.getLogger(__name__)

T = TransitionName
REDRIVE_BATCH = 500
REDRIVE_TIME_BUDGET = 20.0  # seconds per run; a long backlog goes on in the next runs
_KICK_KEY = "shebao:cardcenter:kick"
_KICK_PENDING_TIMEOUT = 60  # seconds: a queued kicked re-drive that never started is forgotten
# The issue of a new card: the notice names the card it replaces, if any.
_ISSUES = (T.HAND_OVER, T.ISSUE_ON_THE_SPOT)


# --- Writing notices (in the transition's transaction) ---------------------------------------


def notice_for_transition(
    *, card: Card, name: str, from_status: str, at: datetime.datetime
) -> CardCenterNotice | None:
    """Write the notice of one transition the caller just applied to `card` (not saved yet for
    the outbox: it is sent after the commit). None if the transition changes no card's use.

    A replacement's new card does not exist yet when the old card's `replace` is recorded;
    `new_card_recorded` links it in the same transaction."""
    if name not in CARD_CENTER_NOTICE_TRANSITIONS:
        return None
    related = card.replaces if name in _ISSUES else None
    notice = CardCenterNotice.objects.create(
        kind=name,
        card=card,
        card_type=card.card_type,
        card_number=card.card_number or "",
        bank_id=card.bank_id,
        from_status=from_status,
        to_status=card.status,
        at=at,
        related_card=related,
        related_card_number=(related.card_number or "") if related else "",
        created_at=at,
        next_attempt_at=at,
    )
    transaction.on_commit(functools.partial(enqueue_delivery, notice.pk))
    return notice


def new_card_recorded(card: Card) -> None:
    """A replacement card was created: its old card's `replace` notice names it."""
    if card.replaces_id is not None:
        CardCenterNotice.objects.filter(
            card_id=card.replaces_id,
            kind=T.REPLACE,
            related_card__isnull=True,
            delivered_at__isnull=True,
        ).update(related_card=card, related_card_number=card.card_number or "")


def notice_insert_sql(*, source: str) -> str:
    """PostgreSQL: one INSERT ... SELECT that writes the notice of every row of `source` whose
    transition changes whether a card may be used, and returns the notices' ids and cards. Usable
    as a statement or as a data-modifying CTE of the statement that applies the transitions (the
    expiry sweeps, cards/expiry.py; a set-based batch of partner calls).

    `source` names a relation (a table, or a CTE of the same statement) with the columns
    card_id, name, from_status, to_status, at, card_number: card_number as it is after the
    transition (a CTE sees cards_card as it was before the statement). Parameters: those of
    `notice_sql_params(now)`. After the commit, call `deliver_after_commit()` (or queue each id).
    """
    return f"""
INSERT INTO cards_cardcenternotice
    (notice_id, kind, card_id, card_type, card_number, bank_id, from_status, to_status, at,
     related_card_id, related_card_number, created_at, next_attempt_at, attempts, last_error)
SELECT gen_random_uuid(), s.name, s.card_id, c.card_type, COALESCE(s.card_number, ''), c.bank_id,
       s.from_status, s.to_status, s.at,
       CASE WHEN s.name = ANY(%(cc_issues)s) THEN c.replaces_id END,
       COALESCE(CASE WHEN s.name = ANY(%(cc_issues)s) THEN old.card_number END, ''),
       %(now)s, %(now)s, 0, ''
FROM {source} AS s
JOIN cards_card AS c ON c.id = s.card_id
LEFT JOIN cards_card AS old ON old.id = c.replaces_id
WHERE s.name = ANY(%(cc_kinds)s)
ORDER BY s.at, s.card_id
RETURNING id, card_id"""  # noqa: S608 - `source` is the caller's relation name, not input


def notice_sql_params(now: datetime.datetime) -> dict:
    return {
        "now": now,
        "cc_kinds": sorted(CARD_CENTER_NOTICE_TRANSITIONS),
        "cc_issues": sorted(_ISSUES),
    }


def notices_bulk_create(rows: list[dict]) -> list[CardCenterNotice]:
    """The portable twin of `notice_insert_sql` (SQLite, `make run`): `rows` of card (a Card),
    name, from_status, to_status, at; those whose transition changes no card's use are skipped."""
    now = timezone.now()
    notices = [
        CardCenterNotice(
            kind=row["name"],
            card=row["card"],
            card_type=row["card"].card_type,
            card_number=row["card"].card_number or "",
            bank_id=row["card"].bank_id,
            from_status=row["from_status"],
            to_status=row["to_status"],
            at=row["at"],
            created_at=now,
            next_attempt_at=now,
        )
        for row in rows
        if row["name"] in CARD_CENTER_NOTICE_TRANSITIONS
    ]
    return CardCenterNotice.objects.bulk_create(notices)


def deliver_after_commit() -> None:
    """After the commit of set-based notices: queue one re-drive that takes them at once."""
    transaction.on_commit(kick)


# --- The adapter ------------------------------------------------------------------------------


class CardCenterBackend(Protocol):
    destination: str

    def send(
        self, notice: CardCenterNotice, body: bytes, headers: dict[str, str]
    ) -> tuple[bool, str]: ...


class LocalTableCardCenter:
    """The default backend: the center is a table here (`CardCenterReceipt`), deduplicating on
    the notice id as the real one does."""

    destination = "cardcenter"

    def send(self, notice, body, headers):
        document = json.loads(body)
        try:
            with transaction.atomic():
                CardCenterReceipt.objects.create(
                    notice_id=notice.notice_id,
                    kind=notice.kind,
                    card_number=notice.card_number or "",
                    body=document,
                )
        except IntegrityError:
            CardCenterReceipt.objects.filter(notice_id=notice.notice_id).update(
                times_received=F("times_received") + 1
            )
        return True, "recorded"


class HttpCardCenter:
    """The center's endpoint: CARD_CENTER_URL, signed with CARD_CENTER_SECRET."""

    destination = "cardcenter"

    def send(self, notice, body, headers):
        if not settings.CARD_CENTER_URL or not settings.CARD_CENTER_SECRET:
            return False, "CARD_CENTER_URL or CARD_CENTER_SECRET not set"
        return delivery.post_json(
            settings.CARD_CENTER_URL,
            body,
            headers,
            connect_timeout=settings.CARD_CENTER_CONNECT_TIMEOUT,
            read_timeout=settings.CARD_CENTER_TIMEOUT,
        )


def get_card_center() -> CardCenterBackend:
    return import_string(settings.CARD_CENTER_BACKEND)()


# --- Delivery ---------------------------------------------------------------------------------


def notice_document(notice: CardCenterNotice) -> dict:
    """The notice as the center receives it: built from the notice's own columns only, so every
    attempt sends the same document."""
    from cards.events import event_time

    document = {
        "id": str(notice.notice_id),
        "kind": notice.kind,
        "card": str(notice.card.public_id),
        "card_type": notice.card_type,
        "card_number": notice.card_number or None,
        "bank": notice.bank.code if notice.bank_id else None,
        "from": notice.from_status,
        "to": notice.to_status,
        "usable": notice.to_status == CardStatus.ISSUED,
        "at": event_time(notice.at),
    }
    related = str(notice.related_card.public_id) if notice.related_card_id else None
    if notice.kind == T.REPLACE:
        document["new_card"] = related
    elif notice.kind in _ISSUES:
        document["replaces_card"] = related
        document["replaces_card_number"] = notice.related_card_number or None
    return document


def notice_body(notice: CardCenterNotice) -> bytes:
    document = notice_document(notice)
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def retry_delay(attempts: int) -> datetime.timedelta:
    return delivery.retry_delay(
        attempts, base=settings.CARD_CENTER_RETRY_BASE, cap=settings.CARD_CENTER_RETRY_MAX
    )


NOTICES = delivery.InOrderOutbox(
    model=CardCenterNotice,
    uid_field="notice_id",
    id_header="X-Shebao-Notice-Id",
    user_agent="shebao-cardcenter/1",
    secret_setting="CARD_CENTER_SECRET",
    related=("card", "bank", "related_card"),
    body=lambda notice: notice_body(notice),
    backend=lambda: get_card_center(),
    retry_delay=lambda attempts: retry_delay(attempts),  # never given up: the center must hear
    what="card-center notice",
)


def notice_deliver(*, notice_id: int) -> str:
    """One attempt at delivering one notice; returns what happened (delivery.InOrderOutbox)."""
    return NOTICES.deliver(notice_id)


def next_of_card(notice_id: int) -> int | None:
    """The oldest undelivered notice of the same card as `notice_id`, if due."""
    return NOTICES.next_of_card(notice_id)


def enqueue_delivery(notice_id: int) -> None:
    """Queue one delivery (after the commit that wrote the notice). If the broker is down, the
    re-drive sends the notice later."""
    try:
        deliver_notice.apply_async((notice_id,), queue=settings.CARD_CENTER_QUEUE)
    except Exception:
        logger.warning("could not queue card-center notice %s", notice_id, exc_info=True)


def kick() -> None:
    """Queue a re-drive now (set-based notices were committed): coalesced, never dropped.

    The key says "a kicked re-drive is queued and has not started"; the re-drive deletes it
    before it scans. So a kick that finds the key set needs nothing more: that re-drive starts
    after this commit and takes these notices too. (Before, a second batch within the same
    second found a one-second key and queued nothing: its notices waited for beat's re-drive.)
    The key's timeout only covers a queued re-drive that was lost (beat's covers that too)."""
    try:
        if cache.add(_KICK_KEY, 1, timeout=_KICK_PENDING_TIMEOUT):
            try:
                redrive_notices.apply_async(
                    kwargs={"grace_seconds": 0, "kicked": True}, queue=settings.CARD_CENTER_QUEUE
                )
            except Exception:
                cache.delete(_KICK_KEY)  # nothing is queued: the next kick tries again
                raise
    except Exception:
        logger.warning("could not queue the card-center re-drive", exc_info=True)


def notice_redrive(
    *, grace: datetime.timedelta | None = None, limit: int = REDRIVE_BATCH
) -> list[int]:
    """Queue a delivery for every notice due since `grace` (default DELIVERY_REDRIVE_GRACE) that
    is the oldest undelivered of its card; return their ids. Scans forward by (next_attempt_at,
    id) within a time budget."""
    return NOTICES.redrive(
        grace=grace, limit=limit, enqueue=enqueue_delivery, budget=REDRIVE_TIME_BUDGET
    )


def notice_backlog() -> dict:
    """The card center's delivery state for the admin: undelivered count, oldest, last error."""
    undelivered = CardCenterNotice.objects.filter(delivered_at__isnull=True)
    totals = undelivered.aggregate(count=Count("id"), oldest=Min("created_at"))
    last_error = (
        undelivered.exclude(last_error="")
        .order_by("-id")
        .values_list("last_error", flat=True)
        .first()
    )
    return {
        "destination": get_card_center().destination,
        "count": totals["count"],
        "oldest": totals["oldest"],
        "last_error": last_error or "",
        "breaker": delivery.Breaker(get_card_center().destination).state(),
    }


@shared_task(name="cards.cardcenter.deliver_notice", acks_late=True, ignore_result=True)
def deliver_notice(notice_id: int) -> str:
    """One attempt at one notice; then its retry, or its card's next notice, at their time."""
    outcome = notice_deliver(notice_id=notice_id)
    NOTICES.after_attempt(
        deliver_notice,
        notice_id,
        outcome,
        queue=settings.CARD_CENTER_QUEUE,
        enqueue=enqueue_delivery,
    )
    return outcome


@shared_task(
    name="cards.cardcenter.redrive_notices",
    acks_late=True,
    ignore_result=True,
    soft_time_limit=50,
    time_limit=55,
)
def redrive_notices(grace_seconds: float | None = None, kicked: bool = False) -> int:
    """Queue the notices that are overdue, whatever became of the tasks queued before. A kicked
    re-drive first clears the kick's key, so a kick after this instant queues another."""
    if kicked:
        try:
            cache.delete(_KICK_KEY)
        except Exception:
            logger.warning("could not clear the card-center kick", exc_info=True)
    grace = None if grace_seconds is None else datetime.timedelta(seconds=grace_seconds)
    return len(notice_redrive(grace=grace))
