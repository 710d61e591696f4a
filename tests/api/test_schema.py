"""The OpenAPI schema validates, the docs are served from our own static files, and a
property-based run of schemathesis finds no server error and no answer that breaks the schema."""

import io

import pytest
import schemathesis
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import Client
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from cards.choices import CardStatus
from config.wsgi import application

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def test_the_schema_validates_without_warnings():
    out = io.StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=out)
    schema = out.getvalue()
    for path in (
        "/api/v1/applications:",
        "/api/v1/cards:",
        "/api/v1/cards/{card_id}:",
        "/api/v1/cards/{card_id}/ready:",
        "/api/v1/cards/{card_id}/hand-over:",
        "/api/v1/cards/{card_id}/withdraw:",
        "/api/v1/events:",
    ):
        assert path in schema


def test_the_schema_and_the_docs_are_served_without_a_cdn(db):
    client = Client()
    schema = client.get("/api/v1/schema/", {"format": "json"})
    assert schema.status_code == 200
    assert schema.json()["components"]["securitySchemes"]["ApiKey"]["name"] == "Authorization"
    docs = client.get("/api/v1/docs/")
    assert docs.status_code == 200
    page = docs.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in page
    assert "cdn" not in page.lower() and "unpkg" not in page and "jsdelivr" not in page


# The schema as served (no database needed), loaded once; the app answers in process (WSGI).
schema = schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", application)
schema.config.generation.update(max_examples=50)
schema.config.phases.update(phases=["examples", "fuzzing"])


@pytest.fixture
def in_process(db):
    """Requests run in the test's transaction: like Django's test client, keep the end of a
    request from closing the database connection."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def known_id(world, card_in) -> str:
    """A real card of the bank, so that generated requests reach real cards too."""
    return str(card_in(CardStatus.VERIFIED).public_id)


@schema.parametrize()
@settings(
    deadline=None,
    derandomize=True,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
def test_no_server_error_and_every_answer_fits_the_schema(case, in_process, bank_key, known_id):
    if (case.path_parameters or {}).get("card_id", "").endswith(("0", "1", "2", "3")):
        case.path_parameters["card_id"] = known_id  # a real card, now and then
    response = case.call(headers={"Authorization": f"Api-Key {bank_key}"})
    case.validate_response(response, checks=CHECKS)
