"""Metrics summed over processes: gunicorn with several workers answers /metrics with every
worker's requests; a Celery worker serves its pool's task metrics on CELERY_METRICS_PORT."""

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.cards.processes import kill, new_queue, process_env, purge, start, wait_for
from tests.operations.conftest import sample

ROOT = Path(__file__).resolve().parents[2]
WEB_PORT, WORKER_METRICS_PORT = 7213, 7214
pytestmark = pytest.mark.django_db(transaction=True)


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return answer.read().decode()


def test_gunicorn_workers_are_summed_in_one_answer(tmp_path):
    env = process_env(
        "unused",
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "prometheus"),
        GUNICORN_GRACEFUL_TIMEOUT="2",
    )
    log = (tmp_path / "gunicorn.log").open("ab")
    server = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("gunicorn")),
            "-c",
            "config/gunicorn.py",
            "--bind",
            f"127.0.0.1:{WEB_PORT}",
            "--workers",
            "3",
            "config.wsgi",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{WEB_PORT}"
    try:

        def up() -> bool:
            try:
                return fetch(f"{base}/health/") is not None
            except OSError:
                return False

        wait_for(up, 30, "gunicorn to answer", tmp_path / "gunicorn.log")
        # A probe that timed out while the workers booted may still be answered (and counted)
        # after the first one that succeeded: let those settle before the baseline is read.
        time.sleep(2)
        labels = {"view": "health", "method": "GET", "status": "200"}
        before = sample(fetch(f"{base}/metrics"), "shebao_http_requests_total", **labels)
        for _ in range(30):
            fetch(f"{base}/health/")  # spread over the workers by the kernel
        pids = {p.name for p in (tmp_path / "prometheus").glob("counter_*.db")}
        text = fetch(f"{base}/metrics")
    finally:
        kill(server, sig=15)
        log.close()
    assert len(pids) >= 2, "the requests should have reached several workers"
    assert sample(text, "shebao_http_requests_total", **labels) == before + 30


def test_a_worker_serves_its_pools_task_metrics(tmp_path):
    from common.tasks import purge_idempotency_keys

    queue, log = new_queue(), tmp_path / "worker.log"
    purge(queue)
    directory = tmp_path / "prometheus"
    directory.mkdir()
    worker = start(
        "worker",
        queue,
        log,
        PROMETHEUS_MULTIPROC_DIR=str(directory),
        CELERY_METRICS_PORT=str(WORKER_METRICS_PORT),
    )
    url = f"http://127.0.0.1:{WORKER_METRICS_PORT}/"
    task = {"task": "common.tasks.purge_idempotency_keys", "state": "SUCCESS"}
    try:
        purge_idempotency_keys.apply_async(queue=queue)
        purge_idempotency_keys.apply_async(queue=queue)

        def counted() -> bool:
            try:
                return sample(fetch(url), "shebao_celery_tasks_total", **task) == 2
            except OSError:
                return False

        wait_for(counted, 60, "the worker's metrics to count both tasks", log)
        text = fetch(url)
    finally:
        kill(worker, sig=15)
    assert sample(text, "shebao_celery_task_duration_seconds_count", task=task["task"]) == 2
    assert os.listdir(directory)  # written by the pool's child, read by the main process
