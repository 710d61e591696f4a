"""Real `celery worker` and `celery beat` processes for the tests, on the real Redis broker and
the test database (committed data: use with pytest.mark.django_db(transaction=True)).

Every process is started in its own session (its own process group: the worker and its pool
children) and stopped whatever the outcome:
- the `celery_processes` fixture kills the group of each process it started in its finalizer,
  which pytest runs when the test fails and when `-x` stops the run;
- `kill_all()` kills any process still running that `start()` started (or `track()` was given):
  tests/conftest.py calls it
  at the end of the session (`pytest_sessionfinish`, also after Ctrl-C), and `atexit` at the
  interpreter's exit, for a process started outside the fixture.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
CELERY = str(Path(sys.executable).with_name("celery"))


def test_database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def new_queue() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


def process_env(queue: str, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.test",
        DATABASE_URL=test_database_url(),
        REDIS_URL=settings.REDIS_URL,
        CELERY_TASK_DEFAULT_QUEUE=queue,
        DJANGO_ALLOW_ASYNC_UNSAFE="true",
    )
    env.update(extra)
    return env


def start(kind: str, queue: str, log: Path, **extra: str) -> subprocess.Popen:
    """Start `celery worker` (prefork, one child) or `celery beat`, in its own process group."""
    if kind == "worker":
        args = [
            CELERY,
            "-A",
            "config",
            "worker",
            "-Q",
            queue,
            "--concurrency=1",
            "--pool=prefork",
            "--without-mingle",
            "--without-gossip",
            "--loglevel=INFO",
        ]
    else:
        args = [
            CELERY,
            "-A",
            "config",
            "beat",
            "--loglevel=INFO",
            "--max-interval=1",
            "--scheduler=django_celery_beat.schedulers:DatabaseScheduler",
        ]
    with log.open("ab") as handle:
        process = subprocess.Popen(
            args,
            cwd=ROOT,
            env=process_env(queue, **extra),
            stdout=handle,
            stderr=handle,
            start_new_session=True,
        )
    return track(process)


def track(process: subprocess.Popen) -> subprocess.Popen:
    """Put a process started elsewhere (its own session, start_new_session=True) under the
    safety net: kill_all() kills its group if nothing else has."""
    _running.add(process)
    return process


def kill(process: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
    """SIGKILL: the whole process group at once (the worker and its pool children), as a crash.
    SIGTERM: a warm shutdown of the main process, then whatever is left is killed."""
    try:
        if sig == signal.SIGKILL:
            os.killpg(process.pid, sig)
        else:
            process.send_signal(sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=15)
            os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait(timeout=20)
    _running.discard(process)


# Every process start() started and kill() has not yet stopped.
_running: set[subprocess.Popen] = set()


def kill_all() -> None:
    """SIGKILL the process group of every process still running; never raises."""
    for process in list(_running):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)
        _running.discard(process)


atexit.register(kill_all)


@pytest.fixture
def celery_processes():
    """`start` for a test: every process it starts is killed, with its whole process group, when
    the test ends, whatever the outcome."""
    started: list[subprocess.Popen] = []

    def start_for_test(kind: str, queue: str, log: Path, **extra: str) -> subprocess.Popen:
        process = start(kind, queue, log, **extra)
        started.append(process)
        return process

    yield start_for_test
    for process in started:
        kill(process, signal.SIGKILL)  # the group: pool children outlive a dead main process


def wait_for(condition: Callable[[], bool], timeout: float, what: str, log: Path | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    tail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
    raise AssertionError(f"timed out after {timeout}s waiting for {what}\n{tail}")


def purge(queue: str) -> None:
    from config.celery import app

    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge(queue)
