"""The API's JSON parser refuses excessive nesting with 400 in the one error shape, never a 500."""

import pytest

from applicants.models import Applicant
from cards.models import Card
from common.api import json_depth
from tests.api.conftest import application_body, error_of
from tests.cards.conftest import eligible_person


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


@pytest.mark.parametrize("depth", [33, 1000, 100_000])
def test_deeply_nested_json_is_refused_with_400_in_the_error_shape(api, depth):
    response = api.post("/applications", raw=nested(depth))
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    error = error_of(response)
    assert error["code"] == "parse_error"
    assert "32" in error["message"]  # in the response's language (zh by default)
    assert Card.objects.count() == 0


def test_a_deep_value_inside_a_real_application_is_refused_and_nothing_is_written(api, world):
    person = eligible_person()
    body = application_body(world, person)
    deep: object = "x"
    for _ in range(40):
        deep = {"a": deep}
    body["remarks"] = deep
    before = Applicant.objects.count()
    response = api.post("/applications", body)
    assert response.status_code == 400
    assert error_of(response)["code"] == "parse_error"
    assert (Card.objects.count(), Applicant.objects.count()) == (0, before)


def test_nesting_up_to_the_limit_is_parsed(api):
    # 32 levels reach the serializer, which names what is wrong with the body: not a parse error.
    response = api.post("/applications", raw=nested(32))
    assert response.status_code == 422
    assert error_of(response)["code"] == "invalid"


def test_json_depth_counts_levels_of_arrays_and_objects():
    assert json_depth(1) == 0
    assert json_depth([]) == 1
    assert json_depth({"a": [1, {"b": []}]}) == 4
