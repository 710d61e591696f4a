"""The dashboard's counts, kept as the work happens (cards.models.CardStateCount, CardDailyCount:
append-only deltas, folded every minute) and proven by a periodic reconciliation against a full
count.

The database keeps them (triggers of migration 0009, on PostgreSQL): a page reads a handful of
rows instead of counting a city's cards. On another database (SQLite, the `make run` demo) the
same figures come from plain counts.
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import Count, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from cards.models import LOSS_DEADLINE_COLUMNS, CardDailyCount, CardStateCount

logger = logging.getLogger(__name__)

CITY = "city"
EPOCH = datetime.datetime(1900, 1, 1, tzinfo=datetime.UTC)


def scope_key(*, point_id: int | None = None, bank_id: int | None = None) -> str:
    """The counters' key of a desk's scope: a service point, a bank, or the whole city."""
    if point_id is not None:
        return f"point:{point_id}"
    if bank_id is not None:
        return f"bank:{bank_id}"
    return CITY


def kept_in_database() -> bool:
    return connection.vendor == "postgresql"


def state_counts(key: str, cards_in_scope) -> dict[str, int]:
    """Cards of the scope by stored state: a few counter rows (or, off PostgreSQL, a count of
    `cards_in_scope`)."""
    if not kept_in_database():
        rows = cards_in_scope.order_by().values("status").annotate(n=Count("pk"))
        return {row["status"]: row["n"] for row in rows}
    rows = (
        CardStateCount.objects.filter(scope=key)
        .values("status")
        .annotate(n=Sum("count"))
        .order_by()
    )
    return {row["status"]: row["n"] for row in rows if row["n"]}


def daily_counts(
    key: str, start: datetime.date, end: datetime.date, applications
) -> dict[datetime.date, int]:
    """Applications of the scope per day from `start` to `end` inclusive."""
    if not kept_in_database():
        start_at = timezone.make_aware(datetime.datetime.combine(start, datetime.time.min))
        rows = (
            applications.filter(applied_at__gte=start_at)
            .annotate(day=TruncDate("applied_at"))
            .values("day")
            .annotate(n=Count("pk"))
            .order_by()
        )
        return {row["day"]: row["n"] for row in rows}
    rows = (
        CardDailyCount.objects.filter(scope=key, day__gte=start, day__lte=end)
        .values("day")
        .annotate(n=Sum("count"))
        .order_by()
    )
    return {row["day"]: row["n"] for row in rows if row["n"]}


# --- Rebuilding and reconciling ----------------------------------------------------------------

# A card's loss state and live loss-report deadline, as its links carry them (migration 0019).
LOSS_DEADLINE = (
    "CASE {c}.status "
    + " ".join(
        f"WHEN '{state}' THEN {{c}}.{column}" for state, column in LOSS_DEADLINE_COLUMNS.items()
    )
    + " END"
)
LOSS_STATE = (
    "CASE WHEN {c}.status IN ("
    + ", ".join(f"'{state}'" for state in LOSS_DEADLINE_COLUMNS)
    + ") THEN {c}.status END"
)
_CARD = LOSS_STATE.format(c="cards_card") + ", " + LOSS_DEADLINE.format(c="cards_card")
_C = LOSS_STATE.format(c="c") + ", " + LOSS_DEADLINE.format(c="c")

# The f-strings below splice in only the constant expression above, never a value.
LINKS_SQL = [
    # Applications taken at a point, and cards to be collected there.
    f"""
    INSERT INTO cards_pointcard (service_point_id, card_id, applied_at, bank_id, applied_here,
                                 collect_here, loss_report_here, loss_state,
                                 loss_deadline)
    SELECT service_point_id, id, applied_at, bank_id, true,
           collection_point_id = service_point_id, false, {_CARD}
    FROM cards_card ORDER BY service_point_id, id
    ON CONFLICT (service_point_id, card_id) DO NOTHING
    """,  # noqa: S608
    f"""
    INSERT INTO cards_pointcard (service_point_id, card_id, applied_at, bank_id, applied_here,
                                 collect_here, loss_report_here, loss_state,
                                 loss_deadline)
    SELECT collection_point_id, id, applied_at, bank_id, false, true, false, {_CARD}
    FROM cards_card WHERE collection_point_id <> service_point_id
    ORDER BY collection_point_id, id
    ON CONFLICT (service_point_id, card_id) DO NOTHING
    """,  # noqa: S608
    # Loss reports taken at a point.
    f"""
    INSERT INTO cards_pointcard (service_point_id, card_id, applied_at, bank_id, applied_here,
                                 collect_here, loss_report_here, loss_state,
                                 loss_deadline)
    SELECT DISTINCT t.service_point_id, c.id, c.applied_at, c.bank_id, false, false, true, {_C}
    FROM cards_cardtransition t JOIN cards_card c ON c.id = t.card_id
    WHERE t.service_point_id IS NOT NULL AND t.name IN ('cancel', 'replace',
        'report_lost_by_phone', 'report_lost_in_writing', 'withdraw_loss_report')
    ORDER BY t.service_point_id, c.id
    ON CONFLICT (service_point_id, card_id) DO UPDATE SET loss_report_here = true
    WHERE NOT cards_pointcard.loss_report_here
    """,  # noqa: S608
    # Links kept from before: their deadline as the card's now.
    f"""
    UPDATE cards_pointcard l SET (loss_state, loss_deadline) = ({_C})
    FROM cards_card c
    WHERE c.id = l.card_id AND (l.loss_state, l.loss_deadline) IS DISTINCT FROM ({_C})
    """,  # noqa: S608
]

PEOPLE_SQL = """
INSERT INTO cards_pointperson (service_point_id, applicant_id, since, reason)
SELECT DISTINCT l.service_point_id, c.applicant_id, now(), 'card'
FROM cards_pointcard l JOIN cards_card c ON c.id = l.card_id
ORDER BY l.service_point_id, c.applicant_id
ON CONFLICT (service_point_id, applicant_id) DO NOTHING
"""

STATE_DRIFT_SQL = """
WITH truth AS (
    SELECT 'city' AS scope, status, count(*) AS n FROM cards_card GROUP BY status
    UNION ALL
    SELECT 'bank:' || bank_id, status, count(*) FROM cards_card
    WHERE bank_id IS NOT NULL GROUP BY bank_id, status
    UNION ALL
    SELECT 'point:' || l.service_point_id, c.status, count(*)
    FROM cards_pointcard l JOIN cards_card c ON c.id = l.card_id
    GROUP BY l.service_point_id, c.status
), kept AS (
    SELECT scope, status, sum(count) AS n FROM cards_cardstatecount GROUP BY scope, status
)
SELECT coalesce(t.scope, k.scope), coalesce(t.status, k.status),
       coalesce(t.n, 0) - coalesce(k.n, 0)
FROM truth t FULL JOIN kept k ON k.scope = t.scope AND k.status = t.status
WHERE coalesce(t.n, 0) <> coalesce(k.n, 0)
ORDER BY 1, 2
"""

DAILY_DRIFT_SQL = """
WITH cards AS (
    SELECT bank_id, service_point_id, (applied_at AT TIME ZONE %(tz)s)::date AS day
    FROM cards_card
    -- From the local midnight of the first day checked, as the kept rows below are whole days.
    WHERE applied_at >= ((%(since)s AT TIME ZONE %(tz)s)::date)::timestamp AT TIME ZONE %(tz)s
), truth AS (
    SELECT 'city' AS scope, day, count(*) AS n FROM cards GROUP BY day
    UNION ALL
    SELECT 'bank:' || bank_id, day, count(*) FROM cards WHERE bank_id IS NOT NULL
    GROUP BY bank_id, day
    UNION ALL
    SELECT 'point:' || service_point_id, day, count(*) FROM cards GROUP BY service_point_id, day
), kept AS (
    SELECT scope, day, sum(count) AS n FROM cards_carddailycount
    WHERE day >= (%(since)s AT TIME ZONE %(tz)s)::date GROUP BY scope, day
)
SELECT coalesce(t.scope, k.scope), coalesce(t.day, k.day), coalesce(t.n, 0) - coalesce(k.n, 0)
FROM truth t FULL JOIN kept k ON k.scope = t.scope AND k.day = t.day
WHERE coalesce(t.n, 0) <> coalesce(k.n, 0)
ORDER BY 1, 2
"""


@dataclass(frozen=True)
class Drift:
    """What a reconciliation found and corrected: (scope, state or day, counted - kept)."""

    states: list[tuple[str, str, int]]
    days: list[tuple[str, datetime.date, int]]

    @property
    def fixed(self) -> int:
        return len(self.states) + len(self.days)


def rebuild(cursor, *, bulk: bool = False) -> None:
    """Fill the scope links and the points' people from the cards and the log (a new database,
    or after a bulk load made with the triggers off), then bring every counter to the full count.

    `bulk`: insert the links with the triggers and the row-by-row foreign-key checks off (the
    rows are derived from rows already checked), for a load of millions; the counters come from
    the full count anyway. Needs a superuser's session_replication_role."""
    if bulk:
        cursor.execute("SET LOCAL session_replication_role = replica")
    for sql in LINKS_SQL:
        cursor.execute(sql)
    cursor.execute(PEOPLE_SQL)
    if bulk:
        cursor.execute("SET LOCAL session_replication_role = DEFAULT")
    states, days = _drift(cursor, since=None)
    _apply(cursor, states, days)


def reconcile_counts(*, days: int = 40) -> Drift:
    """Prove the counters equal a full count, and correct them where they do not.

    The full counts and the kept counters are read in one REPEATABLE READ snapshot, so both see
    the same committed transactions; the difference is then added as delta rows in a second
    transaction, which commutes with whatever the triggers add meanwhile. The daily counts are
    checked for the last `days` days (the chart shows 30)."""
    if not kept_in_database():
        return Drift([], [])
    since = timezone.now() - datetime.timedelta(days=days)
    with transaction.atomic(), connection.cursor() as cursor:
        if not connection.in_atomic_block or len(connection.atomic_blocks) == 1:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        states, daily = _drift(cursor, since=since)
    with transaction.atomic(), connection.cursor() as cursor:
        _apply(cursor, states, daily)
    drift = Drift(states, daily)
    if drift.fixed:
        logger.warning(
            "card counters drifted and were corrected: %d state rows, %d day rows",
            len(states),
            len(daily),
        )
    return drift


def _drift(cursor, *, since: datetime.datetime | None):
    from django.conf import settings

    cursor.execute(STATE_DRIFT_SQL)
    states = [(scope, status, int(delta)) for scope, status, delta in cursor.fetchall()]
    cursor.execute(
        DAILY_DRIFT_SQL,
        {
            "tz": settings.TIME_ZONE,
            "since": since or EPOCH,
        },
    )
    days = [(scope, day, int(delta)) for scope, day, delta in cursor.fetchall()]
    return states, days


def _apply(cursor, states, days) -> None:
    """Add the corrections as delta rows (append-only, like the triggers' own)."""
    if states:
        scopes, statuses, deltas = (list(column) for column in zip(*states, strict=True))
        cursor.execute(
            "INSERT INTO cards_cardstatecount (scope, status, count) "
            "SELECT * FROM unnest(%s::text[], %s::text[], %s::bigint[])",
            [scopes, statuses, deltas],
        )
    if days:
        scopes, dates, deltas = (list(column) for column in zip(*days, strict=True))
        cursor.execute(
            "INSERT INTO cards_carddailycount (scope, day, count) "
            "SELECT * FROM unnest(%s::text[], %s::date[], %s::bigint[])",
            [scopes, dates, deltas],
        )


COMPACT_SQL = [
    # Fold each key's delta rows into one. The DELETE takes the rows its snapshot sees and the
    # INSERT puts back their sum, in one statement: a delta committed meanwhile stays as it is,
    # and a second compaction at the same time skips the rows this one deleted.
    """
    WITH gone AS (
        DELETE FROM cards_cardstatecount
        WHERE (scope, status) IN (
            SELECT scope, status FROM cards_cardstatecount
            GROUP BY scope, status HAVING count(*) > 1
        )
        RETURNING scope, status, count
    ), kept AS (
        INSERT INTO cards_cardstatecount (scope, status, count)
        SELECT scope, status, sum(count) FROM gone GROUP BY scope, status HAVING sum(count) <> 0
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM gone) - (SELECT count(*) FROM kept)
    """,
    """
    WITH gone AS (
        DELETE FROM cards_carddailycount
        WHERE (scope, day) IN (
            SELECT scope, day FROM cards_carddailycount
            GROUP BY scope, day HAVING count(*) > 1
        )
        RETURNING scope, day, count
    ), kept AS (
        INSERT INTO cards_carddailycount (scope, day, count)
        SELECT scope, day, sum(count) FROM gone GROUP BY scope, day HAVING sum(count) <> 0
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM gone) - (SELECT count(*) FROM kept)
    """,
]


def compact_counts() -> int:
    """Fold the counters' delta rows into one row per key (beat, every minute), so that a page
    sums a handful of rows. Returns how many rows it removed."""
    if not kept_in_database():
        return 0
    removed = 0
    with transaction.atomic(), connection.cursor() as cursor:
        for sql in COMPACT_SQL:
            cursor.execute(sql)
            removed += cursor.fetchone()[0]
    return removed
