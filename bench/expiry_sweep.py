"""Benchmark: the expiry sweeps at city scale, the phone-report lapse and the uncollected-card
cancellation (issue #17).

Fills a PostgreSQL database of its own with N due phone reports (SQL, not the ORM), then in the same
run times, for each sweep
  floor  one plain SQL UPDATE of the due rows plus one INSERT ... SELECT each of their log rows,
         bank events and card-center notices (the same required writes);
  sweep  the real Celery task code (cards.tasks.sweep_phone_reports, then
         cards.tasks.sweep_uncollected_cards, run in this process), which works in bounded SKIP
         LOCKED batches and also writes an outbox event and a card-center notice per card.
Both start from the same freshly vacuumed table (for the uncollected sweep: the same N cards turned
ready for collection with a passed uncollected deadline). Prints cards per second for both and the
process's peak memory; the last line is
`ratio=<phone sweep/floor> uncollected_ratio=<uncollected sweep/floor> peak_rss_mb=<MB>`.

    .venv/bin/python bench/expiry_sweep.py --cards 1000000
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import PREFIX, encrypt_fill, in_own_database  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument(
        "--background",
        type=int,
        default=0,
        help="cards that are not due (verified, no log) beside the due ones: the sweep's cost "
        "must follow the due cards, not the table",
    )
    parser.add_argument(
        "--database", default=PREFIX + "expiry", help="created and dropped by the benchmark"
    )
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()

    os.environ["EXPIRY_SWEEP_BATCH_SIZE"] = str(args.batch_size)
    os.environ["EXPIRY_SWEEP_TIME_BUDGET"] = "1000000000"  # not "1e9": django-environ reads 19
    in_own_database(args.database, keep=args.keep, run=lambda _url: run(args))


def run(args) -> None:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    n = args.cards
    started = time.perf_counter()
    with connection.cursor() as cur:
        cur.execute(
            "INSERT INTO agencies_servicepoint (code, name, kind, district, address, phone, "
            "opening_hours, active) VALUES ('BENCH', 'Bench', 'county_medical_center', 'xuhui', "
            "'-', '', '', true) RETURNING id"
        )
        (point,) = cur.fetchone()
        cur.execute(
            """
            INSERT INTO applicants_applicant (name, id_type, id_number, sex, birth_date,
                nationality, shanghai_hukou, hukou_place, phone, address, created_at, updated_at)
            SELECT 'Bench ' || i, 'passport', 'B' || lpad(i::text, 9, '0'), 'male', '1980-01-01',
                   'USA', false, '', '', '', now(), now()
            FROM generate_series(1, %(n)s) AS i
            """,
            {"n": n},
        )
        # Deadlines spread over the past 3 days, all due.
        cur.execute(
            """
            INSERT INTO cards_card (public_id, applicant_id, card_type, status, receipt_number,
                service_point_id, collection_point_id, channel, liveness_verified,
                real_name_verified, agent_name, agent_id_type, agent_id_number,
                photo_receipt_number, applied_at, phone_reported_at, phone_report_expires_at,
                created_at, updated_at)
            SELECT gen_random_uuid(), a.id, 'medical_insurance', 'phone_reported_lost',
                   'R' || lpad(a.id::text, 12, '0'), %(point)s, %(point)s, 'counter', false,
                   false, '', '', '', '', now() - interval '400 days',
                   now() - interval '4 days' + (a.id %% 259200) * interval '1 second',
                   now() - interval '3 days' + (a.id %% 259200) * interval '1 second',
                   now(), now()
            FROM applicants_applicant a WHERE a.id_number LIKE 'B%%'
            """,
            {"point": point},
        )
    encrypt_fill(connection, log=lambda line: None)  # the passport numbers, as stored
    print(f"filled and encrypted {n:,} due phone reports in {time.perf_counter() - started:.1f} s")
    # The rest of the city: cards no sweep touches (verified), in the same table, a million per
    # statement. Filled after the encryption, which has nothing to do for them (their holders'
    # numbers stay plaintext: the sweeps never read a person), so that 19M of them take minutes.
    with connection.cursor() as cur:
        for first in range(1, args.background + 1, BACKGROUND_CHUNK):
            last = min(first + BACKGROUND_CHUNK - 1, args.background)
            cur.execute(BACKGROUND_SQL, {"first": first, "last": last, "point": point})
            print(
                f"  {last:,} background cards at {time.perf_counter() - started:.0f} s", flush=True
            )
    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE")
    print(
        f"filled {n:,} due phone reports among {n + args.background:,} cards in "
        f"{time.perf_counter() - started:.1f} s"
    )

    ratios = {}
    for kind in KINDS.values():
        if kind.name == "uncollected":
            make_uncollected(connection)
        floor = time_floor(connection, kind)
        reset(connection, kind)
        sweep_seconds, expired = time_sweep(kind)
        assert expired == n, f"the {kind.name} sweep expired {expired} of {n}"
        with connection.cursor() as cur:
            cur.execute("SELECT count(*) FROM cards_cardtransition WHERE name = %s", [kind.name_])
            assert cur.fetchone()[0] == n
            cur.execute("SELECT count(*) FROM cards_outboxevent")
            assert cur.fetchone()[0] == n
            cur.execute("SELECT count(*) FROM cards_cardcenternotice")
            assert cur.fetchone()[0] == n
            cur.execute("SELECT count(*) FROM cards_card WHERE status = %s", [kind.source])
            assert cur.fetchone()[0] == 0
        print(
            f"{kind.name} floor: {n / floor:,.0f} cards/s ({floor:.2f} s: one UPDATE + three "
            "INSERT ... SELECT)"
        )
        print(
            f"{kind.name} sweep: {n / sweep_seconds:,.0f} cards/s ({sweep_seconds:.2f} s: task "
            f"code, batches of {args.batch_size}, log row + outbox event + card-center notice "
            "per card)"
        )
        ratios[kind.name] = sweep_seconds / floor

    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this process: {peak_mb:.0f} MB")
    print(
        f"ratio={ratios['phone']:.2f} uncollected_ratio={ratios['uncollected']:.2f} "
        f"peak_rss_mb={peak_mb:.0f}"
    )


BACKGROUND_CHUNK = 1_000_000
BACKGROUND_SQL = """
    WITH people AS (
        INSERT INTO applicants_applicant (name, id_type, id_number, sex, birth_date,
            nationality, shanghai_hukou, hukou_place, phone, address, created_at, updated_at)
        SELECT 'Other ' || i, 'passport', 'C' || lpad(i::text, 9, '0'), 'female',
               '1980-01-01', 'USA', false, '', '', '', now(), now()
        FROM generate_series(%(first)s, %(last)s) AS i
        RETURNING id
    )
    INSERT INTO cards_card (public_id, applicant_id, card_type, status, receipt_number,
        service_point_id, collection_point_id, channel, liveness_verified,
        real_name_verified, agent_name, agent_id_type, agent_id_number,
        photo_receipt_number, applied_at, verified_at, created_at, updated_at)
    SELECT gen_random_uuid(), id, 'medical_insurance', 'verified',
           'V' || lpad(id::text, 12, '0'), %(point)s, %(point)s, 'counter', false,
           false, '', '', '', '', now() - interval '5 days', now() - interval '4 days',
           now(), now()
    FROM people
"""


@dataclass(frozen=True)
class Kind:
    name: str  # as the benchmark prints it
    name_: str  # the transition
    source: str
    target: str
    deadline: str
    task: str
    closes: bool


KINDS = {
    "phone": Kind(
        "phone",
        "lapse_phone_report",
        "phone_reported_lost",
        "issued",
        "phone_report_expires_at",
        "sweep_phone_reports",
        closes=False,
    ),
    "uncollected": Kind(
        "uncollected",
        "cancel_uncollected",
        "ready_for_collection",
        "cancelled",
        "uncollected_cancels_at",
        "sweep_uncollected_cards",
        closes=True,
    ),
}


def make_uncollected(connection) -> None:
    """The same N cards, now ready for collection under shanghai-3rd-gen with their uncollected
    deadline spread over the past 3 days (the phone sweep's rows are cleared first)."""
    with connection.cursor() as cur:
        clear_log(cur)
        cur.execute(
            "UPDATE cards_card SET status = 'ready_for_collection', rule_set = 'shanghai-3rd-gen', "
            "ready_at = now() - interval '186 days' + (id %% 259200) * interval '1 second', "
            "uncollected_cancels_at = now() - interval '3 days' + (id %% 259200) * "
            "interval '1 second' WHERE receipt_number LIKE 'R%%'",
            {},  # parameters given: the `%%` above are read as `%`
        )


def vacuum(connection) -> None:
    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE cards_card")
        cur.execute("VACUUM ANALYZE cards_cardtransition")
        cur.execute("VACUUM ANALYZE cards_outboxevent")


def time_floor(connection, kind: Kind) -> float:
    from django.db import transaction

    vacuum(connection)
    closes = f", closed_at = {kind.deadline}" if kind.closes else ""
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(
            f"UPDATE cards_card SET status = %(target)s, updated_at = now() {closes} "
            f"WHERE status = %(source)s AND {kind.deadline} <= now()",
            {"target": kind.target, "source": kind.source},
        )
        cur.execute(
            f"""
            INSERT INTO cards_cardtransition (card_id, name, from_status, to_status, at,
                recorded_at, actor_kind, channel, reason, data)
            SELECT id, %(name)s, %(source)s, %(target)s,
                   {kind.deadline}, now(), 'system', 'system', '', '{{}}'::jsonb
            FROM cards_card WHERE status = %(target)s
            """,
            {"name": kind.name_, "source": kind.source, "target": kind.target},
        )
        # The same required writes as the sweep: the bank's event and the card-center notice of
        # each card, each one plain INSERT ... SELECT.
        cur.execute(
            """
            INSERT INTO cards_outboxevent (kind, card_id, bank_id, payload, created_at, attempts)
            SELECT 'card.status_changed', id, bank_id,
                   jsonb_build_object('card', public_id::text, 'from', %(source)s,
                                      'to', %(target)s),
                   now(), 0
            FROM cards_card WHERE status = %(target)s
            """,
            {"source": kind.source, "target": kind.target},
        )
        cur.execute(
            f"""
            INSERT INTO cards_cardcenternotice (notice_id, kind, card_id, card_type, card_number,
                bank_id, from_status, to_status, at, related_card_id, related_card_number,
                created_at, next_attempt_at, attempts, last_error)
            SELECT gen_random_uuid(), %(name)s, id, card_type, COALESCE(card_number, ''),
                   bank_id, %(source)s, %(target)s, {kind.deadline}, NULL, '', now(), now(), 0, ''
            FROM cards_card WHERE status = %(target)s
            """,
            {"name": kind.name_, "source": kind.source, "target": kind.target},
        )
    return time.perf_counter() - started


def clear_log(cur) -> None:
    """Empty the log, the outbox and the notices between runs. The log refuses DELETE and
    TRUNCATE by trigger (migration 0006); the benchmark's own database lifts it for this only."""
    cur.execute("ALTER TABLE cards_cardtransition DISABLE TRIGGER USER")
    cur.execute("TRUNCATE cards_cardtransition, cards_outboxevent, cards_cardcenternotice")
    cur.execute("ALTER TABLE cards_cardtransition ENABLE TRIGGER USER")


def reset(connection, kind: Kind) -> None:
    """Back to N due cards, the log empty (TRUNCATE: the log refuses DELETE)."""
    with connection.cursor() as cur:
        clear_log(cur)
        # Only the due cards (receipts 'R…'); the background cards stay as filled.
        cur.execute(
            "UPDATE cards_card SET status = %(source)s, closed_at = NULL "
            "WHERE receipt_number LIKE 'R%%'",
            {"source": kind.source},
        )
    vacuum(connection)


def time_sweep(kind: Kind) -> tuple[float, int]:
    from cards import tasks

    started = time.perf_counter()
    result = getattr(tasks, kind.task).apply()
    return time.perf_counter() - started, result.get()


if __name__ == "__main__":
    main()
