"""POST /cards/ready, /cards/hand-over, /cards/withdraw: many cards, each item its own result in
the order given; what succeeds is committed; the log and the feed as if called one by one."""

import datetime
import uuid

import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cards.choices import CardStatus, TransitionName
from cards.models import Card, CardTransition, OutboxEvent
from common.models import IdempotencyKey
from tests.api.conftest import error_of
from tests.cards.conftest import T0, card_number, eligible_person, report_by_phone

S = CardStatus
T = TransitionName


def _cards(card_in, state: str, n: int) -> list[Card]:
    return [card_in(state, eligible_person()) for _ in range(n)]


def _item_error(result: dict) -> dict:
    assert set(result) == {"status", "error"}, result
    assert set(result["error"]) == {"code", "message", "details"}
    return result["error"]


def test_ready_batch_answers_each_item_in_order_and_commits_what_succeeds(
    api, other_api, card_in, world
):
    ok1, applied, ok2 = _cards(card_in, S.VERIFIED, 1)[0], card_in(S.APPLIED), None
    ok2 = card_in(S.VERIFIED, eligible_person())
    taken = card_in(S.READY_FOR_COLLECTION, eligible_person()).card_number
    dup_number_card = card_in(S.VERIFIED, eligible_person())
    items = [
        {"card": str(ok1.public_id), "card_number": "sc-0000 1111"},
        {"card": str(applied.public_id), "card_number": card_number()},
        {"card": str(uuid.uuid4()), "card_number": card_number()},
        {"card": str(ok2.public_id), "card_number": "no"},  # too short: the rule, per item
        {"card": str(ok2.public_id), "card_number": card_number()},
        {"card": str(dup_number_card.public_id), "card_number": taken},
        {"card": str(ok1.public_id), "card_number": card_number()},  # the same card again
    ]
    response = api.post("/cards/ready", {"items": items})
    assert response.status_code == 200, response.content
    body = response.json()
    results = body["results"]
    assert [r["status"] for r in results] == [200, 409, 404, 422, 200, 409, 409]
    assert (body["succeeded"], body["failed"]) == (2, 5)
    assert results[0]["card"]["id"] == str(ok1.public_id)
    assert results[0]["card"]["status"] == S.READY_FOR_COLLECTION
    assert results[0]["card"]["card_number"] == "SC00001111"  # as stored: match on it
    assert _item_error(results[1])["code"] == "transition_not_allowed"
    assert _item_error(results[1])["details"] == {"status": S.APPLIED, "transition": T.MARK_READY}
    assert _item_error(results[2])["code"] == "not_found"
    assert set(_item_error(results[3])["details"]) == {"card_number"}
    taken = _item_error(results[5])["details"]  # another rule than the malformed number's
    assert set(taken) == {"card_number"} and taken != _item_error(results[3])["details"]
    assert _item_error(results[6])["details"]["status"] == S.READY_FOR_COLLECTION
    for card, status in ((ok1, S.READY_FOR_COLLECTION), (ok2, S.READY_FOR_COLLECTION)):
        card.refresh_from_db()
        assert card.status == status
    dup_number_card.refresh_from_db()
    applied.refresh_from_db()
    assert (dup_number_card.status, applied.status) == (S.VERIFIED, S.APPLIED)
    assert ok1.transitions.filter(name=T.MARK_READY).count() == 1


def test_another_banks_card_is_not_found_and_untouched(api, other_api, card_in):
    card = card_in(S.VERIFIED)
    response = other_api.post(
        "/cards/ready", {"items": [{"card": str(card.public_id), "card_number": card_number()}]}
    )
    assert response.status_code == 200
    assert _item_error(response.json()["results"][0])["code"] == "not_found"
    card.refresh_from_db()
    assert card.status == S.VERIFIED


def _log_and_event(card: Card) -> tuple[dict, dict]:
    row = CardTransition.objects.filter(card=card).order_by("id").last()
    event = OutboxEvent.objects.filter(card=card).order_by("id").last()
    log = {
        f.attname: getattr(row, f.attname)
        for f in CardTransition._meta.concrete_fields
        if f.attname not in ("id", "card_id")
    }
    log["data"] = {k: v for k, v in log["data"].items() if k != "card_number"}
    outbox = {
        f.attname: getattr(event, f.attname)
        for f in OutboxEvent._meta.concrete_fields
        if f.attname not in ("id", "card_id")
    }
    outbox["payload"] = {k: v for k, v in event.payload.items() if k != "card"}
    return log, outbox


def test_a_batch_writes_the_same_log_rows_and_events_as_single_calls(api, card_in):
    single, batched = card_in(S.VERIFIED), card_in(S.VERIFIED, eligible_person())
    with time_machine.travel(T0, tick=False):
        one = api.post(f"/cards/{single.public_id}/ready", {"card_number": card_number()})
        assert one.status_code == 200
        response = api.post(
            "/cards/ready",
            {"items": [{"card": str(batched.public_id), "card_number": card_number()}]},
        )
    assert response.json()["succeeded"] == 1
    assert _log_and_event(single) == _log_and_event(batched)
    single.refresh_from_db()
    batched.refresh_from_db()
    assert (batched.ready_at, batched.updated_at) == (single.ready_at, single.updated_at)
    # The feed: the same event shape, in the order of the items.
    feed = api.get("/events", {"after": 0, "limit": 500}).json()["results"]
    mine = [e for e in feed if e["transition"] == T.MARK_READY][-2:]
    assert [e["card"] for e in mine] == [str(single.public_id), str(batched.public_id)]
    assert {k: v for k, v in mine[0].items() if k not in ("id", "card")} == {
        k: v for k, v in mine[1].items() if k not in ("id", "card")
    }


def test_a_batch_locks_once_and_writes_in_a_constant_number_of_statements(api, card_in):
    cards = _cards(card_in, S.VERIFIED, 7)
    items = [{"card": str(c.public_id), "card_number": card_number()} for c in cards]
    api.post("/cards/ready", {"items": items[:1]})  # the key's last use is noted once
    with CaptureQueriesContext(connection) as small:
        api.post("/cards/ready", {"items": items[1:2]})
    with CaptureQueriesContext(connection) as large:
        assert api.post("/cards/ready", {"items": items[2:]}).json()["succeeded"] == 5
    assert len(large.captured_queries) == len(small.captured_queries)
    locks = [q["sql"] for q in large.captured_queries if "FOR UPDATE" in (q["sql"] or "")]
    assert len(locks) == 1 and "ORDER BY" in locks[0]


def test_hand_over_batch_checks_each_holder_and_receipt(api, card_in):
    good, wrong_id = _cards(card_in, S.READY_FOR_COLLECTION, 2)
    response = api.post(
        "/cards/hand-over",
        {
            "items": [
                {
                    "card": str(good.public_id),
                    "id_number": good.applicant.id_number,
                    "receipt_number": good.receipt_number_display,
                },
                {
                    "card": str(wrong_id.public_id),
                    "id_number": good.applicant.id_number,
                    "receipt_number": wrong_id.receipt_number,
                },
            ]
        },
    )
    results = response.json()["results"]
    assert results[0]["status"] == 200 and results[0]["card"]["status"] == S.ISSUED
    assert "id_number" in _item_error(results[1])["details"]
    wrong_id.refresh_from_db()
    assert wrong_id.status == S.READY_FOR_COLLECTION


def test_withdraw_batch_records_each_reason_and_channel(api, card_in):
    verified, ready = card_in(S.VERIFIED), card_in(S.READY_FOR_COLLECTION, eligible_person())
    response = api.post(
        "/cards/withdraw",
        {
            "items": [
                {"card": str(verified.public_id), "reason": " Moved away. ", "channel": "wechat"},
                {"card": str(ready.public_id), "reason": "Changed their mind."},
            ]
        },
    )
    assert response.json()["succeeded"] == 2
    first, second = (c.transitions.order_by("id").last() for c in (verified, ready))
    assert (first.from_status, first.reason, first.channel) == (S.VERIFIED, "Moved away.", "wechat")
    assert (second.from_status, second.channel) == (S.READY_FOR_COLLECTION, "bank_outlet")


def test_a_passed_deadline_is_in_force_and_committed_whatever_the_item(api, world, card_in):
    with time_machine.travel(T0, tick=False):
        card = report_by_phone(world, card_in(S.ISSUED))
    with time_machine.travel(T0 + datetime.timedelta(hours=25), tick=False):
        response = api.post(
            "/cards/withdraw", {"items": [{"card": str(card.public_id), "reason": "x"}]}
        )
    error = _item_error(response.json()["results"][0])
    assert error["code"] == "deadline_passed"
    card.refresh_from_db()
    assert card.status == S.ISSUED
    assert card.transitions.order_by("id").last().name == T.LAPSE_PHONE_REPORT


def test_an_item_that_breaks_the_schema_refuses_the_batch_naming_it(api, card_in):
    card = card_in(S.VERIFIED)
    good = {"card": str(card.public_id), "card_number": card_number()}
    for bad in ({"card": "not-a-uuid", "card_number": "SC12345678"}, {"card": good["card"]}, "x"):
        response = api.post("/cards/ready", {"items": [good, bad]})
        assert response.status_code == 422
        assert set(error_of(response)["details"]["items"]) == {"1"}
    card.refresh_from_db()
    assert card.status == S.VERIFIED
    assert not IdempotencyKey.objects.exists()  # refused before acting: no key consumed


def test_the_envelope_is_refused_whole(api):
    for body in ({}, {"items": []}, {"items": "x"}, {"items": [{}] * 1001}):
        response = api.post("/cards/ready", body)
        assert response.status_code == 422, body
        assert "items" in error_of(response)["details"]


def test_the_batch_replays_under_its_idempotency_key(api, card_in):
    card = card_in(S.VERIFIED)
    body = {"items": [{"card": str(card.public_id), "card_number": card_number()}]}
    first = api.post("/cards/ready", body, key="batch-1")
    again = api.post("/cards/ready", body, key="batch-1")
    assert again["Idempotent-Replayed"] == "true" and again.content == first.content
    assert card.transitions.filter(name=T.MARK_READY).count() == 1


def _notices(card: Card) -> list[dict]:
    from cards.models import CardCenterNotice

    skip = ("id", "notice_id", "card_id", "card_number")
    return [
        {f.attname: getattr(n, f.attname) for f in CardCenterNotice._meta.concrete_fields}
        | {k: None for k in skip}
        for n in CardCenterNotice.objects.filter(card=card).order_by("id")
    ]


def test_a_batch_hand_over_notifies_the_card_center_as_a_single_call(api, card_in):
    single, batched = _cards(card_in, S.READY_FOR_COLLECTION, 2)
    before = len(_notices(batched))

    def holder(card: Card) -> dict:
        return {"id_number": card.applicant.id_number, "receipt_number": card.receipt_number}

    def item(card: Card) -> dict:
        return {"card": str(card.public_id), **holder(card)}

    with time_machine.travel(T0, tick=False):
        one = api.post(f"/cards/{single.public_id}/hand-over", holder(single))
        assert one.status_code == 200, one.json()
        response = api.post("/cards/hand-over", {"items": [item(batched)]})
    assert response.json()["succeeded"] == 1
    batched_notices = _notices(batched)
    assert len(batched_notices) == before + 1  # the hand-over changes the card's use
    assert batched_notices[-1] == _notices(single)[-1]
    assert batched_notices[-1]["kind"] == T.HAND_OVER
    from cards.models import CardCenterNotice

    notice = CardCenterNotice.objects.filter(card=batched).order_by("id").last()
    batched.refresh_from_db()
    assert notice.card_number == batched.card_number and notice.delivered_at is None


def test_an_agents_batch_hand_over_is_logged_as_a_single_call(api, card_in):
    from tests.factories import resident_id

    single, batched = _cards(card_in, S.READY_FOR_COLLECTION, 2)
    agent = {
        "agent_name": "李四",
        "agent_id_type": "resident_id",
        "agent_id_number": resident_id(9),
    }

    def holder(card: Card) -> dict:
        return {"id_number": card.applicant.id_number, "receipt_number": card.receipt_number}

    half = api.post(
        "/cards/hand-over",
        {"items": [{"card": str(batched.public_id), **holder(batched), "agent_name": "李四"}]},
    )
    assert half.status_code == 422  # an agent needs a name, a document type and a number
    with time_machine.travel(T0, tick=False):
        one = api.post(f"/cards/{single.public_id}/hand-over", {**holder(single), **agent})
        assert one.status_code == 200, one.json()
        item = {"card": str(batched.public_id), **holder(batched), **agent}
        response = api.post("/cards/hand-over", {"items": [item]})
    assert response.json()["succeeded"] == 1, response.json()
    assert _log_and_event(single) == _log_and_event(batched)
    logged = CardTransition.objects.filter(card=batched).order_by("id").last().data
    assert logged["agent"] is True and logged["identity"]["by"] == "agent"


def test_each_item_is_validated_by_the_item_serializer_with_its_field_and_object_rules():
    from rest_framework import exceptions, serializers

    from cards.api.serializers import BatchReadyItemSerializer
    from cards.api.views import _batch_items

    class Checked(BatchReadyItemSerializer):
        def validate_card_number(self, value):
            if value.startswith("X"):
                raise serializers.ValidationError("no X, bank " + self.context["bank"])
            return value.lower()

        def validate(self, attrs):
            if attrs["card_number"] == "same":
                raise serializers.ValidationError({"card": ["object rule"]})
            return attrs

    card = str(uuid.uuid4())
    items = _batch_items(
        {"items": [{"card": card, "card_number": "ABC123"}]}, Checked, {"bank": "B"}
    )
    assert [(str(i.card_id), i.values) for i in items] == [(card, {"card_number": "abc123"})]
    body = {
        "items": [
            {"card": card, "card_number": "XYZ123"},
            {"card": card, "card_number": "SAME"},
            "not an object",
            {"card": card, "card_number": "fine12"},
        ]
    }
    try:
        _batch_items(body, Checked, {"bank": "B"})
    except exceptions.ValidationError as exc:
        errors = exc.detail["items"]
    assert set(errors) == {"0", "1", "2"}
    assert errors["0"] == {"card_number": ["no X, bank B"]}
    assert errors["1"] == {"card": ["object rule"]}
    assert set(errors["2"]) == {"non_field_errors"}
