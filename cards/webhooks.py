"""Webhooks: each outbox event of a bank with a webhook URL is POSTed to it, signed, and retried
with backoff until it is delivered (or given up: the bank still has the event feed).

- Never inside a request or a transaction: a transition only schedules its event
  (`next_attempt_at`) and, after its commit, queues `deliver_event`; the delivery runs in a worker,
  in autocommit, and records its outcome on the outbox row. A failed attempt queues the next one
  at its own time (countdown).
- A lost task only delays an event: `redrive_undelivered_events` (beat, every minute) queues every
  event whose attempt is overdue, and schedules the events written by set-based SQL (the expiry
  sweeps) that nobody queued, scanning forward from a position kept in PostgreSQL
  (`DeliveryCursor`), so an empty Redis loses no event.
- Each bank is a destination of its own (cards/delivery.py): its own queue (WEBHOOK_QUEUE), at
  most DELIVERY_CONCURRENCY_PER_DESTINATION deliveries in flight, a circuit breaker, a short
  connect timeout: one hanging bank does not delay another.
- One attempt at a time per event: a worker claims the event by moving `next_attempt_at` a lease
  ahead in one UPDATE; a second task for the same event finds nothing to claim.

The request: `POST <webhook_url>` with the event as JSON (the same fields as GET /events) and
  X-Shebao-Event-Id: <id>                the same id on every retry: deduplicate on it
  X-Shebao-Timestamp: <unix seconds>     when this attempt was signed
  X-Shebao-Signature: v1=<hex>           HMAC-SHA256 with the bank's webhook secret over
                                         "<timestamp>.<body>"
The bank recomputes the signature and refuses a timestamp more than 5 minutes off (a replayed
request). Any 2xx answer is a delivery; anything else, a timeout or a refused connection is
retried after WEBHOOK_RETRY_BASE, doubling up to WEBHOOK_RETRY_MAX, WEBHOOK_MAX_ATTEMPTS times
(a deferral by the breaker or a busy destination is not an attempt).
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import logging
import time

from celery import shared_task
from django.conf import settings
from django.db import connection
from django.db.models import Count, Min, Q
from django.utils import timezone

from agencies.models import PartnerBank
from cards import delivery
from cards.models import DeliveryCursor, OutboxEvent

logger = logging.getLogger(__name__)

SIGNATURE_VERSION = "v1"
REPLAY_TOLERANCE_SECONDS = 300
# While one worker delivers an event, nobody else takes it.
LEASE = delivery.LEASE
REDRIVE_BATCH = 500
TRIAGE_BATCH = 5000
TRIAGE_TIME_BUDGET = 20.0  # seconds per run; a long catch-up goes on in the next runs
TRIAGE_CURSOR = "webhooks.triage"


# --- Signing --------------------------------------------------------------------------------


def event_body(event: OutboxEvent) -> bytes:
    """The JSON body of an event's webhook: the same fields as GET /events."""
    document = {"id": event.pk, **event.payload}
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def sign(*, secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"{SIGNATURE_VERSION}={mac.hexdigest()}"


def verify_signature(
    *,
    secret: str,
    timestamp: str,
    body: bytes,
    signature: str,
    now: float | None = None,
    tolerance: int = REPLAY_TOLERANCE_SECONDS,
) -> bool:
    """What a bank does with a webhook it receives (and what the tests do)."""
    try:
        stamp = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs((time.time() if now is None else now) - stamp) > tolerance:
        return False
    return hmac.compare_digest(sign(secret=secret, timestamp=stamp, body=body), signature)


# --- Scheduling (from the transitions) --------------------------------------------------------


def first_attempt_at(bank_id: int | None, now: datetime.datetime) -> datetime.datetime | None:
    """When a new event of this bank is first sent: now if the bank has a webhook, else never."""
    if bank_id is None:
        return None
    has_webhook = PartnerBank.objects.filter(pk=bank_id).exclude(webhook_url="").exists()
    return now if has_webhook else None


def enqueue_delivery(event_id: int) -> None:
    """Queue one delivery (after the commit that wrote the event). If the broker is down, the
    re-drive sends the event later."""
    try:
        deliver_event.apply_async((event_id,), queue=settings.WEBHOOK_QUEUE)
    except Exception:
        logger.warning("could not queue webhook delivery of event %s", event_id, exc_info=True)


# --- Delivery ---------------------------------------------------------------------------------


def retry_delay(attempts: int) -> datetime.timedelta:
    """After `attempts` failed attempts: the base delay, doubled each time, capped."""
    return delivery.retry_delay(
        attempts, base=settings.WEBHOOK_RETRY_BASE, cap=settings.WEBHOOK_RETRY_MAX
    )


def destination(bank_code: str) -> str:
    return f"bank:{bank_code}"


def webhook_deliver(*, event_id: int) -> str:
    """One attempt at delivering one event; returns what happened (for logs and tests).

    Outcomes: delivered, failed (retry scheduled), gave_up, deferred (the bank's breaker is open
    or its slots are busy: not an attempt), not_due (delivered already, not due, or another worker
    has it), no_webhook (the bank has none now; the event is unscheduled).
    """
    if connection.in_atomic_block:
        raise RuntimeError("A webhook is never sent inside a database transaction.")
    now = timezone.now()
    claimed = OutboxEvent.objects.filter(
        pk=event_id, delivered_at__isnull=True, next_attempt_at__lte=now
    ).update(next_attempt_at=now + LEASE)
    if not claimed:
        return "not_due"
    event = OutboxEvent.objects.select_related("bank").get(pk=event_id)
    bank = event.bank
    if bank is None or not bank.webhook_url or not bank.webhook_secret:
        OutboxEvent.objects.filter(pk=event_id).update(
            next_attempt_at=None, last_error="no webhook URL or secret"
        )
        return "no_webhook"
    breaker = delivery.Breaker(destination(bank.code))
    blocked_until = breaker.blocked_until()
    if blocked_until is not None:
        OutboxEvent.objects.filter(pk=event_id).update(next_attempt_at=blocked_until)
        return "deferred"
    body = event_body(event)
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "shebao-webhooks/1",
        "X-Shebao-Event-Id": str(event.pk),
        "X-Shebao-Timestamp": str(timestamp),
        "X-Shebao-Signature": sign(secret=bank.webhook_secret, timestamp=timestamp, body=body),
    }
    with delivery.destination_slot(destination(bank.code)) as slot:
        if not slot:
            OutboxEvent.objects.filter(pk=event_id).update(
                next_attempt_at=timezone.now() + delivery.SLOT_WAIT
            )
            return "deferred"
        ok, answer = delivery.post_json(
            bank.webhook_url,
            body,
            headers,
            connect_timeout=settings.WEBHOOK_CONNECT_TIMEOUT,
            read_timeout=settings.WEBHOOK_TIMEOUT,
        )
    attempts = event.attempts + 1
    done = timezone.now()
    gave_up = not ok and attempts >= settings.WEBHOOK_MAX_ATTEMPTS
    delivery.attempt_recorded(
        OutboxEvent.objects.filter(pk=event_id),
        ok=ok,
        answer=f"gave up: {answer}" if gave_up else answer,
        breaker=breaker,
        done=done,
        retry_at=None if gave_up else done + retry_delay(attempts),
    )
    if ok:
        return "delivered"
    logger.info("webhook event %s to %s: %s (attempt %d)", event_id, bank.code, answer, attempts)
    return "gave_up" if gave_up else "failed"


# --- Re-drive ---------------------------------------------------------------------------------


def _triage_watermark(banks: set[int]) -> int:
    """Where the last scan stopped, kept in PostgreSQL beside the events (`DeliveryCursor`): an
    empty Redis, or a database restored without it, never moves it. Without one (the first run):
    the newest event the webhooks have handled, or else the newest settled event: a bank is sent
    the events from when it registered its webhook, not its whole history."""
    from cards.api.sync import outbox_settled_id

    remembered = (
        DeliveryCursor.objects.filter(name=TRIAGE_CURSOR).values_list("position", flat=True).first()
    )
    if remembered is not None:
        return remembered
    handled = (
        OutboxEvent.objects.filter(bank_id__in=banks)
        .filter(Q(next_attempt_at__isnull=False) | Q(delivered_at__isnull=False))
        .order_by("-id")
        .values_list("id", flat=True)
        .first()
    )
    start = handled if handled is not None else outbox_settled_id()
    _remember_watermark(start)
    return start


def _remember_watermark(event_id: int) -> None:
    DeliveryCursor.objects.update_or_create(name=TRIAGE_CURSOR, defaults={"position": event_id})


def _schedule_unqueued(now: datetime.datetime) -> int:
    """Give a first attempt to events of banks with a webhook that nobody scheduled (rows written
    by set-based SQL, cards/expiry.py), scanning forward from a watermark up to the settled
    outbox id, so that an event committed late is never passed over."""
    from cards.api.sync import outbox_settled_id

    banks = set(PartnerBank.objects.exclude(webhook_url="").values_list("pk", flat=True))
    watermark = _triage_watermark(banks)
    settled = outbox_settled_id(at_least=watermark)
    scheduled = 0
    started = time.monotonic()
    moved = False
    while watermark < settled and time.monotonic() - started < TRIAGE_TIME_BUDGET:
        rows = list(
            OutboxEvent.objects.filter(
                delivered_at__isnull=True,
                next_attempt_at__isnull=True,
                id__gt=watermark,
                id__lte=settled,
            )
            .order_by("id")
            .values_list("id", "bank_id")[:TRIAGE_BATCH]
        )
        if not rows:
            break
        ids = [event_id for event_id, bank_id in rows if bank_id in banks]
        if ids:
            scheduled += OutboxEvent.objects.filter(
                id__in=ids, delivered_at__isnull=True, next_attempt_at__isnull=True
            ).update(next_attempt_at=now)
        watermark, moved = rows[-1][0], True
    if moved:
        _remember_watermark(watermark)
    return scheduled


def webhook_redrive(
    *, grace: datetime.timedelta | None = None, limit: int = REDRIVE_BATCH
) -> list[int]:
    """Queue a delivery for every event whose attempt is due since `grace` (default
    DELIVERY_REDRIVE_GRACE; the events newly scheduled by the triage at once); return their
    ids."""
    grace = settings.DELIVERY_REDRIVE_GRACE if grace is None else grace
    now = timezone.now()
    _schedule_unqueued(now - grace)
    due = list(
        OutboxEvent.objects.filter(delivered_at__isnull=True, next_attempt_at__lte=now - grace)
        .order_by("next_attempt_at", "id")
        .values_list("id", flat=True)[:limit]
    )
    for event_id in due:
        enqueue_delivery(event_id)
    return due


@shared_task(
    name="cards.webhooks.deliver_event",
    acks_late=True,
    ignore_result=True,
    soft_time_limit=120,
    time_limit=180,
)
def deliver_event(event_id: int) -> str:
    """One attempt at delivering one event to its bank's webhook; then its retry, at its time."""
    outcome = webhook_deliver(event_id=event_id)
    if outcome in ("failed", "deferred"):
        at = (
            OutboxEvent.objects.filter(pk=event_id)
            .values_list("next_attempt_at", flat=True)
            .first()
        )
        delivery.schedule(deliver_event, event_id, at=at, queue=settings.WEBHOOK_QUEUE)
    return outcome


def webhook_backlog() -> list[dict]:
    """Per bank with a webhook: scheduled undelivered events, the oldest, the last error, and the
    breaker's state (for the admin)."""
    banks = {bank.pk: bank for bank in PartnerBank.objects.exclude(webhook_url="")}
    # The backlog is the scheduled undelivered rows (outbox_undelivered_idx): a bank's unsent
    # history is not scanned. Two queries whatever the number of banks.
    scheduled = OutboxEvent.objects.filter(
        delivered_at__isnull=True, next_attempt_at__isnull=False, bank_id__in=list(banks)
    )
    rows = (
        scheduled.values("bank_id").annotate(count=Count("id"), oldest=Min("created_at")).order_by()
    )
    by_bank = {row["bank_id"]: row for row in rows}
    last_errors = dict(
        scheduled.exclude(last_error="")
        .order_by("bank_id", "-id")
        .distinct("bank_id")
        .values_list("bank_id", "last_error")
    )
    backlog = []
    for bank_id, bank in sorted(banks.items(), key=lambda item: item[1].code):
        row = by_bank.get(bank_id, {})
        last_error = last_errors.get(bank_id)
        backlog.append(
            {
                "destination": destination(bank.code),
                "count": row.get("count", 0),
                "oldest": row.get("oldest"),
                "last_error": last_error or "",
                "breaker": delivery.Breaker(destination(bank.code)).state(),
            }
        )
    return backlog


@shared_task(
    name="cards.webhooks.redrive_undelivered_events",
    acks_late=True,
    ignore_result=True,
    soft_time_limit=50,
    time_limit=55,
)
def redrive_undelivered_events() -> int:
    """Queue the deliveries that are due, whatever became of the tasks queued before."""
    return len(webhook_redrive())
