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
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

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
            str(ROOT / ".venv" / "bin" / "gunicorn"),
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
    os.environ["DATABASE_URL"] = database_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.local"
    os.environ["DJANGO_DEBUG"] = "false"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("DATABASE_STATEMENT_TIMEOUT_MS", "0")  # bulk fills outlast a request's

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

    in_own_database(args.database, keep=args.keep, run=setup_and_run, cleanup=clear_rate_limits)
