"""/metrics: each metric moves when its event happens; open from loopback, closed elsewhere."""

import datetime

import pytest
import time_machine
from django.db import transaction
from django.test import Client

from agencies.services import bank_webhook_set
from cards import services, sweeps
from cards.choices import ActorKind, CardStatus, TransitionName
from cards.models import OutboxEvent
from common.tasks import purge_idempotency_keys
from tests.cards.conftest import card_number, report_by_phone
from tests.operations.conftest import sample, scrape

S = CardStatus
T = TransitionName
pytestmark = pytest.mark.django_db


@pytest.fixture
def client():
    return Client()


def value(client, metric, **labels) -> float:
    return sample(scrape(client), metric, **labels) or 0.0


def test_metrics_open_from_loopback_closed_elsewhere_unless_the_bearer_token(client, settings):
    assert client.get("/metrics").status_code == 200
    outside = client.get("/metrics", REMOTE_ADDR="203.0.113.9")
    assert outside.status_code == 403 and b"shebao" not in outside.content
    settings.METRICS_TOKEN = "s3cret-token"
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9").status_code == 403
    wrong = client.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer nope")
    assert wrong.status_code == 403
    right = client.get(
        "/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer s3cret-token"
    )
    assert right.status_code == 200 and b"shebao_transitions_total" in right.content
    settings.METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8"]
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert client.get("/metrics").status_code == 403  # loopback no longer listed


def test_requests_per_view_database_and_cache_timings(client):
    before = scrape(client)
    client.get("/health/")
    client.get("/health/ready/")
    after = scrape(client)
    for view, status in (("health", "200"),):
        old = sample(before, "shebao_http_requests_total", view=view, method="GET", status=status)
        new = sample(after, "shebao_http_requests_total", view=view, method="GET", status=status)
        assert new == (old or 0) + 1
    assert sample(after, "shebao_http_request_duration_seconds_count", view="health-ready") >= 1
    assert sample(after, "shebao_db_query_duration_seconds_count", alias="default") > (
        sample(before, "shebao_db_query_duration_seconds_count", alias="default") or 0
    )
    from django.core.cache import cache

    cache.get("ops-test-missing")
    cache.set("ops-test-present", 1)
    cache.get("ops-test-present")
    text = scrape(client)
    assert sample(text, "shebao_cache_gets_total", result="miss") >= 1
    assert sample(text, "shebao_cache_gets_total", result="hit") >= 1
    assert sample(text, "shebao_cache_duration_seconds_count", operation="set") >= 1


def test_transitions_count_once_committed_by_name_and_actor_kind(
    client, world, card_in, django_capture_on_commit_callbacks
):
    card = card_in(S.VERIFIED)
    labels = {"name": T.MARK_READY, "actor_kind": ActorKind.BANK}
    before = value(client, "shebao_transitions_total", **labels)
    with pytest.raises(RuntimeError), transaction.atomic():
        services.card_mark_ready(card=card, actor=world.bank_actor, card_number=card_number())
        raise RuntimeError("rolled back")
    assert value(client, "shebao_transitions_total", **labels) == before  # nothing committed
    with django_capture_on_commit_callbacks(execute=True):
        services.card_mark_ready(card=card, actor=world.bank_actor, card_number=card_number())
    assert value(client, "shebao_transitions_total", **labels) == before + 1


def test_sweeps_count_what_they_expired_and_the_oldest_due_gauge_follows(
    client, world, card_in, django_capture_on_commit_callbacks
):
    card = report_by_phone(world, card_in(S.ISSUED))
    due = card.phone_report_expires_at
    swept = value(client, "shebao_expiry_swept_total", kind="phone")
    lapsed = {"name": T.LAPSE_PHONE_REPORT, "actor_kind": ActorKind.SYSTEM}
    transitions = value(client, "shebao_transitions_total", **lapsed)
    with time_machine.travel(due - datetime.timedelta(microseconds=1), tick=False):
        assert value(client, "shebao_expiry_oldest_due_seconds", kind="phone") == 0
    with time_machine.travel(due, tick=False):
        assert value(client, "shebao_expiry_oldest_due_seconds", kind="phone") == 0
    with time_machine.travel(due + datetime.timedelta(seconds=90), tick=False):
        assert value(client, "shebao_expiry_oldest_due_seconds", kind="phone") == 90
        assert value(client, "shebao_expiry_oldest_due_seconds", kind="written") == 0
        with django_capture_on_commit_callbacks(execute=True):
            assert sweeps.sweep(T.LAPSE_PHONE_REPORT).expired == 1
        assert value(client, "shebao_expiry_oldest_due_seconds", kind="phone") == 0
    assert value(client, "shebao_expiry_swept_total", kind="phone") == swept + 1
    assert value(client, "shebao_transitions_total", **lapsed) == transitions + 1


def test_webhook_backlog_and_oldest_undelivered_per_destination(client, world, card_in):
    card = card_in(S.VERIFIED)
    bank_webhook_set(bank=world.bank, url="http://127.0.0.1:7203/hooks")
    text = scrape(client)
    assert sample(text, "shebao_webhook_backlog", destination="bank:BOSC") == 0
    assert sample(text, "shebao_webhook_oldest_undelivered_seconds", destination="bank:BOSC") == 0
    services.card_mark_ready(card=card, actor=world.bank_actor, card_number=card_number())
    event = OutboxEvent.objects.filter(card=card).order_by("id").last()
    assert event.next_attempt_at is not None
    with time_machine.travel(event.created_at + datetime.timedelta(seconds=42), tick=False):
        text = scrape(client)
    assert sample(text, "shebao_webhook_backlog", destination="bank:BOSC") == 1
    assert sample(
        text, "shebao_webhook_oldest_undelivered_seconds", destination="bank:BOSC"
    ) == pytest.approx(42)
    OutboxEvent.objects.filter(pk=event.pk).update(delivered_at=event.created_at)
    assert value(client, "shebao_webhook_backlog", destination="bank:BOSC") == 0


def test_status_lookups_by_outcome(client, card_in, fresh_limits, settings):
    from tests.status.conftest import lookup

    card = card_in(S.ISSUED)
    outcomes = ("found", "not_found", "limited")
    before = {o: value(client, "shebao_status_lookups_total", outcome=o) for o in outcomes}
    assert lookup(client, card.applicant.id_number, card.receipt_number).status_code == 200
    assert lookup(client, "310101199001011234", card.receipt_number).status_code == 200
    settings.STATUS_LIMIT_PER_RECEIPT = 2
    assert lookup(client, card.applicant.id_number, card.receipt_number).status_code == 429
    after = {o: value(client, "shebao_status_lookups_total", outcome=o) for o in outcomes}
    assert after == {o: before[o] + 1 for o in outcomes}


def test_api_requests_by_bank_and_code(client, api, card_in, fresh_limits):
    card = card_in(S.VERIFIED)
    ok = {"bank": "BOSC", "code": "200"}
    refused = {"bank": "-", "code": "401"}
    before = (
        value(client, "shebao_api_requests_total", **ok),
        value(client, "shebao_api_requests_total", **refused),
    )
    assert api.get(f"/cards/{card.public_id}").status_code == 200
    assert Client().get(f"/api/v1/cards/{card.public_id}").status_code == 401
    after = (
        value(client, "shebao_api_requests_total", **ok),
        value(client, "shebao_api_requests_total", **refused),
    )
    assert after == (before[0] + 1, before[1] + 1)


def test_celery_tasks_counted_by_name_and_state(client):
    labels = {"task": "common.tasks.purge_idempotency_keys", "state": "SUCCESS"}
    before = value(client, "shebao_celery_tasks_total", **labels)
    purge_idempotency_keys.apply()
    assert value(client, "shebao_celery_tasks_total", **labels) == before + 1
    assert value(client, "shebao_celery_task_duration_seconds_count", task=labels["task"]) >= 1


def test_card_center_backlog_and_oldest_undelivered(client, card_in):
    from cards.models import CardCenterNotice

    assert value(client, "shebao_webhook_backlog", destination="card_center") == 0
    card_in(S.PHONE_REPORTED_LOST)  # issued, then reported: notices for the card center
    pending = CardCenterNotice.objects.filter(delivered_at__isnull=True)
    oldest = pending.order_by("created_at").first()
    assert oldest is not None
    with time_machine.travel(oldest.created_at + datetime.timedelta(seconds=42), tick=False):
        text = scrape(client)
    assert sample(text, "shebao_webhook_backlog", destination="card_center") == pending.count()
    assert sample(
        text, "shebao_webhook_oldest_undelivered_seconds", destination="card_center"
    ) == pytest.approx(42)
    pending.update(delivered_at=oldest.created_at)
    assert value(client, "shebao_webhook_backlog", destination="card_center") == 0


def test_the_delivery_panel_reads_any_number_of_banks_in_the_same_queries(world, card_in):
    """The card-center notices' admin shows each bank's webhook backlog and last error
    (cards.webhooks.webhook_backlog): two queries for all banks, not one more per bank."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from cards.webhooks import webhook_backlog

    card = card_in(S.VERIFIED)
    bank_webhook_set(bank=world.bank, url="http://127.0.0.1:7203/hooks")
    services.card_mark_ready(card=card, actor=world.bank_actor, card_number=card_number())
    OutboxEvent.objects.filter(card=card).update(last_error="HTTP 503")
    with CaptureQueriesContext(connection) as one:
        rows = webhook_backlog()
    assert [(r["destination"], r["count"], r["last_error"]) for r in rows] == [
        ("bank:BOSC", 1, "HTTP 503")
    ]
    bank_webhook_set(bank=world.other_bank, url="http://127.0.0.1:7203/other")
    with CaptureQueriesContext(connection) as two:
        rows = webhook_backlog()
    assert len(rows) == 2 and {r["last_error"] for r in rows} == {"HTTP 503", ""}
    assert len(two.captured_queries) == len(one.captured_queries)
