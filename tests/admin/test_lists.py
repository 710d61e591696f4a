"""The card list: a constant number of queries whatever the page holds, filters by the state in
force and the deadlines, masked personal data."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cards.choices import CardStatus, CardType, Channel
from cards.models import Card
from common.admin_lists import CITY_LIST_PAGE
from tests.factories import ApplicantFactory

S = CardStatus
pytestmark = pytest.mark.django_db


def make_cards(world, n: int) -> list[Card]:
    """`n` cards of the clerk's point in a mix of states (rows written directly: the list is
    under test here, not the lifecycle)."""
    now = timezone.now()
    cards = []
    for i, applicant in enumerate(ApplicantFactory.create_batch(n)):
        state = [S.APPLIED, S.VERIFIED, S.ISSUED, S.PHONE_REPORTED_LOST, S.WRITTEN_LOST][i % 5]
        cards.append(
            Card(
                applicant=applicant,
                card_type=CardType.SOCIAL_SECURITY,
                status=state,
                bank=world.bank,
                service_point=world.community,
                collection_point=world.outlet,
                channel=Channel.COUNTER,
                card_number=f"SC{9_000_000 + i + n * 1000}" if state != S.APPLIED else None,
                phone_reported_at=now if state == S.PHONE_REPORTED_LOST else None,
                phone_report_expires_at=now + datetime.timedelta(hours=3)
                if state == S.PHONE_REPORTED_LOST
                else None,
                written_reported_at=now if state == S.WRITTEN_LOST else None,
                written_report_expires_at=now + datetime.timedelta(days=3)
                if state == S.WRITTEN_LOST
                else None,
                loss_certificate_number=f"LR-T-{n}-{i}" if state == S.WRITTEN_LOST else None,
            )
        )
    return Card.objects.bulk_create(cards)


def list_queries(client, url="/admin/cards/card/") -> tuple[int, object]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries), response


@pytest.mark.parametrize("url", ["/admin/cards/card/", "/admin/cards/card/?state=issued"])
def test_a_list_of_100_cards_runs_a_constant_number_of_queries(world, clients, url):
    make_cards(world, 5)
    few, response = list_queries(clients.clerk, url)
    assert len(response.context["cl"].result_list) >= 1
    make_cards(world, 95)
    many, response = list_queries(clients.clerk, url)
    if url.endswith("card/"):
        assert len(response.context["cl"].result_list) == CITY_LIST_PAGE  # one full page
    assert many == few
    assert many <= 12  # session, user, staff, count, page, banks filter, ...


def test_the_list_masks_names_ids_and_phones(world, clients):
    (card,) = make_cards(world, 1)
    page = clients.clerk.get("/admin/cards/card/").content.decode()
    holder = card.applicant
    assert holder.name_masked in page and holder.id_number_masked in page
    assert holder.name not in page
    assert holder.id_number not in page
    assert holder.phone not in page


def test_the_state_filter_uses_the_state_in_force(world, clients):
    cards = make_cards(world, 5)
    lapsed = next(c for c in cards if c.status == S.PHONE_REPORTED_LOST)
    Card.objects.filter(pk=lapsed.pk).update(phone_report_expires_at=timezone.now())
    issued = clients.clerk.get("/admin/cards/card/?state=issued").context["cl"]
    assert {c.pk for c in issued.result_list} == {
        c.pk for c in cards if c.status == S.ISSUED or c.pk == lapsed.pk
    }
    listed = {c.pk: c for c in issued.result_list}
    assert listed[lapsed.pk].effective_status == S.ISSUED
    phone = clients.clerk.get("/admin/cards/card/?state=phone_reported_lost").context["cl"]
    assert phone.result_count == 0


def test_filters_by_type_channel_bank_deadline_and_day(world, clients):
    cards = make_cards(world, 10)
    cl = clients.clerk.get(
        f"/admin/cards/card/?card_type=social_security&channel=counter&bank__id__exact={world.bank.pk}"
    ).context["cl"]
    assert cl.result_count == 10
    written = clients.clerk.get("/admin/cards/card/?deadline=written_report_week").context["cl"]
    assert {c.pk for c in written.result_list} == {
        c.pk for c in cards if c.status == S.WRITTEN_LOST
    }
    today = timezone.localdate().isoformat()
    cl = clients.clerk.get(f"/admin/cards/card/?applied_on={today}&here=applied").context["cl"]
    assert cl.result_count == 10
    cl = clients.clerk.get("/admin/cards/card/?applied_on=2001-01-01").context["cl"]
    assert cl.result_count == 0


def test_the_list_search_posts_to_the_counter_never_in_the_url(world, clients):
    card = make_cards(world, 3)[1]
    holder = card.applicant
    # No search by URL: a number in `?q=` is ignored (it would end up in access logs).
    dropped = clients.clerk.get("/admin/cards/card/", {"q": holder.id_number, "state": "issued"})
    assert dropped.status_code == 302 and dropped["Location"] == "/admin/cards/card/?state=issued"
    found = clients.clerk.get("/admin/cards/card/")
    assert found.context["cl"].result_count == 3
    page = found.content.decode()
    assert 'name="q"' in page
    assert 'action="/admin/cards/card/counter/"' in page and 'method="post"' in page
    # A receipt number typed with spaces and lower case opens the holder's visit screen.
    typed = " ".join(card.receipt_number.lower()[i : i + 4] for i in range(0, 13, 4))
    response = clients.clerk.post("/admin/cards/card/counter/", {"q": typed})
    assert response.status_code == 200
    assert response.context["visit"].person == card.applicant
    assert f'href="/admin/cards/card/{card.pk}/change/"' in response.content.decode()
