"""Benchmark: the phone-report expiry sweep at city scale.

Fills a PostgreSQL database of its own with N due phone reports (SQL, not the ORM), then in the same
run times
  floor  one plain SQL UPDATE of the due rows plus one INSERT ... SELECT of their log rows;
  sweep  the real Celery task code (cards.tasks.sweep_phone_reports, run in this process), which
         works in bounded SKIP LOCKED batches and also writes an outbox event and a card-center
         notice per card.
Both start from the same freshly vacuumed table. Prints cards per second for both and the
process's peak memory; the last line is `ratio=<sweep/floor> peak_rss_mb=<MB>`.

    .venv/bin/python bench/expiry_sweep.py --cards 1000000
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import PREFIX, in_own_database  # noqa: E402


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
        # The rest of the city: cards no sweep touches (verified), in the same table.
        cur.execute(
            """
            INSERT INTO applicants_applicant (name, id_type, id_number, sex, birth_date,
                nationality, shanghai_hukou, hukou_place, phone, address, created_at, updated_at)
            SELECT 'Other ' || i, 'passport', 'C' || lpad(i::text, 9, '0'), 'female',
                   '1980-01-01', 'USA', false, '', '', '', now(), now()
            FROM generate_series(1, %(m)s) AS i;
            INSERT INTO cards_card (public_id, applicant_id, card_type, status, receipt_number,
                service_point_id, collection_point_id, channel, liveness_verified,
                real_name_verified, agent_name, agent_id_type, agent_id_number,
                photo_receipt_number, applied_at, verified_at, created_at, updated_at)
            SELECT gen_random_uuid(), a.id, 'medical_insurance', 'verified',
                   'V' || lpad(a.id::text, 12, '0'), %(point)s, %(point)s, 'counter', false,
                   false, '', '', '', '', now() - interval '5 days', now() - interval '4 days',
                   now(), now()
            FROM applicants_applicant a WHERE a.id_number LIKE 'C%%'
            """,
            {"m": args.background, "point": point},
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
    print(
        f"filled {n:,} due phone reports among {n + args.background:,} cards in "
        f"{time.perf_counter() - started:.1f} s"
    )

    floor = time_floor(connection)
    reset(connection)
    sweep_seconds, expired = time_sweep()
    assert expired == n, f"the sweep expired {expired} of {n}"
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM cards_cardtransition WHERE name = 'lapse_phone_report'")
        assert cur.fetchone()[0] == n
        cur.execute("SELECT count(*) FROM cards_outboxevent")
        assert cur.fetchone()[0] == n
        cur.execute("SELECT count(*) FROM cards_card WHERE status = 'phone_reported_lost'")
        assert cur.fetchone()[0] == 0

    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"floor: {n / floor:,.0f} cards/s ({floor:.2f} s: one UPDATE + one INSERT ... SELECT)")
    print(
        f"sweep: {n / sweep_seconds:,.0f} cards/s ({sweep_seconds:.2f} s: task code, batches of "
        f"{args.batch_size}, log row + outbox event + card-center notice per card)"
    )
    print(f"peak RSS of this process: {peak_mb:.0f} MB")
    print(f"ratio={sweep_seconds / floor:.2f} peak_rss_mb={peak_mb:.0f}")


def vacuum(connection) -> None:
    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE cards_card")
        cur.execute("VACUUM ANALYZE cards_cardtransition")
        cur.execute("VACUUM ANALYZE cards_outboxevent")


def time_floor(connection) -> float:
    from django.db import transaction

    vacuum(connection)
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(
            "UPDATE cards_card SET status = 'issued', updated_at = now() "
            "WHERE status = 'phone_reported_lost' AND phone_report_expires_at <= now()"
        )
        cur.execute(
            """
            INSERT INTO cards_cardtransition (card_id, name, from_status, to_status, at,
                recorded_at, actor_kind, channel, reason, data)
            SELECT id, 'lapse_phone_report', 'phone_reported_lost', 'issued',
                   phone_report_expires_at, now(), 'system', 'system', '', '{}'::jsonb
            FROM cards_card WHERE status = 'issued'
            """
        )
    return time.perf_counter() - started


def reset(connection) -> None:
    """Back to N due phone reports, the log empty (TRUNCATE: the log refuses DELETE)."""
    with connection.cursor() as cur:
        # The log's guard refuses TRUNCATE too (a trigger): off for this statement only.
        cur.execute("SET session_replication_role = replica")
        cur.execute("TRUNCATE cards_cardtransition, cards_outboxevent")
        cur.execute("SET session_replication_role = DEFAULT")
        cur.execute("UPDATE cards_card SET status = 'phone_reported_lost' WHERE status = 'issued'")
    vacuum(connection)


def time_sweep() -> tuple[float, int]:
    from cards.tasks import sweep_phone_reports

    started = time.perf_counter()
    result = sweep_phone_reports.apply()
    return time.perf_counter() - started, result.get()


if __name__ == "__main__":
    main()
