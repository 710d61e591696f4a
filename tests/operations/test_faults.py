"""Faults that heal: a database lost or a lock timeout answers 503 with Retry-After in each
surface's own shape; a retry with the same Idempotency-Key then acts once; a sweep that loses its
connection retries instead of waiting for beat."""

import contextlib
import datetime
import threading
import time
import uuid

import pytest
from django.db import connections
from django.db.models import Count
from django.test import Client

from cards.choices import CardStatus, TransitionName
from cards.models import CardTransition
from cards.tasks import sweep_phone_reports
from tests.cards.conftest import card_number
from tests.cards.due_cards import make_due_cards
from tests.conftest import staff_login
from tests.operations.conftest import CLOSED_DB_PORT, error_of

S = CardStatus
T = TransitionName
pytestmark = pytest.mark.django_db(transaction=True)


def in_thread(work, **database):
    """Run `work()` in a thread of its own, on its own database connection (settings changed by
    `database`), as a gunicorn worker serving one request; return what it returned."""
    result = {}

    def run():
        conn = connections["default"]
        conn.settings_dict = {**conn.settings_dict, **database}
        try:
            result["value"] = work()
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(60)
    return result["value"]


def ready_body(card) -> str:
    return f'{{"card_number": "{card_number()}"}}'


def post_ready(key, card, idempotency_key, body):
    return Client(raise_request_exception=False).post(
        f"/api/v1/cards/{card.public_id}/ready",
        data=body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Api-Key {key}",
        HTTP_IDEMPOTENCY_KEY=idempotency_key,
    )


def test_database_down_answers_503_in_each_surfaces_shape(bank_key, card_in, fresh_limits, world):
    card = card_in(S.VERIFIED)
    down = {"PORT": CLOSED_DB_PORT}
    api = in_thread(lambda: post_ready(bank_key, card, "k-1", ready_body(card)), **down)
    assert api.status_code == 503 and api["Retry-After"] == "5"
    assert api["Content-Type"] == "application/json"
    assert error_of(api)["code"] == "service_unavailable"
    # A clerk logged in while the database was up: the admin then reads the user from it.
    client = staff_login(Client(raise_request_exception=False), world.clerk.user)
    for path, method in (("/status/", "post"), ("/admin/", "get"), ("/admin/cards/card/", "get")):
        page = in_thread(lambda p=path, m=method: getattr(client, m)(p), **down)
        assert page.status_code == 503, (path, page.status_code)
        assert page["Retry-After"] == "5"
        # In the surfaces' default language, Chinese (the message had no translation before).
        assert "服务暂时不可用" in page.content.decode() and b"Traceback" not in page.content


def _backend_waiting_for_a_lock(pg) -> int | None:
    pg.execute("SELECT pg_stat_clear_snapshot()")  # statistics are a snapshot per transaction
    row = pg.execute(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
        "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
    ).fetchone()
    return row[0] if row else None


@contextlib.contextmanager
def row_locked(pg, card):
    with pg.transaction():
        pg.execute("SELECT 1 FROM cards_card WHERE id = %s FOR UPDATE", [card.pk])
        yield


def test_connection_killed_mid_request_503_json_then_the_same_key_acts_once(
    bank_key, card_in, pg_admin, fresh_limits
):
    card = card_in(S.VERIFIED)
    key, body = str(uuid.uuid4()), ready_body(card)
    answers = []
    with row_locked(pg_admin, card):
        thread = threading.Thread(
            target=lambda: in_thread(lambda: answers.append(post_ready(bank_key, card, key, body)))
        )
        thread.start()
        deadline = time.monotonic() + 20
        while (pid := _backend_waiting_for_a_lock(pg_admin)) is None:
            assert time.monotonic() < deadline, "the request never waited for the card's lock"
            time.sleep(0.05)
        pg_admin.execute("SELECT pg_terminate_backend(%s)", [pid])
        thread.join(30)
    (first,) = answers
    assert first.status_code == 503 and first["Retry-After"] == "5"
    assert error_of(first)["code"] == "service_unavailable"
    assert not CardTransition.objects.filter(card=card, name=T.MARK_READY).exists()
    retry = in_thread(lambda: post_ready(bank_key, card, key, body))
    assert retry.status_code == 200, retry.content
    assert retry.json()["status"] == S.READY_FOR_COLLECTION
    again = in_thread(lambda: post_ready(bank_key, card, key, body))
    assert again.status_code == 200 and again["Idempotent-Replayed"] == "true"
    assert CardTransition.objects.filter(card=card, name=T.MARK_READY).count() == 1


def test_a_lock_timeout_answers_503_json_not_a_wait(bank_key, card_in, pg_admin, fresh_limits):
    card = card_in(S.VERIFIED)
    short = {"OPTIONS": {"prepare_threshold": 0, "options": "-c lock_timeout=200"}}
    with row_locked(pg_admin, card):
        started = time.monotonic()
        answer = in_thread(lambda: post_ready(bank_key, card, "k-lock", ready_body(card)), **short)
        assert time.monotonic() - started < 5
    assert answer.status_code == 503 and error_of(answer)["code"] == "service_unavailable"


def test_a_sweep_that_loses_its_connection_retries_and_sweeps_each_card_once(
    world, pg_admin, settings, caplog
):
    settings.EXPIRY_SWEEP_BATCH_SIZE = 5
    settings.EXPIRY_SWEEP_PAUSE_SECONDS = 0.3
    past = datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=30)
    make_due_cards(
        30,
        status=S.PHONE_REPORTED_LOST,
        first_deadline=past,
        step=datetime.timedelta(seconds=1),
        point=world.county_medical,
    )
    connections["default"].ensure_connection()
    pid = connections["default"].connection.info.backend_pid

    def lapsed() -> int:
        return pg_admin.execute(
            "SELECT count(*) FROM cards_cardtransition WHERE name = %s", [T.LAPSE_PHONE_REPORT]
        ).fetchone()[0]

    def killer():
        while lapsed() < 5:
            time.sleep(0.02)
        pg_admin.execute("SELECT pg_terminate_backend(%s)", [pid])

    thread = threading.Thread(target=killer)
    thread.start()
    result = sweep_phone_reports.apply()
    thread.join(10)
    assert 5 <= result.get() < 30  # the retry's own count: the rest
    assert any("retry in 2s" in r.getMessage() for r in caplog.records)
    assert CardTransition.objects.filter(name=T.LAPSE_PHONE_REPORT).count() == 30
    per_card = CardTransition.objects.filter(name=T.LAPSE_PHONE_REPORT).values("card")
    assert not per_card.annotate(n=Count("id")).filter(n__gt=1).exists()
