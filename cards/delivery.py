"""What the outboxes (partner webhooks, cards/webhooks.py; card-center notices,
cards/cardcenter.py; electronic-card events, cards/electronic.py) share on their way out, so
that one slow or dead destination never delays another:

- `post_json`: one POST with a short connect timeout and a separate read timeout, no redirects.
- `destination_slot`: at most DELIVERY_CONCURRENCY_PER_DESTINATION deliveries in flight to one
  destination, across every worker process and thread (PostgreSQL session advisory locks: a killed
  worker's connection closes and its slot is free again). A delivery that finds no free slot is
  put back a moment later, so a hanging endpoint holds at most that many worker threads.
- `Breaker`: a circuit breaker per destination (state in Redis): after
  DELIVERY_BREAKER_FAILURES failures in a row, nothing is sent there for
  DELIVERY_BREAKER_COOLDOWN_SECONDS; then one trial delivery decides whether it closes again.
  If Redis cannot be reached the breaker stays out of the way (it only saves attempts).
- `schedule`: the next attempt of one row queued at its own time (countdown), in the
  destination's queue; the re-drive (beat, every minute) is only the safety net.
- `InOrderOutbox`: one attempt at a row of an outbox sent in order per card (claim, breaker,
  slot, signed POST, outcome), and what its task does next.
"""

from __future__ import annotations

import contextlib
import datetime
import http.client
import logging
import time
import urllib.parse
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import Exists, OuterRef
from django.utils import timezone

logger = logging.getLogger(__name__)

# While one worker delivers a row, nobody else takes it (longer than connect + read timeouts).
LEASE = datetime.timedelta(seconds=60)
# A delivery that found its destination's slots all taken is tried again this much later.
SLOT_WAIT = datetime.timedelta(seconds=2)
# Attempts due later than this are left to the re-drive rather than held by a worker as an ETA
# task (kombu's Redis transport redelivers unacknowledged messages after its visibility timeout).
COUNTDOWN_LIMIT = datetime.timedelta(minutes=10)
# The advisory-lock namespace of delivery slots (the first key of pg_try_advisory_lock(int, int)).
_SLOT_NAMESPACE = 0x5EB0


def post_json(
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    connect_timeout: float,
    read_timeout: float,
) -> tuple[bool, str]:
    """POST `body`; (delivered, what happened). Any 2xx is a delivery; a 3xx is an answer, not a
    delivery (no redirects are followed)."""
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port  # a malformed port raises here: an answer, recorded like any other
    except ValueError as exc:
        return False, f"malformed URL: {exc}"
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return False, "not an http(s) URL"
    kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    try:
        conn = kind(parts.hostname, port, timeout=connect_timeout)
    except (http.client.InvalidURL, ValueError) as exc:
        return False, f"malformed URL: {exc}"
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        conn.connect()
        conn.sock.settimeout(read_timeout)
        conn.request("POST", path, body=body, headers={**headers, "Connection": "close"})
        response = conn.getresponse()
        response.read(1024)
        return 200 <= response.status < 300, f"HTTP {response.status}"
    except (OSError, http.client.HTTPException, ValueError) as exc:
        return False, f"{type(exc).__name__}: {exc}"
    finally:
        conn.close()


def retry_delay(attempts: int, *, base: datetime.timedelta, cap: datetime.timedelta):
    """After `attempts` failed attempts: the base delay, doubled each time, capped."""
    return min(base * (2 ** min(max(attempts - 1, 0), 30)), cap)


def _slot_key(destination: str, slot: int) -> int:
    value = zlib.crc32(f"{destination}#{slot}".encode())
    return value - 2**32 if value >= 2**31 else value  # PostgreSQL's int4


@contextlib.contextmanager
def destination_slot(destination: str) -> Iterator[bool]:
    """Yields whether a delivery slot of `destination` is ours for the duration. Without
    PostgreSQL (make run on SQLite: one worker) every delivery has one."""
    limit = settings.DELIVERY_CONCURRENCY_PER_DESTINATION
    if connection.vendor != "postgresql" or limit <= 0:
        yield True
        return
    held = None
    with connection.cursor() as cursor:
        for slot in range(limit):
            key = _slot_key(destination, slot)
            cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [_SLOT_NAMESPACE, key])
            if cursor.fetchone()[0]:
                held = key
                break
    try:
        yield held is not None
    finally:
        if held is not None:
            with contextlib.suppress(Exception), connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [_SLOT_NAMESPACE, held])


class Breaker:
    """The circuit breaker of one destination (see the module's docstring)."""

    def __init__(self, destination: str) -> None:
        prefix = f"shebao:breaker:{destination}"
        self.failures_key = f"{prefix}:failures"
        self.open_key = f"{prefix}:open-until"
        self.probe_key = f"{prefix}:probe"

    def blocked_until(self) -> datetime.datetime | None:
        """None if a delivery may go now; else when to try again."""
        try:
            open_until = cache.get(self.open_key)
            if open_until is None:
                return None
            now = time.time()
            if now < open_until:
                return _at(open_until)
            # Half-open: one trial delivery at a time; the others wait for its outcome.
            probe_seconds = int(LEASE.total_seconds())
            if cache.add(self.probe_key, 1, timeout=probe_seconds):
                return None
            return _at(now + SLOT_WAIT.total_seconds())
        except Exception:
            logger.warning("circuit breaker state unreadable; delivering", exc_info=True)
            return None

    def succeeded(self) -> None:
        with contextlib.suppress(Exception):
            cache.delete_many([self.failures_key, self.open_key, self.probe_key])

    def failed(self) -> None:
        try:
            cache.add(self.failures_key, 0, timeout=None)
            failures = cache.incr(self.failures_key)
            if failures >= settings.DELIVERY_BREAKER_FAILURES:
                until = time.time() + settings.DELIVERY_BREAKER_COOLDOWN.total_seconds()
                cache.set(self.open_key, until, timeout=None)
                cache.delete(self.probe_key)
        except Exception:
            logger.warning("circuit breaker state not saved", exc_info=True)

    def state(self) -> tuple[str, datetime.datetime | None]:
        """("closed" | "open" | "half-open", open until) for the admin."""
        try:
            open_until = cache.get(self.open_key)
        except Exception:
            return "unknown", None
        if open_until is None:
            return "closed", None
        return ("open" if time.time() < open_until else "half-open"), _at(open_until)


def _at(timestamp: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(timestamp, tz=datetime.UTC)


def schedule(task, object_id: int, *, at: datetime.datetime | None, queue: str) -> None:
    """Queue `task(object_id)` to run at `at` (now if past); later than COUNTDOWN_LIMIT, or if
    the broker cannot be reached, the re-drive queues it when it is due."""
    if at is None:
        return
    delay = max((at - timezone.now()).total_seconds(), 0.0)
    if delay > COUNTDOWN_LIMIT.total_seconds():
        return
    try:
        task.apply_async((object_id,), countdown=delay, queue=queue)
    except Exception:
        logger.warning("could not queue %s(%s)", task.name, object_id, exc_info=True)


def attempt_recorded(
    rows, *, ok: bool, answer: str, breaker: Breaker, done: datetime.datetime, retry_at
) -> None:
    """One delivery attempt's outcome on its outbox row (`rows`, a queryset of one row of
    cards.models.DeliveryState): delivered, or failed with the error kept and the next attempt at
    `retry_at` (None: given up). The destination's breaker hears of it either way."""
    from django.db.models import F

    if ok:
        breaker.succeeded()
        rows.update(
            delivered_at=done, attempts=F("attempts") + 1, next_attempt_at=None, last_error=""
        )
        return
    breaker.failed()
    rows.update(attempts=F("attempts") + 1, next_attempt_at=retry_at, last_error=answer[:255])


# --- Outboxes delivered in order per card (card-center notices, electronic-card events) -------


@dataclass(frozen=True)
class InOrderOutbox:
    """An outbox of cards.models.DeliveryState rows with a `card` and a public uuid, sent one at a
    time per card, oldest first, signed like the webhooks: what cards/cardcenter.py and
    cards/electronic.py share. Each names its model, its backend and its document."""

    model: Any
    uid_field: str  # the row's public id, sent as `id_header` (the receiver deduplicates on it)
    id_header: str
    user_agent: str
    secret_setting: str
    related: tuple[str, ...]  # select_related for building the body
    body: Callable[[Any], bytes]
    backend: Callable[[], Any]  # .destination, .send(row, body, headers) -> (ok, answer)
    retry_delay: Callable[[int], datetime.timedelta]
    what: str  # for the logs

    def older_undelivered(self):
        return self.model.objects.filter(
            card_id=OuterRef("card_id"), delivered_at__isnull=True, id__lt=OuterRef("id")
        )

    def deliver(self, pk: int) -> str:
        """One attempt at one row. Outcomes: delivered; failed (retry scheduled); deferred
        (breaker open or no free slot: not an attempt); waiting (an older row of the card is
        undelivered: its delivery queues this one); not_due (delivered already, not due, or
        another worker has it)."""
        from cards.webhooks import sign

        if connection.in_atomic_block:
            raise RuntimeError(f"A {self.what} is never sent inside a database transaction.")
        objects = self.model.objects
        now = timezone.now()
        due = objects.filter(pk=pk, delivered_at__isnull=True, next_attempt_at__lte=now)
        claimed = due.exclude(Exists(self.older_undelivered())).update(next_attempt_at=now + LEASE)
        if not claimed:
            return "waiting" if due.exists() else "not_due"
        backend = self.backend()
        breaker = Breaker(backend.destination)
        blocked_until = breaker.blocked_until()
        if blocked_until is not None:
            objects.filter(pk=pk).update(next_attempt_at=blocked_until)
            return "deferred"
        row = objects.select_related(*self.related).get(pk=pk)
        body = self.body(row)
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": self.user_agent,
            self.id_header: str(getattr(row, self.uid_field)),
            "X-Shebao-Timestamp": str(timestamp),
            "X-Shebao-Signature": sign(
                secret=getattr(settings, self.secret_setting), timestamp=timestamp, body=body
            ),
        }
        with destination_slot(backend.destination) as slot:
            if not slot:
                objects.filter(pk=pk).update(next_attempt_at=timezone.now() + SLOT_WAIT)
                return "deferred"
            ok, answer = backend.send(row, body, headers)
        done = timezone.now()
        attempts = row.attempts + 1
        attempt_recorded(
            objects.filter(pk=pk),
            ok=ok,
            answer=answer,
            breaker=breaker,
            done=done,
            retry_at=done + self.retry_delay(attempts),  # never given up
        )
        if ok:
            return "delivered"
        logger.info("%s %s: %s (attempt %d)", self.what, pk, answer, attempts)
        return "failed"

    def next_of_card(self, pk: int) -> int | None:
        """The oldest undelivered row of the same card as `pk`, if due."""
        card_id = self.model.objects.filter(pk=pk).values_list("card_id", flat=True)
        return (
            self.model.objects.filter(
                card_id__in=card_id, delivered_at__isnull=True, next_attempt_at__lte=timezone.now()
            )
            .order_by("id")
            .values_list("id", flat=True)
            .first()
        )

    def redrive(
        self, *, grace: datetime.timedelta | None, limit: int, enqueue, budget: float = 20.0
    ) -> list[int]:
        """Queue a delivery for every row due since `grace` (default DELIVERY_REDRIVE_GRACE) that
        is the oldest undelivered of its card; return their ids. Scans forward by
        (next_attempt_at, id), `limit` rows a page, within `budget` seconds; a longer backlog goes
        on in the next run."""
        grace = settings.DELIVERY_REDRIVE_GRACE if grace is None else grace
        horizon = timezone.now() - grace
        queued: list[int] = []
        started = time.monotonic()
        after: tuple[datetime.datetime, int] | None = None
        while time.monotonic() - started < budget:
            rows = self.model.objects.filter(
                delivered_at__isnull=True, next_attempt_at__lte=horizon
            )
            if after is not None:
                rows = rows.filter(next_attempt_at__gte=after[0]).exclude(
                    next_attempt_at=after[0], id__lte=after[1]
                )
            page = list(
                rows.exclude(Exists(self.older_undelivered()))
                .order_by("next_attempt_at", "id")
                .values_list("next_attempt_at", "id")[:limit]
            )
            for _at, pk in page:
                enqueue(pk)
                queued.append(pk)
            if len(page) < limit:
                break
            after = page[-1]
        return queued

    def after_attempt(self, task, pk: int, outcome: str, *, queue: str, enqueue) -> None:
        """What a delivery task does next: the card's next row after a delivery, or this row's
        own retry at its time."""
        if outcome == "delivered":
            following = self.next_of_card(pk)
            if following is not None:
                enqueue(following)
        elif outcome in ("failed", "deferred"):
            at = self.model.objects.filter(pk=pk).values_list("next_attempt_at", flat=True).first()
            schedule(task, pk, at=at, queue=queue)
