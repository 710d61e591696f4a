"""tests/cards/processes.py stops every Celery process a test starts, whatever the outcome: a test
that starts a worker and then fails, run in its own pytest with `-x`, leaves no process behind,
with the fixture (its finalizer) and without it (the session's safety net)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.cards.processes import ROOT

INNER_CONFTEST = """
from tests.cards.processes import celery_processes  # noqa: F401 - the fixture under test
from tests.conftest import pytest_sessionfinish  # noqa: F401 - the safety net under test
"""

INNER_TESTS = """
import time
from pathlib import Path

from tests.cards.processes import new_queue, start

OUT = Path({out!r})


def started(process, log):
    (OUT / "pids").open("a").write(f"{{process.pid}}\\n")
    deadline = time.monotonic() + 90
    while b"ready." not in log.read_bytes():  # the worker and its pool child are up
        assert process.poll() is None, log.read_text()
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.2)


def test_a_worker_through_the_fixture_then_a_failure(celery_processes):
    log = OUT / "fixture.log"
    started(celery_processes("worker", new_queue(), log), log)
    raise AssertionError("failing on purpose")


def test_a_worker_started_without_the_fixture_then_a_failure():
    log = OUT / "bare.log"
    started(start("worker", new_queue(), log), log)
    raise AssertionError("failing on purpose")


def test_never_reached_after_x():
    (OUT / "reached").write_text("the run went on after a failure")
"""


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def run_inner(tmp_path: Path, *selection: str) -> tuple[subprocess.CompletedProcess, list[int]]:
    inner = tmp_path / "inner"
    inner.mkdir()
    (inner / "conftest.py").write_text(INNER_CONFTEST)
    (inner / "test_inner.py").write_text(textwrap.dedent(INNER_TESTS.format(out=str(inner))))
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
    }
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-x",
            "-q",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(inner),
            *[f"{inner / 'test_inner.py'}::{name}" for name in selection],
        ],
        cwd=inner,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    pids_file = inner / "pids"
    pids = [int(line) for line in pids_file.read_text().split()] if pids_file.exists() else []
    assert not (inner / "reached").exists(), "-x did not stop the run"
    return result, pids


def assert_no_process_left(pids: list[int]) -> None:
    assert pids, "the inner test started no worker"
    deadline = time.monotonic() + 15
    while any(group_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.2)  # reaped by init once their parent pytest has gone
    left = [pid for pid in pids if group_alive(pid)]
    for pid in left:  # do not leave them to the next test either
        os.killpg(pid, 9)
    assert not left, f"process groups left running: {left}"


@pytest.mark.parametrize(
    "selection",
    [
        ("test_a_worker_through_the_fixture_then_a_failure", "test_never_reached_after_x"),
        ("test_a_worker_started_without_the_fixture_then_a_failure", "test_never_reached_after_x"),
    ],
    ids=["fixture-finalizer", "session-safety-net"],
)
def test_a_failing_test_under_x_leaves_no_celery_process_behind(tmp_path, selection):
    result, pids = run_inner(tmp_path, *selection)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "failing on purpose" in result.stdout
    assert "stopping after 1 failures" in result.stdout
    assert_no_process_left(pids)
