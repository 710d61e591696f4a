"""Benchmark: the public status lookup (/status/) against a 1,000,000-card table under gunicorn.

Copies the shared city of --cards cards (bench/harness.py filled_copy, a template database made
once per size) or, with --own-fill, fills a database of its own (SQL, not the ORM: applicants with
valid resident ID numbers, cards in all ten states with valid receipt numbers, and their
transition logs); starts
gunicorn on loopback with the production settings and the real view, plus a trivial view through
the same middleware (bench/urls.py), and drives both from a bounded, closed-loop load
generator on the same machine (a fixed number of processes, each sending one request at a time,
a fixed number of requests). Prints requests per second and p50/p99 latency for the trivial view
(the ceiling), the floor (bench/urls.py: only the limiter's Redis round trip and one indexed read,
the I/O no lookup can avoid), the lookup of a matching pair, and three kinds of mismatch; the last
line is
`lookup_vs_ceiling=<lookup rps / trivial rps> p99_ms=<lookup p99>`.

Honest about the rate limits: every request still goes through the limiter (one Redis round trip).
Each lookup uses a different card, so the per-receipt limit is never reached; the per-address
limit is raised to 10^9 for the gunicorn of this run only (STATUS_LIMIT_PER_ADDRESS), because all
requests come from 127.0.0.1. The limiter's counters are deleted afterwards.

    REDIS_URL=redis://127.0.0.1:6379/7 .venv/bin/python bench/status_lookup.py
"""

from __future__ import annotations

import http.client
import multiprocessing
import os
import random
import re
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import (  # noqa: E402  # noqa: E402
    FUNCTIONS,
    PATHS,
    PREFIX,
    STATES,
    encrypt_fill,
    free_port,
    load_parser,
    merge,
    run_load_benchmark,
    start_gunicorn,
)
from bench.harness import run_phase as _run_phase  # noqa: E402


def run_phase(pool, port: int, name: str, kind: str, items: list, marker: bytes, clients: int):
    return _run_phase(pool, _drive, port, name, kind, items, marker, clients)


def fill(connection, n: int) -> None:
    """Applicants, cards and transition logs, in SQL."""
    with connection.cursor() as cur:
        cur.execute(FUNCTIONS)
        # The three reference rows through the models, so that columns other work adds get their
        # defaults; the million rows below are SQL.
        from agencies.models import PartnerBank, ServicePoint

        bank = PartnerBank.objects.create(
            code="BOSC", name_zh="上海银行", name_en="Bank of Shanghai"
        ).pk
        center = ServicePoint.objects.create(
            code="CC01",
            name="徐汇区社区事务受理服务中心",
            kind="community_center",
            district="xuhui",
            address="上海市徐汇区漕溪北路1号",
            phone="021-64000000",
            opening_hours="周一至周六 9:00-17:00",
        ).pk
        outlet = ServicePoint.objects.create(
            code="BO01",
            name="上海银行徐汇支行",
            kind="bank_outlet",
            district="xuhui",
            address="上海市徐汇区肇嘉浜路88号",
            phone="021-64000001",
            opening_hours="周一至周五 9:00-17:00",
            bank_id=bank,
        ).pk
        cur.execute(
            """
            INSERT INTO applicants_applicant (id, name, id_type, id_number, sex, birth_date,
                nationality, shanghai_hukou, hukou_place, phone, address, created_at, updated_at)
            SELECT i, '张' || i, 'resident_id',
                   pg_temp.resident_id('310104' || to_char(date '1940-01-01' + i %% 20000,
                                                           'YYYYMMDD')
                                       || lpad((i / 20000)::text, 3, '0')),
                   CASE WHEN (i / 20000) %% 2 = 1 THEN 'male' ELSE 'female' END,
                   date '1940-01-01' + i %% 20000, 'CHN', true, '上海市徐汇区', '13800138000',
                   '上海市徐汇区漕溪北路1号', now(), now()
            FROM generate_series(1, %(n)s) AS i
            """,
            {"n": n},
        )
        states = ", ".join(f"({k}, '{state}')" for k, state in enumerate(STATES))
        cur.execute(
            f"""
            WITH states(k, status) AS (VALUES {states}),
            source AS (
                SELECT i, s.status,
                       now() - interval '200 days' + (i %% 97) * interval '1 hour' AS applied,
                       (SELECT string_agg(substr('0123456789ABCDEFGHJKMNPQRSTVWXYZ',
                                   get_byte(decode(md5(i::text || 'receipt'), 'hex'), k) %% 32
                                   + 1, 1), '' ORDER BY k)
                        FROM generate_series(0, 11) AS k) AS body
                FROM generate_series(1, %(n)s) AS i JOIN states s ON s.k = i %% 10
            )
            INSERT INTO cards_card (id, public_id, applicant_id, card_type, status, receipt_number,
                card_number, bank_id, service_point_id, collection_point_id, channel,
                liveness_verified, real_name_verified, agent_name, agent_id_type, agent_id_number,
                photo_receipt_number, applied_at, verified_at, ready_at, issued_at,
                phone_reported_at, phone_report_expires_at, written_reported_at,
                written_report_expires_at, loss_certificate_number, closed_at, created_at,
                updated_at)
            SELECT i, gen_random_uuid(), i, 'social_security', status,
                   body || pg_temp.receipt_check(body),
                   CASE WHEN status IN ('applied', 'verified', 'rejected', 'withdrawn') THEN NULL
                        ELSE 'SC' || lpad(i::text, 10, '0') END,
                   %(bank)s, %(center)s, %(outlet)s, 'counter', false, false, '', '', '', '',
                   applied,
                   CASE WHEN status NOT IN ('applied', 'rejected', 'withdrawn')
                        THEN applied + interval '2 days' END,
                   CASE WHEN status NOT IN ('applied', 'verified', 'rejected', 'withdrawn')
                        THEN applied + interval '150 days' END,
                   CASE WHEN status IN ('issued', 'phone_reported_lost', 'written_lost',
                                        'cancelled', 'replaced')
                        THEN applied + interval '160 days' END,
                   CASE WHEN status = 'phone_reported_lost' THEN now() - interval '1 hour' END,
                   CASE WHEN status = 'phone_reported_lost' THEN now() + interval '23 hours' END,
                   CASE WHEN status = 'written_lost' THEN now() - interval '1 day' END,
                   CASE WHEN status = 'written_lost' THEN now() + interval '29 days' END,
                   CASE WHEN status = 'written_lost' THEN 'LR-CC01-BENCH-' || i END,
                   CASE WHEN status IN ('cancelled', 'replaced', 'rejected', 'withdrawn')
                        THEN applied + interval '170 days' END,
                   applied, now()
            FROM source
            """,
            {"n": n, "bank": bank, "center": center, "outlet": outlet},
        )
        steps = ", ".join(
            f"('{state}', {step}, '{name}', '{source}', '{target}', {days})"
            for state, path in PATHS.items()
            for step, (name, source, target, days) in enumerate(path)
        )
        cur.execute(
            f"""
            WITH path(status, step, name, from_status, to_status, days) AS (VALUES {steps})
            INSERT INTO cards_cardtransition (card_id, name, from_status, to_status, at,
                recorded_at, actor_kind, channel, reason, data, service_point_id, bank_id)
            SELECT c.id, p.name, p.from_status, p.to_status, c.applied_at + p.days * interval
                   '1 day', c.applied_at + p.days * interval '1 day',
                   CASE WHEN p.name IN ('mark_ready', 'hand_over') THEN 'bank' ELSE 'user' END,
                   'counter', '',
                   CASE WHEN p.name = 'reject' THEN
                       '{{"differences": [{{"field": "hukou_place", "form": "-",
                                           "registry": "-"}}]}}'::jsonb
                   ELSE '{{}}'::jsonb END,
                   CASE WHEN p.name IN ('mark_ready', 'hand_over') THEN NULL ELSE %(center)s END,
                   CASE WHEN p.name IN ('mark_ready', 'hand_over') THEN %(bank)s END
            FROM cards_card c JOIN path p ON p.status = c.status
            ORDER BY c.id, p.step
            """,
            {"center": center, "bank": bank},
        )
    encrypt_fill(connection)  # ID numbers, phones, addresses, card numbers; then VACUUM ANALYZE


def sample_pairs(connection, n: int, k: int) -> list[tuple[str, str]]:
    from common import crypto

    ids = random.Random(7).sample(range(1, n + 1), k)
    with connection.cursor() as cur:
        cur.execute(
            "SELECT a.id_number, c.receipt_number FROM cards_card c "
            "JOIN applicants_applicant a ON a.id = c.applicant_id WHERE c.id = ANY(%s)",
            [ids],
        )
        pairs = [
            (crypto.decrypt(token, context="id_number"), receipt)
            for token, receipt in cur.fetchall()
        ]
    random.Random(8).shuffle(pairs)
    return pairs


def check_sample(pairs) -> None:
    """The SQL check characters agree with the application's (cards/numbers.py, python-stdnum)."""
    from stdnum.cn import ric

    from cards.numbers import is_valid_receipt_number

    for id_number, receipt in pairs[:1000]:
        assert is_valid_receipt_number(receipt), receipt
        assert ric.is_valid(id_number), id_number


def explain(connection, pair: tuple[str, str]) -> str:
    """The plan of the lookup's statement (the view runs it as a prepared statement)."""
    from applicants.models import id_number_index
    from cards.public.lookup import LOOKUP_SQL

    with connection.cursor() as cur:
        cur.execute(
            "EXPLAIN " + LOOKUP_SQL, ["reject", "reject", pair[1], id_number_index(pair[0])]
        )
        return "; ".join(
            row[0].strip().removeprefix("->  ")
            for row in cur.fetchall()
            if "Scan" in row[0] or "Sort" in row[0] or "SubPlan" in row[0]
        )


# --- The load generator --------------------------------------------------------------------------


def _csrf(port: int) -> tuple[str, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/status/")
    response = conn.getresponse()
    body = response.read().decode()
    cookie = re.search(r"csrftoken=([^;]+)", response.getheader("Set-Cookie") or "").group(1)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', body).group(1)
    conn.close()
    return cookie, token


def _drive(job) -> tuple[list[float], int]:
    """One client: its requests one after another (closed loop), each on a new connection
    (gunicorn's sync workers close every connection)."""
    port, kind, items, marker = job
    cookie, token = _csrf(port) if kind != "trivial" else ("", "")
    latencies, errors = [], 0
    for item in items:
        started = time.perf_counter()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        if kind == "trivial":
            conn.request("GET", "/bench/trivial/")
        else:
            path = "/bench/floor/status/" if kind == "floor" else "/status/"
            body = urlencode(
                {"id_number": item[0], "receipt_number": item[1], "csrfmiddlewaretoken": token}
            )
            conn.request(
                "POST",
                path,
                body=body,
                headers={
                    "Content-Type": "application/x-www-form-urlencoded",
                    "Cookie": f"csrftoken={cookie}",
                },
            )
        response = conn.getresponse()
        content = response.read()
        conn.close()
        elapsed = (time.perf_counter() - started) * 1000
        if response.status == 200 and marker in content:
            latencies.append(elapsed)
        else:
            errors += 1
    return latencies, errors


def main() -> None:
    parser = load_parser(
        __doc__.splitlines()[0],
        database=PREFIX + "status",
        requests=6000,
        requests_help="per view, split in 2 rounds",
    )
    parser.add_argument("--mismatches", type=int, default=1000, help="per kind of mismatch")
    run_load_benchmark(parser.parse_args(), run)


def run(args, database_url: str) -> None:
    from django.db import connection

    from cards.numbers import new_receipt_number
    from common import ratelimit

    started = time.perf_counter()
    if args.own_fill:
        fill(connection, args.cards)
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM cards_card")
        (cards,) = cur.fetchone()
        cur.execute("SELECT count(*) FROM cards_cardtransition")
        (transitions,) = cur.fetchone()
    print(
        f"{'filled' if args.own_fill else 'copied the shared city of'} {cards:,} cards "
        f"(all ten states) and {transitions:,} log rows in {time.perf_counter() - started:.1f} s"
    )
    n_requests = args.requests
    warm = 200
    needed = 2 * (n_requests + warm) + 2 * args.mismatches
    pairs = sample_pairs(connection, args.cards, needed)
    check_sample(pairs)
    print(f"plan: {explain(connection, pairs[0])}")
    connection.close()
    ratelimit.clear_all()

    matching, rest = pairs[: n_requests + warm], pairs[n_requests + warm :]
    # The floor phase reads other cards than the lookups (and counts other receipts).
    floor_pairs, rest = rest[: n_requests + warm], rest[n_requests + warm :]
    crossed_source = rest[: args.mismatches]
    # The ID number of one person with the receipt number of another: a real receipt, a real ID.
    crossed = [
        (crossed_source[i][0], crossed_source[(i + 1) % len(crossed_source)][1])
        for i in range(len(crossed_source))
    ]
    unknown = [(pair[0], new_receipt_number()) for pair in rest[args.mismatches :]]
    malformed = [(pair[0], pair[1][:-1] + "!") for pair in rest[: args.mismatches]]

    port = free_port()
    gunicorn = start_gunicorn(
        database_url,
        args.workers,
        port,
        # One client address sends everything: this run only.
        {"STATUS_LIMIT_PER_ADDRESS": str(10**9)},
    )
    answer, no_match = b'class="summary', b'role="alert"'
    try:
        with multiprocessing.get_context("fork").Pool(args.clients) as pool:
            run_phase(pool, port, "warm-up", "trivial", [None] * warm, b"ok", args.clients)
            run_phase(pool, port, "warm-up", "lookup", matching[:warm], answer, args.clients)
            half = n_requests // 2
            run_phase(pool, port, "warm-up", "floor", floor_pairs[:warm], b"floor", args.clients)
            rounds = []
            for r in range(2):
                rounds.append(
                    run_phase(pool, port, "trivial", "trivial", [None] * half, b"ok", args.clients)
                )
                batch = matching[warm + r * half : warm + (r + 1) * half]
                rounds.append(
                    run_phase(pool, port, "lookup", "lookup", batch, answer, args.clients)
                )
                batch = floor_pairs[warm + r * half : warm + (r + 1) * half]
                rounds.append(
                    run_phase(pool, port, "floor", "floor", batch, b"floor", args.clients)
                )
            trivial = merge("trivial view (ceiling)", *rounds[0::3])
            lookup = merge("lookup, matching pair", *rounds[1::3])
            floor = merge("floor: limiter + one indexed read", *rounds[2::3])
            mismatches = [
                run_phase(pool, port, name, "lookup", items, no_match, args.clients)
                for name, items in (
                    ("mismatch: another's receipt", crossed),
                    ("mismatch: unknown receipt", unknown),
                    ("mismatch: bad check character", malformed),
                )
            ]
    finally:
        gunicorn.terminate()
        gunicorn.wait(timeout=30)

    print(
        f"gunicorn {args.workers} sync workers, {args.clients} closed-loop clients, loopback, "
        f"{os.cpu_count()} CPUs shared by both; rate limiter on (per-address limit raised for "
        "this run only, one receipt per lookup)"
    )
    for phase in (trivial, floor, lookup, *mismatches):
        print(phase.line())
    assert trivial.errors == 0 and lookup.errors == 0 and floor.errors == 0, "failed requests"
    assert all(phase.errors == 0 for phase in mismatches), "failed requests"
    ratio = lookup.rps / trivial.rps
    print(
        f"floor_vs_ceiling={floor.rps / trivial.rps:.2f} (the required round trips alone) "
        f"lookup_vs_floor={lookup.rps / floor.rps:.2f}"
    )
    print(f"lookup_vs_ceiling={ratio:.2f} p99_ms={lookup.percentile(99):.1f}")


if __name__ == "__main__":
    main()
