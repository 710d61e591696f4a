"""/health/ and /health/ready/: what a load balancer and docker-compose's healthchecks see."""

import datetime
import json

import pytest
import time_machine
from django.test import Client
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from cards.schedule import sync_beat_schedule
from tests.cards.processes import kill, purge, start, wait_for
from tests.operations.conftest import CLOSED_REDIS

COMPONENTS = {"database", "redis", "broker", "worker", "beat"}


def ready(client=None):
    response = (client or Client()).get("/health/ready/")
    return response.status_code, response.json()


def beat_ran(at: datetime.datetime) -> None:
    sync_beat_schedule()
    PeriodicTask.objects.filter(interval__isnull=False).update(last_run_at=at)


@pytest.mark.django_db
def test_liveness_answers_without_any_io(django_assert_num_queries):
    with django_assert_num_queries(0):
        response = Client().get("/health/")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db(transaction=True)
def test_ready_with_every_component_up_then_503_naming_the_worker_when_it_stops(tmp_path):
    beat_ran(timezone.now())
    log = tmp_path / "worker.log"
    purge("celery")
    worker = start("worker", "celery", log)
    try:
        wait_for(lambda: ready()[0] == 200, 60, "a worker to answer the readiness ping", log)
        status, body = ready()
        assert body["status"] == "ok" and body["failing"] == []
        assert set(body["checks"]) == COMPONENTS
        assert all(check["ok"] for check in body["checks"].values())
    finally:
        kill(worker)
    status, body = ready()
    assert status == 503
    assert body["failing"] == ["worker"]
    assert body["checks"]["worker"] == {
        "ok": False,
        "error": "no worker answered a ping",
        "ms": body["checks"]["worker"]["ms"],
    }


@pytest.mark.django_db
def test_redis_down_is_named_and_nothing_personal_is_said(settings):
    beat_ran(timezone.now())
    settings.REDIS_URL = CLOSED_REDIS
    settings.CELERY_BROKER_URL = CLOSED_REDIS
    status, body = ready()
    assert status == 503
    assert body["status"] == "fail"
    # The worker cannot be asked through a broker that is down.
    assert body["failing"] == ["redis", "broker", "worker"]
    assert body["checks"]["redis"]["error"] == "ConnectionError"
    assert body["checks"]["worker"]["error"] == "broker unavailable"
    assert body["checks"]["database"]["ok"] and body["checks"]["beat"]["ok"]
    text = json.dumps(body)
    assert "7201" not in text and "127.0.0.1" not in text  # no addresses, no credentials


@pytest.mark.django_db
def test_beat_is_late_after_two_intervals_and_not_before(settings):
    settings.CELERY_BROKER_URL = CLOSED_REDIS  # skip the worker: only beat matters here
    now = timezone.now()
    beat_ran(now)
    with time_machine.travel(now + datetime.timedelta(seconds=120), tick=False):
        assert "beat" not in ready()[1]["failing"]
    with time_machine.travel(now + datetime.timedelta(seconds=120, milliseconds=1), tick=False):
        status, body = ready()
    assert status == 503 and "beat" in body["failing"]
    assert body["checks"]["beat"]["error"] == (
        "beat has not run an interval task within two intervals"
    )
    PeriodicTask.objects.update(last_run_at=None)
    assert "beat" in ready()[1]["failing"]  # never ran


@pytest.mark.django_db
def test_health_and_metrics_answer_any_host_name_a_container_is_called_by(settings):
    settings.ALLOWED_HOSTS = ["shebao.example"]
    client = Client()
    assert client.get("/health/", HTTP_HOST="172.28.0.5:8000").status_code == 200
    assert client.get("/metrics", HTTP_HOST="172.28.0.5:8000").status_code == 200
    assert client.get("/status/", HTTP_HOST="172.28.0.5:8000").status_code == 400
