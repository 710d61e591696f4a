"""Benchmark: a bank's nightly production report through POST /api/v1/cards/ready (batches).

Fills a PostgreSQL database of its own with the card table of bench/api_load.py (`--cards`, default
1,000,000, all ten states over seven banks, with logs and events; SQL), gives one bank
(`--bank`) `--verified` verified cards (default 100,000: the fill's verified cards, moved to that
bank's outlets) and the same number of other verified cards for the floor, VACUUM ANALYZEs, starts
gunicorn on loopback with the production settings and drives, from a bounded closed-loop load
generator on the same machine, in the same run and in alternating rounds:

  batch   POST /api/v1/cards/ready with `--batch` (1,000) items, each its own Idempotency-Key:
          the key's row, the per-key limiter, one lock of the batch, one UPDATE, one INSERT each
          of log rows and outbox events, and each item's card in the answer
  floor   the same writes as plain set-based SQL from the load process, one transaction per
          `--batch` cards: one UPDATE of the cards, one INSERT ... SELECT each of log rows and
          outbox events

Checks afterwards that every card is ready with exactly one new log row and one new event. Prints
cards per second and p50/p99 per batch of each; the last line is
`cards_per_s=<batch endpoint> vs_floor=<that / floor's> p99_batch_ms=<n>`.

    REDIS_URL=redis://127.0.0.1:6379/5 .venv/bin/python bench/api_bulk.py --cards 1000000
"""

from __future__ import annotations

import http.client
import io
import json
import multiprocessing
import os
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.api_load import fill  # noqa: E402
from bench.harness import (  # noqa: E402
    Phase,
    free_port,
    load_parser,
    merge,
    run_load_benchmark,
    run_phase,
    start_gunicorn,
)

FLOOR_SQL = [
    """UPDATE cards_card SET status = 'ready_for_collection', ready_at = now(),
           card_number = 'FL' || lpad(id::text, 10, '0'), updated_at = now()
       WHERE id = ANY(%(ids)s) AND status = 'verified'""",
    """INSERT INTO cards_cardtransition (card_id, name, from_status, to_status, at, recorded_at,
           actor_kind, bank_id, channel, reason, data)
       SELECT id, 'mark_ready', 'verified', status, now(), now(), 'bank', bank_id, 'bank_outlet',
              '', jsonb_build_object('card_number', card_number)
       FROM cards_card WHERE id = ANY(%(ids)s) ORDER BY id""",
    """INSERT INTO cards_outboxevent (kind, card_id, bank_id, payload, created_at, attempts)
       SELECT 'card.status_changed', id, bank_id,
              jsonb_build_object('event', 'card.status_changed', 'card', public_id::text,
                  'transition', 'mark_ready', 'from', 'verified', 'to', status,
                  'at', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')),
              now(), 0
       FROM cards_card WHERE id = ANY(%(ids)s) ORDER BY id""",
]


def prepare(connection, bank_code: str, verified: int) -> tuple[list, list]:
    """`verified` verified cards of the bank (for the endpoint) and as many other verified cards
    (for the floor), fewer if the city has not twice that many waiting: (public ids, ids)."""
    with connection.cursor() as cur:
        cur.execute(
            "SELECT b.id, min(p.id) FROM agencies_partnerbank b "
            "JOIN agencies_servicepoint p ON p.bank_id = b.id WHERE b.code = %s GROUP BY b.id",
            [bank_code],
        )
        bank_id, outlet_id = cur.fetchone()
        cur.execute("SELECT count(*) FROM cards_card WHERE status IN ('applied', 'verified')")
        verified = min(verified, cur.fetchone()[0] // 2)
        # Twice `verified` cards waiting for their card (applied or verified, the oldest first):
        # the shared city holds only a few percent of each state, so applied ones are verified.
        cur.execute(
            """UPDATE cards_card SET status = 'verified',
                   verified_at = COALESCE(verified_at, applied_at)
               WHERE id IN (SELECT id FROM cards_card WHERE status IN ('applied', 'verified')
                            ORDER BY id LIMIT %s)
               RETURNING id""",
            [2 * verified],
        )
        ids = sorted(row[0] for row in cur.fetchall())
        cur.execute(
            """UPDATE cards_card SET bank_id = %s, service_point_id = %s, collection_point_id = %s
               WHERE id = ANY(%s) RETURNING public_id::text""",
            [bank_id, outlet_id, outlet_id, ids[:verified]],
        )
        api_cards = [row[0] for row in cur.fetchall()]
        floor_cards = ids[verified:]
        cur.execute("VACUUM ANALYZE")
    assert len(api_cards) == len(floor_cards) == verified, "not enough cards: raise --cards"
    return api_cards, floor_cards


def _drive(job) -> tuple[list[float], int]:
    """One client: its batches one after another (closed loop)."""
    port, kind, batches, extra = job
    key, database_url = extra
    latencies, errors = [], 0
    if kind == "floor":
        import psycopg

        with psycopg.connect(database_url) as conn:
            for ids in batches:
                started = time.perf_counter()
                with conn.transaction(), conn.cursor() as cur:
                    for sql in FLOOR_SQL:
                        cur.execute(sql, {"ids": ids})
                latencies.append((time.perf_counter() - started) * 1000)
        return latencies, errors
    for batch in batches:
        body = json.dumps({"items": [{"card": c, "card_number": n} for c, n in batch]})
        headers = {
            "Authorization": f"Api-Key {key}",
            "Content-Type": "application/json",
            "Idempotency-Key": str(uuid.uuid4()),
        }
        started = time.perf_counter()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        conn.request("POST", "/api/v1/cards/ready", body=body, headers=headers)
        response = conn.getresponse()
        answer = response.read()
        conn.close()
        elapsed = (time.perf_counter() - started) * 1000
        if response.status == 200 and json.loads(answer)["succeeded"] == len(batch):
            latencies.append(elapsed)
        else:
            errors += 1
            print(f"batch failed: {response.status} {answer[:300]!r}", file=sys.stderr)
    return latencies, errors


def main() -> None:
    parser = load_parser(
        __doc__.splitlines()[0],
        database="shebao_api_bench_bulk",
        requests=0,
        requests_help="unused",
    )
    parser.set_defaults(clients=1, workers=2)
    parser.add_argument("--bank", default="BOSC", help="the bank whose key sends the batches")
    parser.add_argument("--verified", type=int, default=100_000, help="cards to mark ready")
    parser.add_argument("--batch", type=int, default=1000, help="items per batch")
    parser.add_argument("--port", type=int, default=0, help="gunicorn's port; 0: any free one")
    parser.add_argument("--rounds", type=int, default=4, help="alternating rounds of each")
    run_load_benchmark(parser.parse_args(), run)


def run(args, database_url: str) -> None:
    from django.core.management import call_command
    from django.db import connection

    from common import ratelimit

    started = time.perf_counter()
    if args.own_fill:
        fill(connection, args.cards)
    verified = min(args.verified, args.cards // 10)
    api_cards, floor_cards = prepare(connection, args.bank, verified)
    verified = len(api_cards)  # fewer where the city has not that many cards waiting
    print(
        f"{'filled' if args.own_fill else 'copied the shared city of'} {args.cards:,} cards "
        f"and gave {args.bank} {verified:,} verified cards "
        f"(and {verified:,} others for the floor) in {time.perf_counter() - started:.1f} s"
    )
    out = io.StringIO()
    call_command("create_bank_key", args.bank, "--name", "bulk", stdout=out)
    key = out.getvalue().strip().splitlines()[-1]
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM cards_cardtransition")
        log_before = cur.fetchone()[0]
        cur.execute("SELECT count(*) FROM cards_outboxevent")
        events_before = cur.fetchone()[0]
    connection.close()
    ratelimit.clear_all()

    numbered = [(c, f"BK{n:010d}") for n, c in enumerate(api_cards)]
    api_batches = [numbered[i : i + args.batch] for i in range(0, len(numbered), args.batch)]
    floor_batches = [floor_cards[i : i + args.batch] for i in range(0, verified, args.batch)]
    warm = 1 if len(api_batches) > args.rounds else 0
    port = args.port or free_port()
    gunicorn = start_gunicorn(database_url, args.workers, port, {"API_KEY_RATE_LIMIT": str(10**9)})
    extra = (key, database_url)
    rounds: dict[str, list[Phase]] = {"batch": [], "floor": []}
    try:
        with multiprocessing.get_context("fork").Pool(args.clients) as pool:
            if warm:
                run_phase(pool, _drive, port, "", "batch", api_batches[:1], extra, 1)
                run_phase(pool, _drive, port, "", "floor", floor_batches[:1], extra, 1)
            size = -(-(len(api_batches) - warm) // args.rounds)
            for r in range(args.rounds):
                span = slice(warm + r * size, warm + (r + 1) * size)
                for kind, batches in (("batch", api_batches), ("floor", floor_batches)):
                    if batches[span]:
                        rounds[kind].append(
                            run_phase(
                                pool, _drive, port, "", kind, batches[span], extra, args.clients
                            )
                        )
    finally:
        gunicorn.terminate()
        gunicorn.wait(timeout=30)

    from django.db import connection

    from common import crypto

    with connection.cursor() as cur:
        cur.execute(
            "SELECT card_number FROM cards_card WHERE public_id = ANY(%s::uuid[]) "
            "AND status = 'ready_for_collection'",
            [api_cards],
        )
        # Card numbers are stored encrypted (common/crypto.py): opened here to be checked.
        ready = sum(
            crypto.decrypt(token, context="card_number").startswith("BK")
            for (token,) in cur.fetchall()
        )
        cur.execute("SELECT count(*) FROM cards_cardtransition")
        logged = cur.fetchone()[0] - log_before
        cur.execute("SELECT count(*) FROM cards_outboxevent")
        emitted = cur.fetchone()[0] - events_before
    assert ready == verified, (ready, verified)
    assert logged == emitted == 2 * verified, (logged, emitted, verified)

    batch = merge(f"POST /cards/ready x{args.batch}", *rounds["batch"])
    floor = merge(f"floor: plain SQL x{args.batch}", *rounds["floor"])
    print(
        f"gunicorn {args.workers} sync workers, {args.clients} closed-loop client(s), loopback, "
        f"{os.cpu_count()} CPUs shared by all; per-key limiter on (limit raised for this run); "
        f"checked: {ready:,} cards ready, one log row and one event each"
    )
    for phase in (floor, batch):
        print(phase.line() + f" cards/s={phase.rps * args.batch:,.0f}")
    assert not (batch.errors or floor.errors), "failed batches"
    cards_per_s = batch.rps * args.batch
    print(
        f"cards_per_s={cards_per_s:.0f} vs_floor={batch.rps / floor.rps:.2f} "
        f"p99_batch_ms={batch.percentile(99):.0f}"
    )


if __name__ == "__main__":
    main()
