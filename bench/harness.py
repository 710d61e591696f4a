"""What the load benchmarks share (bench/api_load.py, bench/status_lookup.py): the lifecycle paths
and SQL check characters their fills use, gunicorn on loopback with the production settings plus a
trivial view (bench/settings.py, bench/urls.py), and a bounded closed-loop load generator.
"""

from __future__ import annotations

import argparse
import http.client
import math
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The venv running the benchmark (the worktree's own .venv or the shared one) runs its servers.
BIN = Path(sys.executable).parent
# Every database a benchmark makes is named with this prefix (a shared server: one per person).
PREFIX = os.environ.get("BENCH_DATABASE_PREFIX", "shebao_bench_")

# The field keys of every benchmark process (the fill, gunicorn with the production settings,
# which refuse the development keys): fixed, so that a kept template database stays readable.
# Not secrets: benchmark data only.
BENCH_FIELD_ENCRYPTION_KEYS = {
    "SM4-GCM": "bench1:YmVuY2gtb25seS1zbTQtaw==",  # 16 bytes
    "AES-256-GCM": "bench1a:YmVuY2gtb25seS1hZXMtMjU2LWdjbS1rZXktMzJieXQ=",  # 32 bytes
}
BENCH_FIELD_BLIND_INDEX_KEY = "YmVuY2gtb25seS1ibGluZC1pbmRleC1rZXktMzJieXQ="


def _bench_field_keys() -> None:
    import sys

    sys.path.insert(0, str(ROOT))
    from common.crypto import sm4_gcm_available

    algorithm = "SM4-GCM" if sm4_gcm_available() else "AES-256-GCM"
    os.environ.setdefault("FIELD_ENCRYPTION_KEYS", BENCH_FIELD_ENCRYPTION_KEYS[algorithm])
    os.environ.setdefault("FIELD_BLIND_INDEX_KEY", BENCH_FIELD_BLIND_INDEX_KEY)


_bench_field_keys()

STATES = [
    "applied",
    "verified",
    "ready_for_collection",
    "issued",
    "phone_reported_lost",
    "written_lost",
    "cancelled",
    "replaced",
    "rejected",
    "withdrawn",
]
_ISSUED_PATH = [
    ("submit", "", "applied", 0),
    ("verify", "applied", "verified", 2),
    ("mark_ready", "verified", "ready_for_collection", 150),
    ("hand_over", "ready_for_collection", "issued", 160),
]
PATHS = {
    "applied": _ISSUED_PATH[:1],
    "verified": _ISSUED_PATH[:2],
    "ready_for_collection": _ISSUED_PATH[:3],
    "issued": _ISSUED_PATH,
    "phone_reported_lost": [
        *_ISSUED_PATH,
        ("report_lost_by_phone", "issued", "phone_reported_lost", 199),
    ],
    "written_lost": [*_ISSUED_PATH, ("report_lost_in_writing", "issued", "written_lost", 198)],
    "cancelled": [*_ISSUED_PATH, ("cancel", "issued", "cancelled", 170)],
    "replaced": [*_ISSUED_PATH, ("replace", "issued", "replaced", 170)],
    "rejected": [("submit", "", "applied", 0), ("reject", "applied", "rejected", 2)],
    "withdrawn": [("submit", "", "applied", 0), ("withdraw", "applied", "withdrawn", 2)],
}

# ISO 7064 check character of receipt numbers (cards/numbers.py) and the GB 11643 check
# character of resident ID numbers, in SQL; each benchmark checks them against Python.
FUNCTIONS = r"""
CREATE FUNCTION pg_temp.receipt_check(body text) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    alphabet CONSTANT text := '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
    c int := 16;
BEGIN
    FOR i IN 1..length(body) LOOP
        c := ((CASE WHEN c = 0 THEN 32 ELSE c END) * 2 % 33
              + strpos(alphabet, substr(body, i, 1)) - 1) % 32;
    END LOOP;
    RETURN substr(alphabet, ((1 - (CASE WHEN c = 0 THEN 32 ELSE c END) * 2 % 33) % 32 + 32) % 32
                  + 1, 1);
END $$;
CREATE FUNCTION pg_temp.resident_id(body text) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    weights CONSTANT int[] := '{7,9,10,5,8,4,2,1,6,3,7,9,10,5,8,4,2}';
    total int := 0;
BEGIN
    FOR i IN 1..17 LOOP
        total := total + substr(body, i, 1)::int * weights[i];
    END LOOP;
    RETURN body || substr('10X98765432', total % 11 + 1, 1);
END $$;
"""


@dataclass
class Phase:
    name: str
    latencies_ms: list[float]
    errors: int
    seconds: float

    @property
    def rps(self) -> float:
        return len(self.latencies_ms) / self.seconds

    def percentile(self, p: float) -> float:
        """Nearest-rank percentile."""
        ordered = sorted(self.latencies_ms)
        return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]

    def line(self) -> str:
        return (
            f"{self.name:<34} n={len(self.latencies_ms):>5} errors={self.errors} "
            f"rps={self.rps:7.1f} p50={self.percentile(50):6.2f} ms "
            f"p99={self.percentile(99):6.2f} ms"
        )


def run_phase(
    pool, driver: Callable, port: int, name: str, kind: str, items: list, extra, clients: int
) -> Phase:
    """`clients` closed-loop clients share `items`; `driver((port, kind, chunk, extra))` is the
    benchmark's own request loop, returning (latencies in ms, errors)."""
    chunks = [items[i::clients] for i in range(clients)]
    started = time.perf_counter()
    results = pool.map(driver, [(port, kind, chunk, extra) for chunk in chunks])
    seconds = time.perf_counter() - started
    return Phase(
        name,
        [latency for latencies, _ in results for latency in latencies],
        sum(errors for _, errors in results),
        seconds,
    )


def merge(name: str, *phases: Phase) -> Phase:
    return Phase(
        name,
        [latency for phase in phases for latency in phase.latencies_ms],
        sum(phase.errors for phase in phases),
        sum(phase.seconds for phase in phases),
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(
    database_url: str, workers: int, port: int, extra_env: dict[str, str]
) -> subprocess.Popen:
    """gunicorn with the production settings plus /bench/trivial/; `extra_env` for this run only."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DATABASE_URL": database_url,
        "DJANGO_SECRET_KEY": "bench-only-" + "x" * 40,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "LOG_LEVEL": "WARNING",
        **extra_env,
    }
    server = subprocess.Popen(
        [
            str(BIN / "gunicorn"),
            "config.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/bench/trivial/")
            if conn.getresponse().status == 200:
                return server
        except OSError:
            time.sleep(0.2)
    server.terminate()
    raise RuntimeError("gunicorn did not start")


def in_own_database(
    database: str,
    *,
    keep: bool,
    run: Callable[[str], None],
    cleanup: Callable[[], None] | None = None,
) -> None:
    """Create `database` afresh, point Django at it (local settings, DEBUG off so no query log
    grows), call `run(database_url)`, then clean up and drop it unless `keep`."""
    server = os.environ.get("BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432")
    database_url = f"{server}/{database}"
    _point_django_at(database_url)

    import psycopg

    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{database}"')
        admin.execute(f'CREATE DATABASE "{database}"')
    try:
        run(database_url)
    finally:
        from django.db import connections

        if cleanup is not None:
            cleanup()
        connections.close_all()
        if not keep:
            with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def _point_django_at(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.local"
    os.environ["DJANGO_DEBUG"] = "false"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("DATABASE_STATEMENT_TIMEOUT_MS", "0")  # bulk fills outlast a request's


def clear_rate_limits() -> None:
    from common import ratelimit

    ratelimit.clear_all()


def load_parser(description: str, *, database: str, requests: int, requests_help: str):
    """The options both load benchmarks take; each adds its own."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--cards", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=requests, help=requests_help)
    parser.add_argument("--clients", type=int, default=4, help="concurrent load processes")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers")
    parser.add_argument("--database", default=database, help="created and dropped by the benchmark")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--own-fill",
        action="store_true",
        help="fill an empty database with the benchmark's own SQL instead of copying the shared "
        "city of --cards cards (filled_copy: made once per size and kept as a template)",
    )
    return parser


def run_load_benchmark(args, run: Callable[[object, str], None]) -> None:
    """A load benchmark in its own database: Redis is required (the limiters count there, as in
    production); Django is set up and migrated, then `run(args, database_url)`; the limiters'
    counters are cleared and the database dropped afterwards."""
    if not os.environ.get("REDIS_URL"):
        raise SystemExit("Set REDIS_URL: the rate limiters count in Redis, as in production.")

    def setup_and_run(database_url: str) -> None:
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        run(args, database_url)

    if getattr(args, "own_fill", True):
        in_own_database(args.database, keep=args.keep, run=setup_and_run, cleanup=clear_rate_limits)
        return
    database_url = filled_copy(
        args.cards, args.database, log=lambda line: print(line, file=sys.stderr)
    )
    _point_django_at(database_url)
    try:
        import django

        django.setup()
        run(args, database_url)
    finally:
        from django.db import connections

        clear_rate_limits()
        connections.close_all()
        if not args.keep:
            drop_database(args.database)


# --- One fast fill shared by the benchmarks -----------------------------------------------------
# A city of N cards is made once per N and schema and kept as a template database; each run
# copies it with CREATE DATABASE ... TEMPLATE (seconds) instead of filling again. The fill is
# set-based SQL with the triggers off and the secondary indexes and constraints dropped, then
# rebuilt after the load; the scope links and counters are then built set-based (cards.counts).

FILL_VERSION = "3"
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
COMMUNITY_POINTS = 200  # each holds about 0.5 % of the cards: a typical point
BIG_TABLES = (
    "applicants_applicant",
    "applicants_employment",
    "cards_card",
    "cards_cardtransition",
    "cards_outboxevent",
)
# Per thousand cards, the state they are in (about a city's mix: most cards issued).
STATE_MIX = [
    ("applied", 20),
    ("verified", 20),
    ("ready_for_collection", 30),
    ("issued", 730),
    ("phone_reported_lost", 1),
    ("written_lost", 15),
    ("cancelled", 65),
    ("replaced", 60),
    ("rejected", 30),
    ("withdrawn", 29),
]


def resident_id_sql(body: str) -> str:
    """The GB 11643 check character of an SQL expression of 17 digits, without a loop."""
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    total = " + ".join(f"substr({body}, {k + 1}, 1)::int * {w}" for k, w in enumerate(weights))
    return f"({body} || substr('10X98765432', ({total}) % 11 + 1, 1))"


def receipt_check_laterals(body: str) -> tuple[str, str]:
    """ISO 7064 MOD 37,36's hybrid system over the receipt alphabet (cards/numbers.py), unrolled
    into one LATERAL step per character: (the joins, the check character expression)."""
    joins = []
    previous = "16"
    for k in range(12):
        value = f"(strpos('{ALPHABET}', substr({body}, {k + 1}, 1)) - 1)"
        # coalesce(nullif(c, 0), 32) names c once: the planner inlines the steps, and a
        # CASE naming it twice would double the expression at each of the 12 steps.
        joins.append(
            f"CROSS JOIN LATERAL (SELECT (coalesce(nullif({previous}, 0), 32)"
            f" * 2 % 33 + {value}) % 32 AS c{k}) AS step{k}"
        )
        previous = f"step{k}.c{k}"
    check = (
        f"substr('{ALPHABET}', ((1 - coalesce(nullif({previous}, 0), 32) * 2"
        f" % 33) % 32 + 32) % 32 + 1, 1)"
    )
    return "\n".join(joins), check


def _schema_tag() -> str:
    """Changes with any migration's text or the fill's version: a template is never reused for
    another schema."""
    import hashlib

    digest = hashlib.sha1(FILL_VERSION.encode())
    for path in sorted(ROOT.glob("*/migrations/0*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:8]


def template_name(n: int) -> str:
    return f"{PREFIX}fill_{n}_{_schema_tag()}"


def _admin_connection():
    import psycopg

    server = os.environ.get("BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432")
    return server, psycopg.connect(f"{server}/postgres", autocommit=True)


def filled_copy(n: int, database: str, *, log=print, keep_template: bool = True) -> str:
    """A database `database` holding a filled city of `n` cards, copied from its template (made
    first if missing, which takes the fill's time once). Returns its URL. Without
    `keep_template` the template itself becomes `database` (renamed, not copied): half the disk
    for a city too large to keep twice, and the next run fills again."""
    server, admin = _admin_connection()
    template = template_name(n)
    with admin:
        exists = admin.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [template]
        ).fetchone()
    if not exists:
        started = time.perf_counter()
        _make_template(server, template, n, log=log)
        log(f"filled template {template} in {time.perf_counter() - started:.0f} s")
    server, admin = _admin_connection()
    with admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        if not keep_template:
            admin.execute(f'ALTER DATABASE "{template}" RENAME TO "{database}"')
            log(f"renamed {template} to {database} (no template kept)")
            return f"{server}/{database}"
        started = time.perf_counter()
        admin.execute(f'CREATE DATABASE "{database}" TEMPLATE "{template}"')
        log(f"copied {template} to {database} in {time.perf_counter() - started:.1f} s")
    return f"{server}/{database}"


def drop_database(database: str) -> None:
    _server, admin = _admin_connection()
    with admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def _make_template(server: str, template: str, n: int, *, log) -> None:
    import psycopg

    _s, admin = _admin_connection()
    building = f"{template}_building"
    with admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{building}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{building}"')
    env = {
        **os.environ,
        "DATABASE_URL": f"{server}/{building}",
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DJANGO_DEBUG": "false",
        "DATABASE_STATEMENT_TIMEOUT_MS": "0",  # the rebuild outlasts a request's limit
    }
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    with psycopg.connect(f"{server}/{building}", autocommit=True) as conn:
        fast_fill(conn, n, log=log)
    started = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.db import connection; "
            "from bench.harness import encrypt_fill; encrypt_fill(connection)",
        ],
        cwd=ROOT,
        env=env,
        check=True,
    )
    log(f"  {time.perf_counter() - started:7.1f} s  encrypted the personal columns (Python)")
    started = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "manage.py",
            "reconcile_counts",
            "--rebuild",
            "--bulk",
        ],
        cwd=ROOT,
        env=env,
        check=True,
    )
    log(f"  {time.perf_counter() - started:7.1f} s  scope links and counters (cards.counts)")
    with psycopg.connect(f"{server}/{building}", autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")
    log(f"  {time.perf_counter() - started:7.1f} s  ... and VACUUM ANALYZE")
    with admin if not admin.closed else _admin_connection()[1] as again:
        again.execute(f'ALTER DATABASE "{building}" RENAME TO "{template}"')


def fast_fill(conn, n: int, *, log=print) -> None:
    """Fill an empty, migrated database with a city of `n` cards in set-based SQL."""

    def run(sql: str, params=None) -> None:
        started = time.perf_counter()
        conn.execute(sql, params)
        log(f"  {time.perf_counter() - started:7.1f} s  {' '.join(sql.split()[:5])[:70]}")

    from agencies.reference import PARTNER_BANKS

    run("SET maintenance_work_mem = '256MB'")
    run("SET session_replication_role = replica")  # no triggers, no FK checks during the load
    saved = _drop_secondary(conn, log)
    for k, info in enumerate(PARTNER_BANKS, start=1):
        conn.execute(
            "INSERT INTO agencies_partnerbank (id, code, name_zh, name_en, active, "
            "webhook_secret, webhook_url, api_full_id_number, api_phone) "
            "VALUES (%s, %s, %s, %s, true, '', '', true, false)",
            [k, info.code, info.name_zh, info.name_en],
        )
    banks = len(PARTNER_BANKS)
    point_columns = (
        "(id, code, name, kind, district, address, phone, bank_id, active, opening_hours)"
    )
    run(
        f"""
        INSERT INTO agencies_servicepoint {point_columns}
        SELECT b * 100 + k, b || 'O' || lpad(k::text, 2, '0'), '支行' || k, 'bank_outlet',
               'xuhui', '上海市徐汇区肇嘉浜路88号', '021-12345678', b, true, ''
        FROM generate_series(1, {banks}) b, generate_series(0, 19) k;
        INSERT INTO agencies_servicepoint {point_columns}
        SELECT 10000 + p, 'CC' || lpad(p::text, 3, '0'), '社区事务受理服务中心' || p,
               'community_center', 'xuhui', '上海市徐汇区漕溪北路1号', '021-12345678', NULL,
               true, ''
        FROM generate_series(1, {COMMUNITY_POINTS}) p;
        INSERT INTO agencies_servicepoint {point_columns}
        VALUES (20000, 'HL01', '12333', 'hotline', 'xuhui', '上海市', '12333', NULL, true, '')
        """
    )
    people = n + n // 10  # a tenth with no card yet
    body = (
        "'310104' || to_char(date '1940-01-01' + (i % 20000)::int, 'YYYYMMDD') "
        "|| lpad(((i / 20000) % 1000)::text, 3, '0')"
    )
    run(
        f"""
        INSERT INTO applicants_applicant (id, name, id_type, id_number, id_issuing_country,
            sex, birth_date, nationality, shanghai_hukou, hukou_place, phone, address, created_at,
            updated_at)
        SELECT i, '张' || i, 'resident_id', {resident_id_sql(body)}, '',
               CASE WHEN (i / 20000) % 2 = 1 THEN 'male' ELSE 'female' END,
               date '1940-01-01' + (i % 20000)::int, 'CHN', true, '上海市徐汇区', '13800138000',
               '上海市徐汇区漕溪北路1号', now() - (i % 1826) * interval '1 day', now()
        FROM generate_series(1::bigint, {people}) AS i
        """
    )
    buckets, low = [], 0
    for state, share in STATE_MIX:
        buckets.append(f"WHEN i % 1000 < {low + share} THEN '{state}'")
        low += share
    joins, check = receipt_check_laterals("src.body")
    run(
        f"""
        CREATE TEMP TABLE src AS
        SELECT i, CASE {" ".join(buckets)} END AS status,
               i % 10 < 7 AS social,
               1 + i % {banks} AS bank,
               10000 + 1 + (i * 7919) % {COMMUNITY_POINTS} AS point,
               substr('{ALPHABET}', ((i / 1048576) % 32 + 1)::int, 1)
               || substr('{ALPHABET}', ((i / 32768) % 32 + 1)::int, 1)
               || substr('{ALPHABET}', ((i / 1024) % 32 + 1)::int, 1)
               || substr('{ALPHABET}', ((i / 32) % 32 + 1)::int, 1)
               || substr('{ALPHABET}', (i % 32 + 1)::int, 1)
               || translate(substr(md5(i::text), 1, 7), '0123456789abcdef',
                            'GHJKMNPQRSTVWXYZ') AS body
        FROM generate_series(1::bigint, {n}) AS i
        """
    )
    run(
        f"""
        INSERT INTO cards_card (id, public_id, applicant_id, card_type, status, receipt_number,
            card_number, bank_id, service_point_id, collection_point_id, channel,
            liveness_verified, real_name_verified, agent_name, agent_id_type, agent_id_number,
            photo_receipt_number, applied_at, verified_at, ready_at, issued_at,
            phone_reported_at, phone_report_expires_at, written_reported_at,
            written_report_expires_at, loss_certificate_number, closed_at, created_at,
            updated_at)
        SELECT i, gen_random_uuid(), i,
               CASE WHEN social THEN 'social_security' ELSE 'medical_insurance' END, status,
               body || {check},
               CASE WHEN status IN ('applied', 'verified', 'rejected', 'withdrawn') THEN NULL
                    ELSE 'SC' || lpad(i::text, 10, '0') END,
               CASE WHEN social THEN bank END, point,
               CASE WHEN social THEN bank * 100 + i % 20 ELSE point END,
               'counter', false, false, '', '', '', '', applied,
               CASE WHEN status NOT IN ('applied', 'rejected', 'withdrawn')
                    THEN applied + interval '2 days' END,
               CASE WHEN status NOT IN ('applied', 'verified', 'rejected', 'withdrawn')
                    THEN applied + interval '20 days' END,
               CASE WHEN status IN ('issued', 'phone_reported_lost', 'written_lost',
                                    'cancelled', 'replaced') THEN applied + interval '30 days' END,
               CASE WHEN status = 'phone_reported_lost' THEN now() - interval '2 hours' END,
               CASE WHEN status = 'phone_reported_lost'
                    THEN now() + (i % 24 - 1) * interval '1 hour' END,
               CASE WHEN status = 'written_lost' THEN now() - (i % 30) * interval '1 day' END,
               CASE WHEN status = 'written_lost'
                    THEN now() + (30 - i % 30) * interval '1 day' - interval '3 hours' END,
               CASE WHEN status = 'written_lost' THEN 'LR-BENCH-' || i END,
               CASE WHEN status IN ('cancelled', 'replaced', 'rejected', 'withdrawn')
                    THEN applied + interval '60 days' END,
               applied, applied
        FROM (
            SELECT src.*, now() - CASE
                WHEN status = 'applied' THEN (i % 20) * interval '1 day'
                WHEN status = 'verified' THEN (i % 40) * interval '1 day'
                WHEN status = 'ready_for_collection' THEN (20 + i % 300) * interval '1 day'
                ELSE (40 + (i * 37) % 1786) * interval '1 day' END
                - (i % 86400) * interval '1 second' AS applied
            FROM src
        ) src
        {joins}
        """
    )
    steps = ", ".join(
        f"('{state}', {step}, '{name}', '{source}', '{target}', {days})"
        for state, path in PATHS.items()
        for step, (name, source, target, days) in enumerate(path)
    )
    run(
        f"""
        CREATE TEMP TABLE steps AS
        WITH path(status, step, name, from_status, to_status, days) AS (VALUES {steps})
        SELECT c.id AS card_id, c.public_id, c.bank_id, c.service_point_id, p.step, p.name,
               p.from_status, p.to_status,
               least(c.applied_at + p.days * interval '1 day' / 10, now()) AS at
        FROM cards_card c JOIN path p ON p.status = c.status
        """
    )
    # Loss reports: at the hotline (by phone), else at the card's own point, or one in five at
    # another point (the nearest service center).
    run(
        f"""
        INSERT INTO cards_cardtransition (card_id, name, from_status, to_status, at,
            recorded_at, actor_kind, channel, reason, data, service_point_id, bank_id)
        SELECT card_id, name, from_status, to_status, at, at,
               CASE WHEN name IN ('mark_ready', 'hand_over') AND bank_id IS NOT NULL
                    THEN 'bank' ELSE 'user' END,
               CASE WHEN name = 'report_lost_by_phone' THEN 'hotline' ELSE 'counter' END, '',
               CASE WHEN name = 'mark_ready'
                    THEN jsonb_build_object('card_number', 'SC' || lpad(card_id::text, 10, '0'))
                    ELSE '{{}}'::jsonb END,
               CASE WHEN name = 'report_lost_by_phone' THEN 20000
                    WHEN name IN ('mark_ready', 'hand_over') AND bank_id IS NOT NULL THEN NULL
                    WHEN name IN ('report_lost_in_writing', 'cancel', 'replace')
                         AND card_id % 5 = 0
                    THEN 10000 + 1 + (card_id * 31) % {COMMUNITY_POINTS}
                    ELSE service_point_id END,
               CASE WHEN name IN ('mark_ready', 'hand_over') THEN bank_id END
        FROM steps ORDER BY card_id, step
        """
    )
    run(
        """
        INSERT INTO cards_outboxevent (kind, card_id, bank_id, payload, created_at,
            delivered_at, attempts, last_error)
        SELECT 'card.status_changed', card_id, bank_id,
               jsonb_build_object('event', 'card.status_changed', 'card', public_id::text,
                   'transition', name, 'from', from_status, 'to', to_status),
               at, at, 1, ''
        FROM steps WHERE bank_id IS NOT NULL ORDER BY at, card_id, step
        """
    )
    run(
        f"""
        INSERT INTO applicants_employer (id, name, uscc, kind, district, address)
        SELECT e, '上海某某有限公司' || e, '91310000' || lpad(e::text, 9, '0') || 'X',
               'enterprise', 'xuhui', '上海市徐汇区'
        FROM generate_series(1, greatest({n} // 100, 10)) e;
        INSERT INTO applicants_employment (applicant_id, employer_id, start_date, end_date,
            registered_on, registration_deadline)
        SELECT i, 1 + i % greatest({n} // 100, 10), current_date - (i % 3000)::int,
               NULL, CASE WHEN i % 50 = 0 THEN NULL ELSE current_date - (i % 3000)::int + 10 END,
               current_date - (i % 3000)::int + 30
        FROM generate_series(2::bigint, {people}, 2) i
        """.replace("//", "/")
    )
    run("SET session_replication_role = DEFAULT")
    _restore_secondary(conn, saved, log)
    for table in (
        "applicants_applicant",
        "applicants_employer",
        "agencies_servicepoint",
        "agencies_partnerbank",
        "cards_card",
        "cards_cardtransition",
        "cards_outboxevent",
        "applicants_employment",
    ):
        conn.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
            f"(SELECT coalesce(max(id), 1) FROM {table}))"
        )


def _drop_secondary(conn, log) -> list[str]:
    """Drop the big tables' secondary indexes and constraints; return the statements that
    rebuild them (indexes first, then constraints)."""
    tables = list(BIG_TABLES)
    constraints = conn.execute(
        """
        SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid)
        FROM pg_constraint c
        WHERE c.conrelid::regclass::text = ANY(%s) AND c.contype IN ('u', 'f', 'c')
        ORDER BY c.contype DESC
        """,
        [tables],
    ).fetchall()
    indexes = conn.execute(
        """
        SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
        FROM pg_index i
        WHERE i.indrelid::regclass::text = ANY(%s) AND NOT i.indisprimary
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
        """,
        [tables],
    ).fetchall()
    for table, name, _definition in constraints:
        conn.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    for name, _definition in indexes:
        conn.execute(f"DROP INDEX {name}")
    log(f"  dropped {len(indexes)} indexes and {len(constraints)} constraints for the load")
    rebuild = [definition for _name, definition in indexes]
    # Unique constraints before the foreign keys that may need them.
    ordered = sorted(constraints, key=lambda row: not row[2].startswith("UNIQUE"))
    rebuild += [
        f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'
        for table, name, definition in ordered
    ]
    return rebuild


def _restore_secondary(conn, statements: list[str], log) -> None:
    started = time.perf_counter()
    conn.execute("SET max_parallel_maintenance_workers = 2")
    for statement in statements:
        conn.execute(statement)
    seconds = time.perf_counter() - started
    log(f"  {seconds:7.1f} s  rebuilt {len(statements)} indexes and constraints")


def encrypt_fill(connection, *, log=print) -> None:
    """Encrypt in place what a fill wrote as plaintext in SQL (ID numbers, phones, addresses,
    card numbers, the log's personal values) and fill the blind indexes: SM4 is in neither
    PostgreSQL nor pgcrypto, so the tokens are made in Python, a batch of rows per UPDATE
    (common/reencrypt.py, as the migration that encrypted existing rows). Then VACUUM ANALYZE:
    the rewritten rows leave the tables as a steady state."""
    from django.apps import apps
    from django.conf import settings

    from common import crypto
    from common.reencrypt import plans, reencrypt_table

    ring = crypto.keyring()
    with connection.cursor() as cur:
        for plan in plans(apps.get_models()):
            started = time.perf_counter()
            append_only = plan.table in settings.DB_APPEND_ONLY_TABLES
            if append_only:  # its triggers refuse any UPDATE (the fill runs as a superuser)
                cur.execute(f'ALTER TABLE "{plan.table}" DISABLE TRIGGER USER')
            written = reencrypt_table(cur, plan, ring=ring, batch_size=10000, plaintext_ok=True)
            if append_only:
                cur.execute(f'ALTER TABLE "{plan.table}" ENABLE TRIGGER USER')
            log(
                f"  {time.perf_counter() - started:7.1f} s  encrypted {written:,} rows of "
                f"{plan.table} ({ring.current.algorithm})"
            )
        cur.execute("VACUUM ANALYZE")
