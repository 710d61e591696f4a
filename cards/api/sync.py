"""Positions in the two incremental feeds of the API, such that a bank that syncs again and again
never misses a change and never gets one twice.

The difficulty: a row is stamped before its transaction commits, and transactions commit in another
order than they stamp. A card saved at 10:00:00.100 by a transaction that commits at 10:00:00.900
is invisible to a bank syncing at 10:00:00.500, which may already have received a card stamped
10:00:00.300 and moved its cursor past 10:00:00.100 for good. A cursor alone cannot see that gap.

GET /cards (cursor on `updated_at`, `id`)
    Serves only rows stamped before a horizon: the start of the oldest transaction still running
    that may write (it holds a transaction id or is running a statement), or now if there is none,
    minus API_SYNC_MARGIN. A transaction stamps its rows after it starts (`auto_now` at save time;
    the services take `now` just before their first statement), so every row still to be committed
    is stamped after the horizon and will sort after the cursor. The margin covers the clocks of
    the web servers (which stamp) and of PostgreSQL (which tells when transactions started)
    disagreeing. A change thus shows up in the list about API_SYNC_MARGIN after its commit; the
    card itself (GET /cards/{id}) shows it at once.

GET /events (cursor on the outbox id)
    Ids come from a sequence, handed out before commit. Reading the sequence's last value L at time
    t, then seeing no transaction that may write and started at or before t, proves that every id
    up to L belongs to a finished transaction: a transaction still running started after t, so it
    drew its ids after L. Only PostgreSQL's own clock is involved. While a transaction that
    started before t still runs, the feed waits for it briefly (API_FEED_SETTLE_WAIT), then
    answers no further events this time: it lags, it never skips.

Both read pg_stat_activity, which shows every session of the application's own database role (the
web and worker processes all use one role). On SQLite (`make run` without servers) writers are
serialised, so the newest committed row is always settled.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import time

from django.conf import settings
from django.db import connection
from django.utils import timezone

# Sessions of this database, other than ours, in a transaction that may still commit rows: it has
# a transaction id (it wrote, or locked rows to write) or is running a statement right now.
_WRITERS = """
    FROM pg_stat_activity a
    WHERE a.datname = current_database()
      AND a.pid <> pg_backend_pid()
      AND a.backend_type = 'client backend'
      AND a.xact_start IS NOT NULL
      AND (a.backend_xid IS NOT NULL OR a.state = 'active')
"""
_HORIZON_SQL = f"SELECT LEAST(clock_timestamp(), MIN(a.xact_start)) {_WRITERS}"
_WRITERS_SINCE_SQL = f"SELECT EXISTS (SELECT 1 {_WRITERS} AND a.xact_start <= %s)"
_OUTBOX_LAST_SQL = (
    "SELECT clock_timestamp(), COALESCE(pg_sequence_last_value("
    "pg_get_serial_sequence('cards_outboxevent', 'id')::regclass), 0)"
)


def _fresh_activity(cursor) -> None:
    """Inside a transaction PostgreSQL keeps its first view of pg_stat_activity: drop it. (A
    request outside a transaction gets a fresh view with every statement.)"""
    if connection.in_atomic_block:
        cursor.execute("SELECT pg_stat_clear_snapshot()")


# --- GET /cards -----------------------------------------------------------------------------


def card_sync_horizon() -> datetime.datetime:
    """Rows stamped before this are committed, or will never be (see the module's docstring)."""
    if connection.vendor != "postgresql":
        return timezone.now() - settings.API_SYNC_MARGIN
    with connection.cursor() as cursor:
        _fresh_activity(cursor)
        cursor.execute(_HORIZON_SQL)
        horizon = cursor.fetchone()[0]
    return horizon - settings.API_SYNC_MARGIN


def encode_cursor(updated_at: datetime.datetime, card_id: int) -> str:
    """An opaque position after the row (`updated_at`, `card_id`)."""
    raw = f"{updated_at.astimezone(datetime.UTC).isoformat()}|{card_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime.datetime, int]:
    """The position in `cursor`; ValueError if it is not one this API gave."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, card_id = raw.split("|")
        updated_at = datetime.datetime.fromisoformat(stamp)
        position = int(card_id)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise ValueError("not a cursor") from exc
    if updated_at.tzinfo is None or not 0 <= position < 2**63:
        raise ValueError("not a cursor")
    return updated_at, position


# --- GET /events ----------------------------------------------------------------------------


def outbox_settled_id(*, at_least: int = 0) -> int:
    """The highest outbox id up to which every event is committed or will never exist; at least
    `at_least` (a position the caller already knows to be settled)."""
    if connection.vendor != "postgresql":
        from cards.models import OutboxEvent

        newest = OutboxEvent.objects.order_by("-id").values_list("id", flat=True).first()
        return max(newest or 0, at_least)
    deadline = time.monotonic() + settings.API_FEED_SETTLE_WAIT
    with connection.cursor() as cursor:
        cursor.execute(_OUTBOX_LAST_SQL)
        observed_at, last = cursor.fetchone()
        while True:
            _fresh_activity(cursor)
            cursor.execute(_WRITERS_SINCE_SQL, [observed_at])
            if not cursor.fetchone()[0]:
                return max(last, at_least)
            if time.monotonic() >= deadline:
                return at_least  # a long transaction is still writing: no progress this time
            time.sleep(0.01)
