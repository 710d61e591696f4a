"""The clerk admin's pages at city scale: server time and queries of every page, at N/10 and N.

    REDIS_URL=redis://127.0.0.1:6379/14 .venv/bin/python bench/admin_pages.py --cards 1000000

In one run, for N/10 and for N cards: a filled city (bench/harness.py: the shared fast fill, kept
as a template database and copied per run), gunicorn with the production settings, and each page
requested as a clerk, a supervisor, the hotline and a superuser of a typical service point (about
0.5 % of the cards), `--requests` times after a warm-up, one request at a time, alternating
between the two sizes (both served at once) so that both see the same machine. Prints each page's
p50/p95 and query count at both sizes, and as its last line
`p95_ms=<worst page's p95 at N> growth=<worst ratio of a page's p95 at N to N/10> queries_max=<n>`.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import harness  # noqa: E402

SECRET_KEY = "bench-only-" + "x" * 40
CSRF = "benchcsrftoken0123456789abcdefgh"  # 32 characters: the cookie and the form field
POINT_CODE = "CC001"


def pages(sample: dict) -> list[tuple[str, str, str, str, dict | None]]:
    """(desk, page, method, path, form): every page of the issue, for each desk."""
    counter = "/admin/cards/card/counter/"
    return [
        ("clerk", "counter search by ID", "POST", counter, {"q": sample["id_number"]}),
        ("clerk", "counter search by receipt", "POST", counter, {"q": sample["receipt"]}),
        ("clerk", "counter search by card number", "POST", counter, {"q": sample["card_number"]}),
        ("clerk", "applicant list", "GET", "/admin/applicants/applicant/", None),
        ("clerk", "card list", "GET", "/admin/cards/card/", None),
        ("clerk", "card list sorted by bank", "GET", "/admin/cards/card/?o=5", None),
        ("clerk", "loss reports taken here", "GET", "/admin/cards/card/?here=loss", None),
        ("clerk", "employment list", "GET", "/admin/applicants/employment/", None),
        ("clerk", "dashboard", "GET", "/admin/", None),
        (
            "clerk",
            "card page (long history)",
            "GET",
            f"/admin/cards/card/{sample['long']}/change/",
            None,
        ),
        ("supervisor", "dashboard", "GET", "/admin/", None),
        (
            "supervisor",
            "overdue verification",
            "GET",
            "/admin/cards/card/?deadline=overdue_verification",
            None,
        ),
        (
            "supervisor",
            "overdue uncollected",
            "GET",
            "/admin/cards/card/?deadline=overdue_uncollected",
            None,
        ),
        ("supervisor", "expiring today", "GET", "/admin/cards/card/?deadline=expiring_today", None),
        ("hotline", "dashboard", "GET", "/admin/", None),
        ("hotline", "card list", "GET", "/admin/cards/card/", None),
        ("hotline", "counter search by ID", "POST", counter, {"q": sample["id_number"]}),
        ("superuser", "dashboard", "GET", "/admin/", None),
        ("superuser", "card list", "GET", "/admin/cards/card/", None),
        ("superuser", "card list sorted by bank", "GET", "/admin/cards/card/?o=5", None),
        ("superuser", "applicant list", "GET", "/admin/applicants/applicant/", None),
        ("superuser", "employer list", "GET", "/admin/applicants/employer/", None),
        ("superuser", "employment list", "GET", "/admin/applicants/employment/", None),
        (
            "superuser",
            "overdue verification",
            "GET",
            "/admin/cards/card/?deadline=overdue_verification",
            None,
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=20, help="timed requests per page")
    parser.add_argument("--warmup", type=int, default=3, help="untimed requests per page first")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers")
    parser.add_argument(
        "--no-template",
        action="store_true",
        help="fill N's city in place, keeping no template (for an N the disk cannot hold twice)",
    )
    parser.add_argument("--prepare", help=argparse.SUPPRESS)  # internal: one city, in a child
    args = parser.parse_args()
    if not os.environ.get("REDIS_URL"):
        raise SystemExit("Set REDIS_URL (the admin's caches and limiters use Redis).")
    if args.prepare:
        import django

        django.setup()
        sample, sessions = prepare(args.cards)
        print(json.dumps({"sample": sample, "sessions": sessions}))
        return
    sizes = (args.cards // 10, args.cards)
    databases = {n: f"{harness.PREFIX}admin_{n}" for n in sizes}
    urls, prepared, servers = {}, {}, {}
    try:
        # Both cities (each made once and kept as a template, then copied), both served at once,
        # and each page's requests alternating between them: the two sizes are measured under
        # the same conditions, whatever else the machine is doing meanwhile.
        for n in sizes:
            urls[n] = harness.filled_copy(
                n,
                databases[n],
                log=lambda line: print(line, file=sys.stderr),
                keep_template=not (args.no_template and n == args.cards),
            )
        for n in sizes:
            prepared[n] = prepare_in_child(urls[n], n)
            port = harness.free_port()
            servers[n] = (
                port,
                harness.start_gunicorn(urls[n], args.workers, port, {"BENCH_COUNT_QUERIES": "1"}),
            )
        results = measure(prepared, servers, sizes, args)
    finally:
        for _port, server in servers.values():
            server.terminate()
            server.wait(timeout=30)
        for database in databases.values():
            harness.drop_database(database)
    report(results, sizes, args)


def prepare_in_child(url: str, n: int) -> dict:
    """The desks' sessions and the sample numbers of one city, made by a child process with
    Django set up on that city's database (the production settings)."""
    try:
        child = subprocess.run(
            [sys.executable, __file__, "--prepare", url, "--cards", str(n)],
            check=True,
            capture_output=True,
            text=True,
            env={
                **os.environ,
                "DJANGO_SETTINGS_MODULE": "bench.settings",
                "DATABASE_URL": url,
                "DJANGO_SECRET_KEY": SECRET_KEY,
                "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
                "DJANGO_SECURE_SSL_REDIRECT": "false",
                "LOG_LEVEL": "WARNING",
            },
        )
    except subprocess.CalledProcessError as failed:
        print(failed.stdout, failed.stderr, file=sys.stderr)
        raise
    return json.loads(child.stdout.strip().splitlines()[-1])


def report(results: dict, sizes: tuple[int, int], args) -> None:
    small, big = sizes
    print(
        f"{args.requests} requests per page after {args.warmup} warm-up, one at a time, "
        f"gunicorn {args.workers} sync workers, production settings, {os.cpu_count()} CPUs"
    )
    print(
        f"{'desk':<11} {'page':<32} {'p50@N/10':>9} {'p95@N/10':>9} {'p50@N':>8} "
        f"{'p95@N':>8} {'growth':>7} {'queries':>8}"
    )
    worst, growth, queries_max = 0.0, 0.0, 0
    for key, at_big in results[big].items():
        at_small = results[small][key]
        ratio = at_big["p95"] / at_small["p95"]
        desk, page = key.split(" | ")
        queries = f"{at_small['queries']}/{at_big['queries']}"
        print(
            f"{desk:<11} {page:<32} {at_small['p50']:9.1f} {at_small['p95']:9.1f} "
            f"{at_big['p50']:8.1f} {at_big['p95']:8.1f} {ratio:7.2f} {queries:>8}"
        )
        worst = max(worst, at_big["p95"])
        growth = max(growth, ratio)
        queries_max = max(queries_max, at_big["queries"], at_small["queries"])
    print(f"N/10={small:,} N={big:,} cards")
    print(f"p95_ms={worst:.1f} growth={growth:.2f} queries_max={queries_max}")


# --- Measuring ------------------------------------------------------------------------------


def measure(prepared: dict, servers: dict, sizes: tuple[int, int], args) -> dict:
    """Each page at both sizes: the warm-up, then `requests` rounds of one request to each
    server, in alternating order."""
    results: dict[int, dict] = {n: {} for n in sizes}
    listed = {n: pages(prepared[n]["sample"]) for n in sizes}
    for k, (desk, page, *_rest) in enumerate(listed[sizes[0]]):
        timings: dict[int, list[float]] = {n: [] for n in sizes}
        queries: dict[int, set[int]] = {n: set() for n in sizes}
        rounds = [(n, False) for _ in range(args.warmup) for n in sizes]
        rounds += [
            (n, True) for i in range(args.requests) for n in (sizes if i % 2 else sizes[::-1])
        ]
        for n, timed in rounds:
            _desk, _page, method, path, form = listed[n][k]
            elapsed, count = request(
                servers[n][0], method, path, form, prepared[n]["sessions"][desk]
            )
            if timed:
                timings[n].append(elapsed)
                queries[n].add(count)
        for n in sizes:
            ordered = sorted(timings[n])
            results[n][f"{desk} | {page}"] = {
                "p50": ordered[len(ordered) // 2],
                "p95": ordered[max(0, -(-95 * len(ordered) // 100) - 1)],
                "queries": max(queries[n]),
            }
    return results


def request(port: int, method: str, path: str, form: dict | None, session: str):
    body = None
    headers = {"Cookie": f"sessionid={session}; csrftoken={CSRF}", "Accept-Language": "zh-hans"}
    if form is not None:
        body = urllib.parse.urlencode({**form, "csrfmiddlewaretoken": CSRF})
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    started = time.perf_counter()
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    response.read()
    elapsed = (time.perf_counter() - started) * 1000
    conn.close()
    if response.status not in (200, 302):
        raise RuntimeError(f"{method} {path}: {response.status}")
    if response.status == 302 and "/login/" in response.getheader("Location", ""):
        raise RuntimeError(f"{method} {path}: not logged in")
    return elapsed, int(response.getheader("X-Queries", "0"))


def prepare(n: int) -> tuple[dict, dict]:
    """The desks' users and sessions, and the numbers the pages look up."""
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import (
        BACKEND_SESSION_KEY,
        HASH_SESSION_KEY,
        SESSION_KEY,
        get_user_model,
    )
    from django.db import connection
    from django_otp import DEVICE_ID_SESSION_KEY

    from accounts.services import two_factor_enrol

    # Sessions where the web process keeps them (Redis when configured), each verified by its
    # user's second factor as the login form would leave it (accounts/admin_site.py).
    SessionStore = import_module(settings.SESSION_ENGINE).SessionStore

    from agencies.models import ServicePoint
    from agencies.services import staff_assign

    User = get_user_model()
    point = ServicePoint.objects.get(code=POINT_CODE)
    hotline = ServicePoint.objects.get(code="HL01")
    users = {}
    for desk, role, where in (
        ("clerk", "clerk", point),
        ("supervisor", "supervisor", point),
        ("hotline", "hotline_operator", hotline),
    ):
        user = User.objects.create_user(f"bench-{desk}", password=None, is_staff=True)
        staff_assign(user=user, role=role, service_point=where)
        users[desk] = user
    users["superuser"] = User.objects.create_superuser("bench-root", "root@example.org", None)
    sessions = {}
    for desk, user in users.items():
        store = SessionStore()
        store[SESSION_KEY] = str(user.pk)
        store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        store[HASH_SESSION_KEY] = user.get_session_auth_hash()
        store[DEVICE_ID_SESSION_KEY] = two_factor_enrol(user=user)[0].persistent_id
        store.create()
        sessions[desk] = store.session_key
    from common import crypto

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.id, a.id_number, c.receipt_number, c.card_number FROM cards_card c "
            "JOIN applicants_applicant a ON a.id = c.applicant_id "
            "WHERE c.service_point_id = %s AND c.status = 'issued' ORDER BY c.id LIMIT 2",
            [point.pk],
        )
        (long_id, id_token, receipt, _number), (_o, _i, _r, other_token) = cursor.fetchall()
        # Stored encrypted (common/crypto.py): the clerk types the plaintext.
        id_number = crypto.decrypt(id_token, context="id_number")
        other_card = crypto.decrypt(other_token, context="card_number")
        # A card with a long history: 300 found-and-lost-again rounds.
        cursor.execute(
            "INSERT INTO cards_cardtransition (card_id, name, from_status, to_status, at, "
            "recorded_at, actor_kind, channel, reason, data, service_point_id) "
            "SELECT %s, CASE WHEN k %% 2 = 0 THEN 'report_lost_by_phone' "
            "ELSE 'withdraw_loss_report' END, "
            "CASE WHEN k %% 2 = 0 THEN 'issued' ELSE 'phone_reported_lost' END, "
            "CASE WHEN k %% 2 = 0 THEN 'phone_reported_lost' ELSE 'issued' END, "
            "now() - (600 - k) * interval '1 hour', now(), 'user', 'counter', '', '{}', %s "
            "FROM generate_series(1, 600) k",
            [long_id, point.pk],
        )
    from cards.counter.search import SearchKind, parse_search
    from cards.numbers import format_receipt_number, is_valid_receipt_number

    # The fill's SQL check characters agree with the application's.
    assert is_valid_receipt_number(receipt), receipt
    assert parse_search(id_number).kind == SearchKind.ID_NUMBER, id_number

    sample = {
        "long": long_id,
        "id_number": id_number,
        "receipt": format_receipt_number(receipt),
        "card_number": other_card,
    }
    return sample, sessions


if __name__ == "__main__":
    main()
