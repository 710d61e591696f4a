"""Which requests may read from the replica (common/routers.py), request by request; the real
replica's behaviour is in test_replica.py."""

import pytest
from django.test import RequestFactory
from django.urls import resolve

from common.routers import PRIMARY_ONLY_APPS, _reads_only, _replica_page

factory = RequestFactory()


def request(method: str, path: str):
    made = getattr(factory, method.lower())(path)
    made.resolver_match = resolve(path)
    return made


@pytest.mark.parametrize(
    ("method", "path", "replica"),
    [
        ("GET", "/status/", True),
        ("POST", "/status/", True),  # the lookup posts the ID number; it writes nothing
        ("GET", "/api/v1/cards", True),
        ("GET", "/api/v1/cards/00000000-0000-0000-0000-000000000000", True),
        ("POST", "/api/v1/cards/00000000-0000-0000-0000-000000000000/ready", False),
        ("POST", "/api/v1/applications", False),
        ("GET", "/admin/cards/card/", True),  # a list page
        ("GET", "/admin/cards/card/1/change/", False),  # a card's page: the clerk acts on it
        ("POST", "/admin/cards/card/", False),  # a list's action
        ("GET", "/admin/", False),
    ],
)
def test_reads_that_may_lag_and_nothing_else(method, path, replica):
    made = request(method, path)
    assert (_reads_only(made) and _replica_page(made)) is replica


def test_who_the_client_is_is_always_read_on_the_primary():
    from django.contrib.auth.models import User
    from django.contrib.sessions.models import Session

    from common.routers import ReplicaRouter

    assert {"sessions", "auth"} <= PRIMARY_ONLY_APPS
    router = ReplicaRouter()
    assert router.db_for_read(Session) == "default"
    assert router.db_for_read(User) == "default"
    assert router.db_for_write(User) == "default"
    assert router.allow_migrate("replica", "cards") is False
