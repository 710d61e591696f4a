"""The OpenAPI schema validates, the docs are served from our own static files, and schemathesis
with every check, and its stateful phase along the schema's links, finds nothing."""

import io

import pytest
import schemathesis
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import Client
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test
from schemathesis.config._checks import (
    POSITIVE_DATA_ACCEPTANCE_EXPECTED_STATUSES,
    PositiveDataAcceptanceConfig,
)

from cards.choices import CardStatus
from config.wsgi import application


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
        "/api/v1/cards/ready:",
        "/api/v1/cards/hand-over:",
        "/api/v1/cards/withdraw:",
        "/api/v1/platform/applications:",
        "/api/v1/platform/cards/{card_id}:",
        "/api/v1/sandbox/cards:",
        "/api/v1/sandbox/cards/{card_id}:",
        "/api/v1/sandbox/cards/{card_id}/advance:",
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
schema.config.generation.update(max_examples=25)
schema.config.phases.update(phases=["examples", "coverage", "fuzzing", "stateful"])
schema.config.checks.update(included_check_names=["all"])
# A schema can say the shape of an ID number, a card number or a cursor, not its check digit, the
# registry's record of a person, an outlet's existence or which cursors the API gave: a request of
# the right shape may still be refused by such a rule, with 422 naming the field. Everything else
# positive_data_acceptance expects stays as schemathesis has it.
schema.config.checks.positive_data_acceptance = PositiveDataAcceptanceConfig(
    expected_statuses=[*POSITIVE_DATA_ACCEPTANCE_EXPECTED_STATUSES, "422"]
)


# The keys for the run, sent the way the schema's security scheme says: the bank's, its sandbox
# key on the sandbox's endpoints, the online platform's on its own; schemathesis's own auth
# checks (ignored_auth, negative cases without a key) replace or drop it as they need.
_KEY: dict[str, str] = {}


def _client_of(path: str) -> str:
    for client in ("sandbox", "platform"):
        if path.startswith(f"/api/v1/{client}/"):
            return client
    return "key"


@schema.auth()
class BankKey:
    def get(self, case, context):
        return _KEY.get(_client_of(case.path), "not-yet")

    def set(self, case, data, context):
        case.headers = {**(case.headers or {}), "Authorization": f"Api-Key {data}"}


@pytest.fixture
def in_process(db, bank_key, world, settings):
    """Requests run in the test's transaction: like Django's test client, keep the end of a
    request from closing the database connection."""
    from agencies.services import bank_api_key_create, platform_api_key_create

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    _KEY["key"] = bank_key
    _KEY["sandbox"] = bank_api_key_create(bank=world.bank, sandbox=True)[1]
    _KEY["platform"] = platform_api_key_create()[1]
    # schemathesis sends wrong keys on purpose, all from one address: not an attack to stop here.
    settings.API_AUTH_FAILURE_LIMIT = 10**6
    yield
    _KEY.clear()
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def known_id(world, card_in) -> str:
    """A real card of the bank, so that generated requests reach real cards too."""
    return str(card_in(CardStatus.VERIFIED).public_id)


HYPOTHESIS = settings(
    deadline=None,
    derandomize=True,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)


@schema.parametrize()
@HYPOTHESIS
def test_no_server_error_and_every_answer_fits_the_schema(case, in_process, bank_key, known_id):
    """Every check schemathesis has, on every operation."""
    if (case.path_parameters or {}).get("card_id", "").endswith(("0", "1", "2", "3")):
        case.path_parameters["card_id"] = known_id  # a real card, now and then
    case.call_and_validate()


def test_the_links_connect_applications_cards_and_events():
    served = schema.raw_schema
    links = {
        (op["operationId"], name, link["operationId"])
        for item in served["paths"].values()
        for op in item.values()
        if isinstance(op, dict) and "operationId" in op
        for response in op["responses"].values()
        for name, link in response.get("links", {}).items()
        if "operationId" in link
    }
    assert ("applications_create", "GetCard", "cards_retrieve") in links
    assert ("cards_retrieve", "MarkReady", "cards_ready") in links
    assert ("events_list", "GetEventCard", "cards_retrieve") in links
    assert ("sandbox_cards_create", "Advance", "sandbox_cards_advance") in links
    assert len(links) >= 21


def test_the_stateful_phase_follows_the_links(in_process, bank_key, known_id):
    """schemathesis's state machine: sequences of calls along the links, all checks on each."""
    run_state_machine_as_test(
        schema.as_state_machine(),
        settings=settings(
            HYPOTHESIS,
            max_examples=15,
            stateful_step_count=6,
            phases=[Phase.generate],
        ),
    )
