"""GET /cards, GET /cards/{id} and the three transitions a bank reports."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cards import services
from cards.choices import CardStatus, TransitionName
from cards.models import Card, CardTransition
from common.masking import mask_id_number
from tests.api.conftest import error_of
from tests.cards.conftest import card_number, eligible_person

S = CardStatus
T = TransitionName


def test_the_list_masks_the_holder_and_shows_the_state_in_force(api, card_in):
    card = card_in(S.VERIFIED)
    response = api.get("/cards")
    assert response.status_code == 200
    body = response.json()
    assert body["has_more"] is False and body["next_cursor"]
    (row,) = body["results"]
    holder = card.applicant
    assert row["id"] == str(card.public_id)
    assert row["status"] == S.VERIFIED
    assert row["receipt_number"] == card.receipt_number_display
    assert row["holder"]["id_number"] == mask_id_number(holder.id_number)
    assert holder.id_number not in response.content.decode()
    assert holder.name not in response.content.decode()
    assert row["service_point"] == card.service_point.code
    assert row["collection_point"] == card.collection_point.code


def test_the_detail_shows_the_full_id_number_and_the_history(api, card_in):
    card = card_in(S.READY_FOR_COLLECTION)
    response = api.get(f"/cards/{card.public_id}")
    assert response.status_code == 200
    body = response.json()
    assert body["holder"]["id_number"] == card.applicant.id_number
    assert body["status"] == S.READY_FOR_COLLECTION
    assert [(t["transition"], t["from"], t["to"]) for t in body["transitions"]] == [
        (T.SUBMIT, "", S.APPLIED),
        (T.VERIFY, S.APPLIED, S.VERIFIED),
        (T.MARK_READY, S.VERIFIED, S.READY_FOR_COLLECTION),
    ]
    assert body["transitions"][2]["actor"] == "bank"
    assert body["transitions"][2]["details"] == {"card_number": card.card_number}
    assert body["transitions"][1]["service_point"] == card.service_point.code


def test_a_malformed_or_unknown_card_id_is_404(api):
    for card_id in ("nope", "00000000-0000-0000-0000-000000000000"):
        response = api.get(f"/cards/{card_id}")
        assert response.status_code == 404
        assert error_of(response)["code"] == "not_found"


def test_ready_records_the_card_number(api, card_in):
    card = card_in(S.VERIFIED)
    response = api.post(f"/cards/{card.public_id}/ready", {"card_number": "sc 1234 5678"})
    assert response.status_code == 200, response.content
    assert response.json()["status"] == S.READY_FOR_COLLECTION
    assert response.json()["card_number"] == "SC12345678"
    card.refresh_from_db()
    assert card.status == S.READY_FOR_COLLECTION
    row = card.transitions.order_by("id").last()
    assert (row.name, row.actor_kind, row.bank_id) == (T.MARK_READY, "bank", card.bank_id)


def test_ready_in_the_wrong_state_is_409_with_the_lifecycle_code(api, card_in):
    card = card_in(S.APPLIED)
    response = api.post(f"/cards/{card.public_id}/ready", {"card_number": card_number()})
    assert response.status_code == 409
    error = error_of(response)
    assert error["code"] == "transition_not_allowed"
    assert error["details"] == {"status": S.APPLIED, "transition": T.MARK_READY}


def test_ready_with_a_bad_card_number_names_the_field(api, card_in):
    card = card_in(S.VERIFIED)
    for body in ({}, {"card_number": "x"}, {"card_number": 12}, {"card_number": "A" * 41}):
        response = api.post(f"/cards/{card.public_id}/ready", body)
        assert response.status_code == 422, (body, response.content)
        assert "card_number" in error_of(response)["details"]
    assert Card.objects.get(pk=card.pk).status == S.VERIFIED


def test_hand_over_checks_the_id_and_the_receipt(api, card_in):
    card = card_in(S.READY_FOR_COLLECTION)
    holder = card.applicant
    url = f"/cards/{card.public_id}/hand-over"
    wrong_id = api.post(url, {"id_number": "110101199003077777", "receipt_number": "X"})
    assert wrong_id.status_code == 422 and "id_number" in error_of(wrong_id)["details"]
    wrong_receipt = api.post(url, {"id_number": holder.id_number, "receipt_number": "AAAA"})
    assert wrong_receipt.status_code == 422
    assert "receipt_number" in error_of(wrong_receipt)["details"]
    right = api.post(
        url, {"id_number": holder.id_number, "receipt_number": card.receipt_number_display}
    )
    assert right.status_code == 200, right.content
    assert right.json()["status"] == S.ISSUED
    assert Card.objects.get(pk=card.pk).status == S.ISSUED


def test_withdraw_needs_a_reason_and_then_withdraws(api, card_in):
    card = card_in(S.VERIFIED)
    url = f"/cards/{card.public_id}/withdraw"
    missing = api.post(url, {})
    assert missing.status_code == 422 and "reason" in error_of(missing)["details"]
    blank = api.post(url, {"reason": "   "})
    assert blank.status_code == 422 and "reason" in error_of(blank)["details"]
    done = api.post(url, {"reason": "Applicant changed their mind.", "channel": "bank_app"})
    assert done.status_code == 200, done.content
    assert done.json()["status"] == S.WITHDRAWN
    row = CardTransition.objects.filter(card=card).order_by("id").last()
    assert (row.name, row.channel) == (T.WITHDRAW, "bank_app")
    again = api.post(url, {"reason": "Again."})
    assert again.status_code == 409 and error_of(again)["code"] == "transition_not_allowed"


def test_filters_by_status_type_and_update_time(api, world, card_in):
    verified = card_in(S.VERIFIED, applicant=eligible_person())
    ready = card_in(S.READY_FOR_COLLECTION, applicant=eligible_person())

    def ids(**params):
        response = api.get("/cards", params)
        assert response.status_code == 200, response.content
        return {row["id"] for row in response.json()["results"]}

    assert ids(status=S.VERIFIED) == {str(verified.public_id)}
    assert ids(status=S.READY_FOR_COLLECTION) == {str(ready.public_id)}
    assert ids(card_type="social_security") == {str(verified.public_id), str(ready.public_id)}
    assert ids(card_type="medical_insurance") == set()
    ready.refresh_from_db()
    assert ids(updated_after=verified.updated_at.isoformat()) == {str(ready.public_id)}
    assert ids(updated_after=ready.updated_at.isoformat()) == set()


def test_a_phone_report_past_its_deadline_lists_as_issued(api, world, card_in):
    import datetime

    import time_machine

    from tests.cards.conftest import T0

    card = card_in(S.ISSUED)
    with time_machine.travel(T0, tick=False):
        from tests.cards.conftest import report_by_phone

        report_by_phone(world, card)
    with time_machine.travel(T0 + datetime.timedelta(hours=25), tick=False):
        assert api.get(f"/cards/{card.public_id}").json()["status"] == S.ISSUED
        assert api.get("/cards", {"status": "issued"}).json()["results"][0]["id"] == str(
            card.public_id
        )
        assert api.get("/cards", {"status": "phone_reported_lost"}).json()["results"] == []


@pytest.mark.parametrize(
    "params",
    [
        {"status": "lost"},
        {"card_type": "bus"},
        {"updated_after": "yesterday"},
        {"limit": "0"},
        {"limit": "501"},
        {"limit": "many"},
        {"cursor": "not-a-cursor"},
        {"cursor": "MjAyNi0wMy0wMlQwOTozMDowMCswMDowMHwtMQ"},  # an id of -1
    ],
)
def test_bad_list_parameters_are_422_naming_the_parameter(api, params):
    response = api.get("/cards", params)
    assert response.status_code == 422, response.content
    assert set(error_of(response)["details"]) == set(params)


def test_pages_follow_the_cursor_without_gaps_or_repeats(api, world, card_in):
    cards = [card_in(S.VERIFIED, applicant=eligible_person()) for _ in range(7)]
    seen, cursor = [], None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        body = api.get("/cards", params).json()
        seen += [row["id"] for row in body["results"]]
        cursor = body["next_cursor"]
        if not body["has_more"]:
            break
    assert sorted(seen) == sorted(str(c.public_id) for c in cards)
    assert len(seen) == len(set(seen))
    # Synced to the end: nothing new until a card changes; then exactly that card.
    assert api.get("/cards", {"cursor": cursor}).json()["results"] == []
    api.post(f"/cards/{cards[2].public_id}/ready", {"card_number": card_number()})
    again = api.get("/cards", {"cursor": cursor}).json()
    assert [row["id"] for row in again["results"]] == [str(cards[2].public_id)]
    assert again["results"][0]["status"] == S.READY_FOR_COLLECTION


def _count_queries(call) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = call()
    assert response.status_code == 200, response.content
    return len(queries)


def test_lists_read_a_constant_number_of_queries_whatever_the_page_size(api, world, card_in):
    for _ in range(12):
        card = card_in(S.READY_FOR_COLLECTION, applicant=eligible_person())
    api.get("/cards")  # the key's first use is written down (once per 5 minutes)
    counts = {
        size: _count_queries(lambda size=size: api.get("/cards", {"limit": size}))
        for size in (1, 5, 12, 100)
    }
    assert len(set(counts.values())) == 1, counts
    # The key, the horizon, the page (related rows joined); in a test's transaction also a fresh
    # look at pg_stat_activity (cards/api/sync.py).
    assert counts[1] == 3 + connection.in_atomic_block, counts
    events = {
        size: _count_queries(lambda size=size: api.get("/events", {"limit": size}))
        for size in (1, 10, 100)
    }
    assert len(set(events.values())) == 1, events
    # One card's history is one query however long it is.
    short = card_in(S.VERIFIED, applicant=eligible_person())
    assert _count_queries(lambda: api.get(f"/cards/{short.public_id}")) == _count_queries(
        lambda: api.get(f"/cards/{card.public_id}")
    )


def test_the_prepared_statement_and_the_orm_read_the_same_card(api, world, card_in):
    """On PostgreSQL one prepared statement reads a card; elsewhere (`make run` on SQLite) the
    ORM does. Both give the same representation, links and history included."""
    from cards import services
    from cards.api.selectors import _card_api_get_orm, card_api_get
    from cards.api.serializers import card_representation
    from cards.choices import ReplacementReason

    old = card_in(S.ISSUED)
    new = services.card_replace(
        card=old,
        actor=world.clerk,
        reason=ReplacementReason.DAMAGED,
        id_number=old.applicant.id_number,
        card_presented=True,
    )
    for card in (old, new):
        fast = card_representation(card_api_get(bank=world.bank, public_id=str(card.public_id)))
        orm = card_representation(_card_api_get_orm(bank=world.bank, public_id=card.public_id))
        assert fast == orm
    assert fast["replaces"] == str(old.public_id)
    assert orm["transitions"][0]["transition"] == T.SUBMIT


def test_a_renamed_service_point_shows_its_new_code(api, world, card_in, monkeypatch):
    from agencies import selectors as agency_selectors

    card = card_in(S.VERIFIED)
    assert api.get(f"/cards/{card.public_id}").json()["collection_point"] == "BO01"
    world.outlet.code = "BO01X"
    world.outlet.save(update_fields=["code"])
    monkeypatch.setattr(agency_selectors, "SERVICE_POINT_CODES_TTL", 0.0)
    assert api.get(f"/cards/{card.public_id}").json()["collection_point"] == "BO01X"


def test_a_card_number_is_normalised_as_the_schema_says_and_echoed_as_stored(api, card_in):
    from cards.api.serializers import CARD_NUMBER_RULE

    assert "SC12345678" in str(CARD_NUMBER_RULE)  # the schema names the normalisation
    card = card_in(S.VERIFIED)
    response = api.post(f"/cards/{card.public_id}/ready", {"card_number": "ｓｃ-8765 4321"})
    assert response.json()["card_number"] == "SC87654321"
    other = card_in(S.VERIFIED, eligible_person())
    refused = api.post(f"/cards/{other.public_id}/ready", {"card_number": "SC-12#"})
    assert refused.status_code == 422
    assert error_of(refused)["details"]["card_number"] == ["卡号应为6至20位字母或数字。"]


def test_the_card_detail_follows_the_banks_data_policy(api, world, card_in):
    """Default: the full ID number on the detail, no phone; lists always masked."""
    card = card_in(S.VERIFIED)
    holder = card.applicant
    assert holder.phone
    body = api.get(f"/cards/{card.public_id}").json()
    assert (body["holder"]["id_number"], body["holder"]["phone"]) == (holder.id_number, "")
    world.bank.api_full_id_number, world.bank.api_phone = False, True
    world.bank.save()
    body = api.get(f"/cards/{card.public_id}").json()
    assert body["holder"]["id_number"] == mask_id_number(holder.id_number)
    assert body["holder"]["phone"] == holder.phone
    listed = api.get("/cards").content.decode()
    assert holder.id_number not in listed and holder.phone not in listed


def test_only_the_data_policy_permission_edits_the_policy_in_the_admin(world, rf):
    from django.contrib.admin.sites import site
    from django.contrib.auth.models import Permission

    from agencies.models import PartnerBank
    from tests.factories import UserFactory

    bank_admin = site._registry[PartnerBank]
    user = UserFactory(is_staff=True)
    request = rf.get("/admin/")
    request.user = user
    assert {"api_full_id_number", "api_phone"} <= set(bank_admin.get_readonly_fields(request))
    user.user_permissions.add(Permission.objects.get(codename="change_data_policy"))
    request.user = type(user).objects.get(pk=user.pk)  # permissions are cached per object
    assert not {"api_full_id_number", "api_phone"} & set(bank_admin.get_readonly_fields(request))


def test_an_agent_collects_at_the_outlet_and_the_bank_reads_only_that_an_agent_did(api, card_in):
    from tests.factories import resident_id

    card = card_in(S.READY_FOR_COLLECTION)
    holder = card.applicant
    url = f"/cards/{card.public_id}/hand-over"
    body = {"id_number": holder.id_number, "receipt_number": card.receipt_number_display}
    half = api.post(url, {**body, "agent_name": "李四"})
    assert half.status_code == 422
    assert {"agent_id_type", "agent_id_number"} <= set(error_of(half)["details"])
    agent = {
        "agent_name": "李四",
        "agent_id_type": "resident_id",
        "agent_id_number": resident_id(9),
    }
    done = api.post(url, {**body, **agent})
    assert done.status_code == 200, done.content
    handed = done.json()["transitions"][-1]
    assert handed["details"] == {"agent": True}  # never the agent's name or number
    row = Card.objects.get(pk=card.pk).transitions.order_by("-id").first()
    assert row.data["identity"]["agent"]["id_number"] == resident_id(9)


def test_updated_after_takes_any_offset_iso_8601_allows(api, card_in):
    """PostgreSQL refuses offsets past ±15:59 (a 500 found by schemathesis); ISO 8601 has up to
    ±23:59: the time is compared in UTC."""
    card = card_in(S.VERIFIED)
    card.refresh_from_db()
    just_before = card.updated_at - datetime.timedelta(seconds=1)
    far_east = just_before.astimezone(datetime.timezone(datetime.timedelta(hours=21, minutes=50)))
    response = api.get("/cards", {"updated_after": far_east.isoformat()})
    assert response.status_code == 200, response.content
    assert str(card.public_id) in {row["id"] for row in response.json()["results"]}
    later = (card.updated_at + datetime.timedelta(seconds=1)).astimezone(far_east.tzinfo)
    assert str(card.public_id) not in {
        row["id"]
        for row in api.get("/cards", {"updated_after": later.isoformat()}).json()["results"]
    }


def test_a_card_read_costs_the_same_queries_however_long_its_history(api, world, card_in):
    """Each loss report logs the caller's phone and address under the holder's own data key
    (crypto-shredding): the card's history opens that key once, not once per log row."""
    from tests.cards.conftest import report_by_phone

    card = card_in(S.ISSUED)

    def report_and_lift() -> None:
        reported = report_by_phone(world, Card.objects.get(pk=card.pk))
        services.card_withdraw_loss_report(
            card=reported,
            actor=world.clerk,
            id_number=card.applicant.id_number,
            card_presented=True,
        )

    report_and_lift()
    url = f"/cards/{card.public_id}"
    api.get(url)  # the key's first use is written down (once per 5 minutes)
    short = _count_queries(lambda: api.get(url))
    for _ in range(4):
        report_and_lift()
    long = _count_queries(lambda: api.get(url))
    assert len(api.get(url).json()["transitions"]) >= 10
    assert long == short
    # A bank is never shown a person's values, so their data key is not even looked up.
    with CaptureQueriesContext(connection) as queries:
        api.get(url)
    assert not [q for q in queries.captured_queries if "privacy_persondatakey" in (q["sql"] or "")]
