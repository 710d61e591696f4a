"""The request id: answered in X-Request-ID, in the request's log line, and, carried as a task
header, in the log lines of the Celery task the request queued (a real worker, JSON logs)."""

import json
import logging

import pytest
from django.test import Client

from agencies.services import bank_webhook_set
from cards.choices import CardStatus
from common.logging import JsonFormatter
from common.requestid import RequestIdFilter
from tests.cards.conftest import card_number
from tests.cards.processes import kill, purge, start, wait_for

S = CardStatus


def json_lines(records) -> list[dict]:
    formatter, stamp = JsonFormatter(), RequestIdFilter()
    lines = []
    for record in records:
        stamp.filter(record)
        lines.append(json.loads(formatter.format(record)))
    return lines


@pytest.mark.django_db
def test_a_sane_id_is_kept_anything_else_replaced(caplog):
    client = Client()
    kept = client.get("/health/", HTTP_X_REQUEST_ID="lb-7f3a.91:ok_1")
    assert kept["X-Request-ID"] == "lb-7f3a.91:ok_1"
    for insane in ("310101199001011234 张三", "x" * 129, "a;b", ""):
        answer = client.get("/health/", HTTP_X_REQUEST_ID=insane)
        assert answer["X-Request-ID"] != insane and len(answer["X-Request-ID"]) == 32
    assert "张三" not in caplog.text and "310101199001011234" not in caplog.text


@pytest.mark.django_db
def test_the_web_log_line_carries_the_id_and_nothing_personal(caplog, card_in, fresh_limits):
    from tests.status.conftest import lookup

    card = card_in(S.ISSUED)
    caplog.set_level(logging.INFO)
    answer = lookup(Client(), card.applicant.id_number, card.receipt_number)
    request_id = answer["X-Request-ID"]
    (line,) = [line for line in json_lines(caplog.records) if line["logger"] == "shebao.request"]
    assert line["request_id"] == request_id
    assert (line["http_method"], line["path"], line["status"]) == ("POST", "/status/", 200)
    assert line["view"] == "status:lookup"
    text = json.dumps(json_lines(caplog.records), ensure_ascii=False)
    for personal in (card.applicant.id_number, card.applicant.name, card.receipt_number):
        assert personal not in text


@pytest.mark.django_db(transaction=True)
def test_the_id_follows_the_request_into_the_task_it_queued(world, card_in, bank_key, tmp_path):
    card = card_in(S.VERIFIED)
    bank_webhook_set(bank=world.bank, url="http://127.0.0.1:7204/hooks")  # nobody listens
    log = tmp_path / "worker.log"
    from django.conf import settings

    purge(settings.WEBHOOK_QUEUE)  # deliveries have a queue of their own (cards/delivery.py)
    worker = start("worker", settings.WEBHOOK_QUEUE, log, LOG_FORMAT="json")
    try:
        answer = Client().post(
            f"/api/v1/cards/{card.public_id}/ready",
            data=json.dumps({"card_number": card_number()}),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Api-Key {bank_key}",
            HTTP_IDEMPOTENCY_KEY="ready-1",
            HTTP_X_REQUEST_ID="trace-4242",
        )
        assert answer.status_code == 200 and answer["X-Request-ID"] == "trace-4242"

        def task_lines() -> list[dict]:
            lines = []
            for raw in log.read_text(errors="replace").splitlines():
                if raw.startswith("{"):
                    lines.append(json.loads(raw))
            return [line for line in lines if line.get("task") == "cards.webhooks.deliver_event"]

        wait_for(
            lambda: any("webhook event" in line["message"] for line in task_lines()),
            60,
            "the worker's delivery attempt",
            log,
        )
    finally:
        kill(worker)
    lines = task_lines()
    assert lines and all(line["request_id"] == "trace-4242" for line in lines)
    assert any("webhook event" in line["message"] for line in lines)
