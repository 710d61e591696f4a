"""Benchmark: the partner-bank API (/api/v1/) against a 1,000,000-card table under gunicorn.

Copies the shared city of --cards cards (bench/harness.py filled_copy: made once per size with
set-based SQL and kept as a template database) or, with --own-fill, fills a database of its own
(SQL, not the ORM: seven partner banks with their outlets, applicants, cards in all ten states
spread over the banks, their transition logs and outbox events; then VACUUM ANALYZE), makes an
API key with `manage.py create_bank_key` (its last line), starts gunicorn on loopback with the
production settings and the real views, plus a trivial view through the same middleware
(bench/urls.py), and drives
them from a bounded, closed-loop load generator on the same machine (a fixed number of processes,
each sending one request at a time, a fixed number of requests, each on a new connection as
gunicorn's sync workers close them). In the same run:
  ceiling     GET /bench/trivial/: the framework's own cost
  floor       GET /bench/floor/api/{id}/ (bench/urls.py): only the I/O a card detail cannot
              avoid (the key's row, the per-key limiter in Redis, one indexed read of the card)
  detail      GET /api/v1/cards/{id}: a random card of the bank, with its history
  transition  POST /api/v1/cards/{id}/ready: each on a different verified card of the bank, with
              its own Idempotency-Key (a retry-safe write: key row, lock, log row, outbox event)
Prints requests per second and p50/p99 latency of each; the last line is
`detail_vs_ceiling=<detail rps / ceiling rps> transition_rps=<n> p99_ms=<detail p99>`.

Honest about throttling: every API request goes through the per-key limiter (one Redis round
trip); its limit is raised for the gunicorn of this run only (API_KEY_RATE_LIMIT), because one key
sends everything. The limiter's counters are deleted afterwards, and the database dropped.

    REDIS_URL=redis://127.0.0.1:6379/5 .venv/bin/python bench/api_load.py
"""

from __future__ import annotations

import http.client
import io
import json
import multiprocessing
import os
import random
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import (  # noqa: E402  # noqa: E402
    FUNCTIONS,
    PATHS,
    PREFIX,
    STATES,
    Phase,
    encrypt_fill,
    free_port,
    load_parser,
    merge,
    run_load_benchmark,
    start_gunicorn,
)
from bench.harness import run_phase as _run_phase  # noqa: E402


def run_phase(pool, port: int, name: str, kind: str, items: list, key: str, clients: int):
    return _run_phase(pool, _drive, port, name, kind, items, key, clients)


OUTLETS_PER_BANK = 20


def fill(connection, n: int) -> None:
    """Banks and outlets (through the models), then applicants, cards, logs, events (SQL)."""
    from agencies.models import PartnerBank, ServicePoint
    from agencies.reference import PARTNER_BANKS

    banks = []
    for info in PARTNER_BANKS:
        bank = PartnerBank.objects.create(
            code=info.code, name_zh=info.name_zh, name_en=info.name_en
        )
        banks.append(bank.pk)
        for k in range(OUTLETS_PER_BANK):
            ServicePoint.objects.create(
                code=f"{info.code}{k:02d}"[:16],
                name=f"{info.name_zh}第{k + 1}支行",
                kind="bank_outlet",
                district="xuhui",
                address="上海市徐汇区肇嘉浜路88号",
                bank=bank,
            )
    center = ServicePoint.objects.create(
        code="CC01",
        name="徐汇区社区事务受理服务中心",
        kind="community_center",
        district="xuhui",
        address="上海市徐汇区漕溪北路1号",
    ).pk
    with connection.cursor() as raw:
        cur = _Timed(raw)
        cur.execute(FUNCTIONS)
        cur.execute(
            """
            CREATE TEMP TABLE bank_outlets AS
            SELECT bank_id, row_number() OVER (PARTITION BY bank_id ORDER BY id) - 1 AS k, id
            FROM agencies_servicepoint WHERE kind = 'bank_outlet'
            """
        )
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
                SELECT i, s.status, (%(banks)s::bigint[])[1 + (i / 10) %% 7] AS bank_id,
                       now() - interval '200 days' + (i %% 97) * interval '1 hour' AS applied,
                       -- unique: i in base 32 (5 characters), then 7 pseudo-random ones
                       substr(%(alphabet)s, (i / 1048576) %% 32 + 1, 1)
                       || substr(%(alphabet)s, (i / 32768) %% 32 + 1, 1)
                       || substr(%(alphabet)s, (i / 1024) %% 32 + 1, 1)
                       || substr(%(alphabet)s, (i / 32) %% 32 + 1, 1)
                       || substr(%(alphabet)s, i %% 32 + 1, 1)
                       || translate(substr(md5(i::text), 1, 7), '0123456789abcdef',
                                    'GHJKMNPQRSTVWXYZ') AS body
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
                   source.bank_id, o.id, o.id, 'bank_outlet', false, false, '', '', '', '',
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
                   applied, applied + (i %% 86400) * interval '1 second'
            FROM source
            JOIN bank_outlets o ON o.bank_id = source.bank_id AND o.k = i %% {OUTLETS_PER_BANK}
            """,
            {"n": n, "banks": banks, "alphabet": "0123456789ABCDEFGHJKMNPQRSTVWXYZ"},
        )
        steps = ", ".join(
            f"('{state}', {step}, '{name}', '{source}', '{target}', {days})"
            for state, path in PATHS.items()
            for step, (name, source, target, days) in enumerate(path)
        )
        cur.execute(
            f"""
            CREATE TEMP TABLE steps AS
            WITH path(status, step, name, from_status, to_status, days) AS (VALUES {steps})
            SELECT c.id AS card_id, c.public_id, c.bank_id, c.service_point_id, p.step, p.name,
                   p.from_status, p.to_status, c.applied_at + p.days * interval '1 day' AS at
            FROM cards_card c JOIN path p ON p.status = c.status
            """
        )
        cur.execute(
            """
            INSERT INTO cards_cardtransition (card_id, name, from_status, to_status, at,
                recorded_at, actor_kind, channel, reason, data, service_point_id, bank_id)
            SELECT card_id, name, from_status, to_status, at, at,
                   CASE WHEN name IN ('mark_ready', 'hand_over', 'submit') THEN 'bank'
                        ELSE 'user' END,
                   'bank_outlet', '',
                   CASE WHEN name = 'mark_ready'
                        THEN jsonb_build_object('card_number', 'SC' || lpad(card_id::text, 10, '0'))
                        ELSE '{}'::jsonb END,
                   CASE WHEN name IN ('mark_ready', 'hand_over') THEN NULL
                        WHEN name = 'submit' THEN service_point_id ELSE %(center)s END,
                   CASE WHEN name IN ('mark_ready', 'hand_over', 'submit') THEN bank_id END
            FROM steps ORDER BY card_id, step
            """,
            {"center": center},
        )
        cur.execute(
            """
            INSERT INTO cards_outboxevent (kind, card_id, bank_id, payload, created_at,
                delivered_at, attempts, last_error)
            SELECT 'card.status_changed', card_id, bank_id,
                   jsonb_build_object('event', 'card.status_changed', 'card', public_id::text,
                       'transition', name, 'from', from_status, 'to', to_status,
                       'at', to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')),
                   at, NULL, 0, ''
            FROM steps ORDER BY at, card_id, step
            """
        )
    # ID numbers, phones, addresses, card numbers and the log's card numbers encrypted, blind
    # indexes filled; then VACUUM ANALYZE (steady state: no autovacuum during the measurement).
    encrypt_fill(connection)


class _Timed:
    """A cursor that tells how long each statement of the fill took (on stderr)."""

    def __init__(self, cursor) -> None:
        self.cursor = cursor

    def execute(self, sql: str, params=None) -> None:
        started = time.perf_counter()
        self.cursor.execute(sql, params)
        what = " ".join(sql.split()[:4])
        print(f"  {time.perf_counter() - started:6.1f} s  {what}", file=sys.stderr)


def sample(connection, bank_code: str, status: str, k: int) -> list[tuple[str, str]]:
    """`k` random cards of one bank in one state: (public id, receipt number)."""
    with connection.cursor() as cur:
        cur.execute(
            "SELECT c.public_id::text, c.receipt_number FROM cards_card c "
            "JOIN agencies_partnerbank b ON b.id = c.bank_id "
            "WHERE b.code = %s AND c.status = %s ORDER BY random() LIMIT %s",
            [bank_code, status, k],
        )
        return cur.fetchall()


def check_sample(connection, rows) -> None:
    """The SQL check characters agree with the application's (cards/numbers.py, python-stdnum)."""
    from stdnum.cn import ric

    from cards.numbers import is_valid_receipt_number
    from common import crypto

    with connection.cursor() as cur:
        cur.execute("SELECT id_number FROM applicants_applicant ORDER BY random() LIMIT 1000")
        for (token,) in cur.fetchall():
            id_number = crypto.decrypt(token, context="id_number")
            assert ric.is_valid(id_number), id_number
    for _public_id, receipt in rows[:1000]:
        assert is_valid_receipt_number(receipt), receipt


def explain(connection, bank_code: str, public_id: str) -> str:
    """The plan of the detail's statement (prepared once per connection by the view)."""
    from agencies.models import PartnerBank
    from cards.api.selectors import _CARD_DETAIL

    bank = PartnerBank.objects.get(code=bank_code)
    with connection.cursor() as cur:
        cur.execute("EXPLAIN " + _CARD_DETAIL.sql, [public_id, bank.pk])
        return "; ".join(
            row[0].strip().removeprefix("->  ").split("  (")[0]
            for row in cur.fetchall()
            if "Scan" in row[0]
        )


# --- The load generator --------------------------------------------------------------------------


def _drive(job) -> tuple[list[float], int]:
    """One client: its requests one after another (closed loop), each on a new connection."""
    port, kind, items, key = job
    latencies, errors = [], 0
    for item in items:
        headers = {"Authorization": f"Api-Key {key}"}
        body = None
        if kind == "trivial":
            method, path, expected = "GET", "/bench/trivial/", 200
        elif kind == "detail":
            method, path, expected = "GET", f"/api/v1/cards/{item[0]}", 200
        elif kind == "floor":
            method, path, expected = "GET", f"/bench/floor/api/{item[0]}/", 200
        else:
            method, path, expected = "POST", f"/api/v1/cards/{item[0]}/ready", 200
            body = json.dumps({"card_number": item[1]})
            headers |= {"Content-Type": "application/json", "Idempotency-Key": str(uuid.uuid4())}
        started = time.perf_counter()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        conn.close()
        elapsed = (time.perf_counter() - started) * 1000
        if response.status == expected:
            latencies.append(elapsed)
        else:
            errors += 1
    return latencies, errors


def main() -> None:
    parser = load_parser(
        __doc__.splitlines()[0],
        database=PREFIX + "api",
        requests=4000,
        requests_help="per phase, in 2 rounds",
    )
    parser.add_argument("--bank", default="BOSC", help="the bank whose key drives the load")
    run_load_benchmark(parser.parse_args(), run)


def run(args, database_url: str) -> None:
    from django.core.management import call_command
    from django.db import connection

    from common import ratelimit

    started = time.perf_counter()
    if args.own_fill:
        fill(connection, args.cards)
    with connection.cursor() as cur:
        counts = {}
        for table in ("cards_card", "cards_cardtransition", "cards_outboxevent"):
            cur.execute(f"SELECT count(*) FROM {table}")
            counts[table] = cur.fetchone()[0]
    print(
        f"{'filled' if args.own_fill else 'copied the shared city of'} "
        f"{counts['cards_card']:,} cards (all ten states, seven banks), "
        f"{counts['cards_cardtransition']:,} log rows and {counts['cards_outboxevent']:,} "
        f"events in {time.perf_counter() - started:.1f} s"
    )
    out = io.StringIO()
    call_command("create_bank_key", args.bank, "--name", "bench", stdout=out)
    key = out.getvalue().strip().splitlines()[-1]

    warm = 200
    details = []
    for state in STATES:
        details += sample(connection, args.bank, state, (args.requests + warm) // len(STATES) + 1)
    random.Random(3).shuffle(details)
    verified = sample(connection, args.bank, "verified", args.requests + warm)
    if len(verified) < args.requests + warm:
        # The shared city's mix has 2 % verified cards: each transition needs its own card.
        assert len(verified) > 2 * warm, "not enough verified cards: raise --cards"
        print(f"--requests lowered to {len(verified) - warm}: the bank's verified cards")
        args.requests = len(verified) - warm
    half = args.requests // 2
    to_ready = [(public_id, f"BK{n:010d}") for n, (public_id, _receipt) in enumerate(verified)]
    check_sample(connection, details)
    print(f"plans: {explain(connection, args.bank, details[0][0])}")
    connection.close()
    ratelimit.clear_all()

    port = free_port()
    gunicorn = start_gunicorn(
        database_url,
        args.workers,
        port,
        # One key sends everything: this run only.
        {"API_KEY_RATE_LIMIT": str(10**9)},
    )
    try:
        with multiprocessing.get_context("fork").Pool(args.clients) as pool:
            run_phase(pool, port, "warm-up", "trivial", [None] * warm, key, args.clients)
            run_phase(pool, port, "warm-up", "detail", details[:warm], key, args.clients)
            run_phase(pool, port, "warm-up", "ready", to_ready[:warm], key, args.clients)
            run_phase(pool, port, "warm-up", "floor", details[:warm], key, args.clients)
            rounds: dict[str, list[Phase]] = {"trivial": [], "detail": [], "ready": [], "floor": []}
            for r in range(2):
                span = slice(warm + r * half, warm + (r + 1) * half)
                rounds["trivial"].append(
                    run_phase(pool, port, "", "trivial", [None] * half, key, args.clients)
                )
                rounds["detail"].append(
                    run_phase(pool, port, "", "detail", details[span], key, args.clients)
                )
                rounds["ready"].append(
                    run_phase(pool, port, "", "ready", to_ready[span], key, args.clients)
                )
                rounds["floor"].append(
                    run_phase(pool, port, "", "floor", details[span], key, args.clients)
                )
    finally:
        gunicorn.terminate()
        gunicorn.wait(timeout=30)

    trivial = merge("trivial view (ceiling)", *rounds["trivial"])
    detail = merge("GET /cards/{id}", *rounds["detail"])
    ready = merge("POST /cards/{id}/ready", *rounds["ready"])
    floor = merge("floor: key + limiter + one read", *rounds["floor"])
    print(
        f"gunicorn {args.workers} sync workers, {args.clients} closed-loop clients, loopback, "
        f"{os.cpu_count()} CPUs shared by both; per-key limiter on (limit raised for this run)"
    )
    for phase in (trivial, floor, detail, ready):
        print(phase.line())
    assert not (trivial.errors or detail.errors or ready.errors or floor.errors), "failed requests"
    ratio = detail.rps / trivial.rps
    print(
        f"floor_vs_ceiling={floor.rps / trivial.rps:.2f} (the required round trips alone) "
        f"detail_vs_floor={detail.rps / floor.rps:.2f}"
    )
    print(
        f"detail_vs_ceiling={ratio:.2f} transition_rps={ready.rps:.0f} "
        f"p99_ms={detail.percentile(99):.1f}"
    )


if __name__ == "__main__":
    main()
