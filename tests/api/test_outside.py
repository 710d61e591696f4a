"""What a partner bank's integrator meets when the body or the query is not what the schema
says (tried from outside, on a running service): a 4xx in the one error shape, naming the field
and the rule, in the language asked for; never a 500, nothing written."""

from __future__ import annotations

import pytest

from agencies.services import bank_api_key_create, platform_api_key_create
from applicants.models import Applicant
from cards.models import Card
from tests.api.conftest import BankApi, application_body, error_of
from tests.cards.conftest import eligible_person

pytestmark = pytest.mark.django_db
ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-Hans"}
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


@pytest.mark.parametrize(
    "raw",
    [
        b'{"card_type": "\\ud800"}',  # a lone surrogate: valid JSON, not a Unicode string
        b'{"applicant": {"name": "\\udfff"}}',
        b'{"\\ud800": 1}',
    ],
)
def test_a_lone_surrogate_in_the_body_is_a_400_parse_error_not_a_500(api, raw):
    before = Applicant.objects.count()
    response = api.post("/applications", raw=raw, headers=EN)
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "parse_error"
    assert "surrogate" in error["message"]
    assert (Card.objects.count(), Applicant.objects.count()) == (0, before)


def test_a_lone_surrogate_inside_a_real_application_writes_nothing(api, world):
    body = application_body(world, eligible_person())
    body["applicant"]["name"] = "\ud800"
    raw = __import__("json").dumps(body).encode()  # ensure_ascii: sent as \\ud800
    response = api.post("/applications", raw=raw, headers=EN)
    assert response.status_code == 400
    assert Card.objects.count() == 0


def test_a_parse_error_is_said_in_chinese_by_default(api):
    malformed = error_of(api.post("/applications", raw=b'{"card_type":', headers=ZH))
    assert malformed["code"] == "parse_error"
    assert "JSON" in malformed["message"] and "第1行" in malformed["message"]
    deep = error_of(api.post("/applications", raw=b"[" * 40 + b"]" * 40, headers=ZH))
    assert deep["message"] == "JSON嵌套超过32层。"


def test_a_parse_error_is_said_in_english_when_asked(api):
    malformed = error_of(api.post("/applications", raw=b'{"card_type":', headers=EN))
    assert malformed["message"].startswith("The body is not valid JSON")
    assert "line 1" in malformed["message"]


@pytest.mark.parametrize(
    "path, query",
    [
        ("/cards", "limit=10&limit=20"),
        ("/cards", "status=issued&status=applied"),
        ("/events", "after=1&after=2"),
    ],
)
def test_a_query_parameter_given_twice_is_a_400_naming_it(api, path, query):
    name = query.split("=")[0]
    response = api.client.get(f"/api/v1{path}?{query}", **api._headers(EN))
    assert response.status_code == 400
    error = error_of(response)
    assert error["details"] == {name: ["Given more than once: give it once."]}


def test_an_updated_after_out_of_range_names_the_parameter(api):
    response = api.get("/cards", {"updated_after": "0001-01-01T00:00:00+14:00"}, headers=EN)
    assert response.status_code == 422
    assert error_of(response)["details"] == {"updated_after": ["The time is out of range."]}


def test_the_platform_key_on_a_bank_endpoint_is_told_where_it_may_act(db):
    platform = BankApi(platform_api_key_create(name="tests")[1])
    error = error_of(platform.get("/cards", headers=EN))
    assert "/platform/" in error["message"]


def test_the_sandbox_list_refuses_an_unknown_or_empty_parameter(world):
    sandbox = BankApi(bank_api_key_create(bank=world.bank, name="tests", sandbox=True)[1])
    unknown = sandbox.get("/sandbox/cards", {"limit": "-5"}, headers=EN)
    assert unknown.status_code == 400
    assert error_of(unknown)["details"] == {"limit": ["Not a parameter of this endpoint."]}
    assert sandbox.get("/sandbox/cards", headers=EN).status_code == 200


def test_a_member_named_twice_in_one_object_is_a_400_naming_it(api, world):
    raw = b'{"card_type": "social_security", "card_type": "medical_insurance"}'
    error = error_of(api.post("/applications", raw=raw, headers=EN))
    assert error["code"] == "parse_error"
    assert "card_type" in error["message"] and "more than once" in error["message"]
    nested = b'{"applicant": {"name": "a", "name": "b"}}'
    assert "“name”" in error_of(api.post("/applications", raw=nested, headers=EN))["message"]
    assert Card.objects.count() == 0
