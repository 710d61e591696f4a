"""The counter search at the page: one exact lookup per kind, refusals before any query, the desk
resolved once, and card-less people seen only where they were searched or registered."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cards.choices import ActorKind, CardStatus, Channel, TransitionName
from cards.models import CardTransition
from tests.factories import ApplicantFactory

S = CardStatus
pytestmark = pytest.mark.django_db
COUNTER = "/admin/cards/card/counter/"


def test_a_malformed_number_is_refused_naming_the_rule_without_a_lookup(world, clients):
    with CaptureQueriesContext(connection) as queries:
        response = clients.clerk.post(COUNTER, {"q": "110105194912310021"})
    page = response.content.decode()
    assert response.status_code == 200
    assert "The check character (the 18th) of this ID number does not match" in page
    assert response.context["new_person_form"] is None  # no registration offered
    assert response.context["found"] is None
    looked_up = [q["sql"] for q in queries.captured_queries if "applicants_applicant" in q["sql"]]
    assert looked_up == []
    assert not any("cards_card" in q["sql"] for q in queries.captured_queries)


def test_an_unknown_valid_id_number_offers_registration(world, clients):
    response = clients.clerk.post(COUNTER, {"q": "11010519491231002X"})
    assert response.context["found"].key.kind == "id_number"
    assert response.context["new_person_form"] is not None


def test_the_desk_is_resolved_once_per_request(world, clients, card_in):
    card = card_in(S.ISSUED)
    with CaptureQueriesContext(connection) as queries:
        clients.clerk.post(COUNTER, {"q": card.applicant.id_number})
    staff_reads = [q for q in queries.captured_queries if 'FROM "agencies_staff"' in q["sql"]]
    assert len(staff_reads) == 1


def test_a_cardless_person_is_seen_only_where_searched(world, clients):
    person = ApplicantFactory()
    url = f"/admin/applicants/applicant/{person.pk}/change/"
    listing = clients.clerk.get("/admin/applicants/applicant/").context["cl"]
    assert person not in listing.result_list
    assert clients.clerk.get(url).status_code == 404
    found = clients.clerk.post(COUNTER, {"q": person.id_number})
    assert found.context["found"].person == person
    assert clients.clerk.get(url).status_code == 200
    listing = clients.clerk.get("/admin/applicants/applicant/").context["cl"]
    assert person in listing.result_list
    assert clients.other_clerk.get(url).status_code == 404  # not searched there
    # The hotline's search makes nobody visible to it.
    clients.hotline.post(COUNTER, {"q": person.id_number})
    assert clients.hotline.get(url).status_code == 404


def test_the_applicant_list_search_is_posted_never_in_the_url(world, clients):
    page = clients.clerk.get("/admin/applicants/applicant/").content.decode()
    assert f'action="{COUNTER}"' in page and 'method="post"' in page
    response = clients.clerk.get("/admin/applicants/applicant/", {"q": "11010519491231002X"})
    assert response.status_code == 302 and "q=" not in response["Location"]


def test_a_long_history_is_paged_newest_first(world, clients, card_in):
    card = card_in(S.ISSUED)
    before = card.transitions.count()
    CardTransition.objects.bulk_create(
        CardTransition(
            card=card,
            name=TransitionName.HAND_OVER,
            from_status=S.READY_FOR_COLLECTION,
            to_status=S.ISSUED,
            at=card.applied_at,
            actor_kind=ActorKind.SYSTEM,
            channel=Channel.SYSTEM,
            reason=f"row {n}",
        )
        for n in range(60)
    )
    first = clients.clerk.get(f"/admin/cards/card/{card.pk}/change/")
    history = first.context["history"]
    assert len(history) == 50 and history[0]["reason"] == "row 59"
    older = first.context["history_older_url"]
    second = clients.clerk.get(f"/admin/cards/card/{card.pk}/change/{older}")
    assert len(second.context["history"]) == 60 + before - 50
    assert second.context["history_older_url"] is None
