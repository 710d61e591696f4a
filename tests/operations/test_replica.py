"""The replica router against a real streaming replica (tests/operations/replica.py): the API's
GETs and the status page read from the replica; a client's reads after its own write, every read
while the replica lags more than DATABASE_REPLICA_MAX_LAG_SECONDS, and every read while it is down
go to the primary. The service runs under gunicorn on our own primary, as in production."""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pytest

from common import crypto
from tests.operations.replica import (
    PRIMARY_PORT,
    REPLICA_PORT,
    StreamingPair,
    missing_binaries,
)

ROOT = Path(__file__).resolve().parents[2]
WEB_PORT = 7212
MAX_LAG = 3.0
pytestmark = pytest.mark.skipif(
    bool(missing_binaries()),
    reason=f"PostgreSQL server binaries missing ({', '.join(missing_binaries())}): "
    "install postgresql-15 to run the streaming-replica tests",
)


@pytest.fixture(scope="module")
def pair():
    streaming = StreamingPair()
    try:
        yield streaming.start()
    finally:
        streaming.close()


def _env(pair: StreamingPair) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.test",
        DATABASE_URL=pair.url(PRIMARY_PORT),
        DATABASE_REPLICA_URL=pair.url(REPLICA_PORT),
        DATABASE_REPLICA_MAX_LAG_SECONDS=str(MAX_LAG),
        DATABASE_READ_YOUR_WRITES_SECONDS="60",
        API_KEY_RATE_LIMIT="100000",
        STATUS_LIMIT_PER_RECEIPT="1000",
        STATUS_LIMIT_PER_ADDRESS="1000",
    )
    return env


def _manage(env, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


class Service:
    def __init__(self, pair: StreamingPair, keys: list[str], cards: list[str]) -> None:
        self.pair, self.keys, self.cards = pair, keys, cards

    def get(self, key: str, card: str) -> tuple[int, dict]:
        request = urllib.request.Request(
            f"http://127.0.0.1:{WEB_PORT}/api/v1/cards/{card}",
            headers={"Authorization": f"Api-Key {key}", "Host": "localhost"},
        )
        try:
            with urllib.request.urlopen(request, timeout=20) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")

    def status_page(self, card: str) -> bytes:
        """The status page's answer for `card`, looked up as its holder does (form, then POST),
        in English, with the per-response CSRF token blanked."""
        with self.pair.connect(PRIMARY_PORT) as conn:
            id_token, receipt = conn.execute(
                """SELECT a.id_number, c.receipt_number FROM cards_card c
                JOIN applicants_applicant a ON a.id = c.applicant_id WHERE c.public_id = %s""",
                [card],
            ).fetchone()
        id_number = crypto.decrypt(id_token, context="id_number")  # stored encrypted
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        url = f"http://127.0.0.1:{WEB_PORT}/status/"
        headers = {"Host": "localhost", "Cookie": "django_language=en"}
        with opener.open(urllib.request.Request(url, headers=headers), timeout=20) as form:
            token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', form.read())
        body = urllib.parse.urlencode(
            {
                "csrfmiddlewaretoken": token.group(1).decode(),
                "id_number": id_number,
                "receipt_number": receipt,
            }
        ).encode()
        csrf = next(c.value for c in jar if c.name == "csrftoken")
        headers["Cookie"] += f"; csrftoken={csrf}"
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        with urllib.request.urlopen(request, timeout=20) as answer:
            assert answer.status == 200
            page = answer.read()
        return re.sub(rb'name="csrfmiddlewaretoken" value="[^"]+"', b"", page)

    def withdraw(self, key: str, card: str) -> int:
        request = urllib.request.Request(
            f"http://127.0.0.1:{WEB_PORT}/api/v1/cards/{card}/withdraw",
            data=json.dumps({"reason": "The applicant changed their mind."}).encode(),
            headers={
                "Authorization": f"Api-Key {key}",
                "Content-Type": "application/json",
                "Idempotency-Key": str(uuid.uuid4()),
                "Host": "localhost",
            },
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=20) as answer:
            return answer.status


@pytest.fixture(scope="module")
def service(pair, tmp_path_factory):
    env = _env(pair)
    _manage(env, "migrate", "--noinput")
    _manage(env, "seed_demo")
    with pair.connect(PRIMARY_PORT) as conn:
        bank, *cards = conn.execute(
            """SELECT b.code, array_agg(c.public_id::text ORDER BY c.id)
            FROM cards_card c JOIN agencies_partnerbank b ON b.id = c.bank_id
            WHERE c.status IN ('applied', 'verified')
            GROUP BY b.code HAVING count(*) >= 2 ORDER BY b.code LIMIT 1"""
        ).fetchone()
    keys = [_manage(env, "create_bank_key", bank).strip().splitlines()[-1] for _ in range(2)]
    log = tmp_path_factory.mktemp("gunicorn") / "gunicorn.log"
    handle = log.open("ab")
    gunicorn = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("gunicorn")),
            "config.wsgi",
            "--bind",
            f"127.0.0.1:{WEB_PORT}",
            "--workers",
            "1",
        ],
        cwd=ROOT,
        env=env,
        stdout=handle,
        stderr=handle,
        start_new_session=True,
    )
    try:
        svc = Service(pair, keys, cards[0])
        deadline = time.monotonic() + 30
        while True:
            try:
                svc.get(keys[0], svc.cards[0])
                break
            except OSError:
                assert time.monotonic() < deadline, log.read_text()[-3000:]
                time.sleep(0.2)
        pair.wait_replayed()
        yield svc
    finally:
        gunicorn.terminate()
        try:
            gunicorn.wait(timeout=15)
        except subprocess.TimeoutExpired:
            gunicorn.kill()
            gunicorn.wait()
        handle.close()


def test_reads_go_to_the_replica_and_fall_back_to_the_primary(pair, service):
    writer, reader = service.keys
    first, second = service.cards[:2]
    with pair.connect(REPLICA_PORT) as replica:
        assert replica.execute("SELECT pg_is_in_recovery()").fetchone()[0]
        # A fresh replayed commit, so the lag clock starts now; then the replica stops replaying.
        assert service.withdraw(writer, first) == 200
        pair.wait_replayed()
        replica.execute("SELECT pg_wal_replay_pause()")
        try:
            status_before = service.get(reader, second)[1]["status"]
            page_before = service.status_page(second)
            assert service.withdraw(writer, second) == 200  # committed on the primary only
            # Another client reads the replica, which has not replayed the withdrawal yet.
            code, body = service.get(reader, second)
            assert code == 200 and body["status"] == status_before != "withdrawn"
            # So does the status page.
            assert service.status_page(second) == page_before
            # The writer reads its own write: the primary.
            assert service.get(writer, second)[1]["status"] == "withdrawn"
            # Once the replica lags more than the limit, everyone reads the primary.
            time.sleep(MAX_LAG + 1.5)
            assert service.get(reader, second)[1]["status"] == "withdrawn"
            page_after = service.status_page(second)
            assert page_after != page_before and b"This application was withdrawn" in page_after
        finally:
            replica.execute("SELECT pg_wal_replay_resume()")
    pair.wait_replayed()
    assert service.get(reader, second)[1]["status"] == "withdrawn"
    # The replica stops: reads fall back to the primary, no error.
    pair.stop_replica()
    time.sleep(1.2)  # the router re-checks the replica at most once a second
    code, body = service.get(reader, second)
    assert code == 200 and body["status"] == "withdrawn"
    code, body = service.get(reader, first)
    assert code == 200 and body["status"] == "withdrawn"
