"""Operations tests: the lifecycle world and the bank API client of tests/api, real worker
processes from tests/cards/processes.py, and helpers to read /metrics and the database's own
sessions."""

from __future__ import annotations

import re

import psycopg
import pytest
from django.db import connection

from tests.api.conftest import (  # noqa: F401 - fixtures used here
    BankApi,
    api,
    bank_key,
    error_of,
)
from tests.cards.conftest import card_in, person, world  # noqa: F401 - fixtures used here

# Ports of this branch's range (7200-7299) where nothing listens.
CLOSED_REDIS = "redis://127.0.0.1:7201/0"
CLOSED_DB_PORT = "7202"


def sample(text: str, metric: str, **labels: str) -> float | None:
    """One sample's value from a /metrics answer (None if absent)."""
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        match = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$", line)
        if not match or match.group(1) != metric:
            continue
        found = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match.group(3) or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(match.group(4))
    return None


def scrape(client) -> str:
    response = client.get("/metrics")
    assert response.status_code == 200, response.content[:300]
    return response.content.decode()


def admin_connection() -> psycopg.Connection:
    """A connection of its own to the test database, outside Django (autocommit)."""
    db = connection.settings_dict
    return psycopg.connect(
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
        user=db["USER"],
        password=db.get("PASSWORD") or None,
        dbname=db["NAME"],
        autocommit=True,
    )


@pytest.fixture
def fresh_limits():
    from common import ratelimit

    ratelimit.clear_all()
    yield
    ratelimit.clear_all()


@pytest.fixture
def pg_admin():
    conn = admin_connection()
    yield conn
    conn.close()
