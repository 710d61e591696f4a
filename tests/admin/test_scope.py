"""Scope: a clerk of point A sees and touches nothing of point B's work, on any admin URL, list,
search or the dashboard; only the transitions their role allows, even by posting a form directly.
"""

from __future__ import annotations

import pytest

from cards import services
from cards.choices import CardStatus
from cards.counter.forms import TRANSITION_FORMS
from cards.models import Card
from privacy.models import PersonalDataAccess
from tests.admin.conftest import submit_at_other_point
from tests.cards.conftest import card_number, eligible_person, report_by_phone

S = CardStatus
pytestmark = pytest.mark.django_db

B_STATES = [S.APPLIED, S.VERIFIED, S.ISSUED, S.PHONE_REPORTED_LOST, S.WRITTEN_LOST, S.REPLACED]


def b_card(world, state: str) -> Card:
    """A card applied for at point B (the other community center), walked to `state` by B's
    own staff and the bank (loss reports at B too), so nothing of it is point A's work."""
    card = submit_at_other_point(world, eligible_person())
    if state == S.APPLIED:
        return card
    card = services.card_verify(card=card, actor=world.other_clerk)
    if state == S.VERIFIED:
        return card
    card = services.card_mark_ready(card=card, actor=world.bank_actor, card_number=card_number())
    holder = card.applicant
    card = services.card_hand_over(
        card=card,
        actor=world.bank_actor,
        id_number=holder.id_number,
        receipt_number=card.receipt_number,
    )
    if state == S.ISSUED:
        return card
    if state == S.PHONE_REPORTED_LOST:
        return report_by_phone(world, card)
    new = services.card_report_lost_in_writing(
        card=card,
        actor=world.other_clerk,
        id_number=holder.id_number,
        request_replacement=state == S.REPLACED,
    )
    card.refresh_from_db()
    assert card.status == state, (card.status, new)
    return card


def card_urls(card: Card) -> list[str]:
    base = f"/admin/cards/card/{card.pk}"
    return [
        f"{base}/change/",
        f"{base}/history/",
        f"{base}/delete/",
        f"{base}/receipt/",
        f"{base}/certificate/",
        f"{base}/reveal/",
        *(f"{base}/do/{name}/" for name in TRANSITION_FORMS),
    ]


def applicant_urls(card: Card) -> list[str]:
    base = f"/admin/applicants/applicant/{card.applicant_id}"
    return [f"{base}/change/", f"{base}/history/", f"{base}/delete/", f"{base}/reveal/"]


@pytest.mark.parametrize("state", B_STATES)
def test_a_clerk_of_point_a_gets_404_for_point_b_card_on_every_url(world, clients, state):
    card = b_card(world, state)
    status_before = card.status
    for url in card_urls(card) + applicant_urls(card):
        for method in ("get", "post"):
            response = getattr(clients.clerk, method)(url, {"reason": "x", "id_number": "x"})
            assert response.status_code == 404, (method, url, response.status_code)
    card.refresh_from_db()
    assert card.status == status_before
    assert not PersonalDataAccess.objects.filter(purpose="reveal").exists()
    # ...while point B's own clerk sees the card (the test is not vacuous).
    assert clients.other_clerk.get(f"/admin/cards/card/{card.pk}/change/").status_code == 200


@pytest.mark.parametrize("state", [S.APPLIED, S.ISSUED, S.WRITTEN_LOST])
def test_point_b_card_is_in_no_list_search_or_dashboard_of_point_a(world, clients, state):
    card = b_card(world, state)
    holder = card.applicant
    listing = clients.clerk.get("/admin/cards/card/")
    assert listing.context["cl"].result_count == 0
    for term in (holder.id_number, card.receipt_number, card.card_number or "NOCARD"):
        searched = clients.clerk.get("/admin/cards/card/", {"q": term}, follow=True)
        assert searched.context["cl"].result_count == 0
        counter = clients.clerk.post("/admin/cards/card/counter/", {"q": term})
        assert counter.status_code == 200
        assert counter.context["cards"] == []
        assert card.receipt_number_display not in counter.content.decode()
    people = clients.clerk.get("/admin/applicants/applicant/", {"q": holder.id_number}, follow=True)
    assert people.context["cl"].result_count == 0
    board = clients.clerk.get("/admin/").content.decode()
    assert card.receipt_number_display not in board
    for state_count in clients.clerk.get("/admin/").context["board"]["states"]:
        assert state_count["count"] == 0
    # Point B sees it.
    assert clients.other_clerk.get("/admin/cards/card/").context["cl"].result_count >= 1


def test_bulk_actions_cannot_reach_another_point_card(world, clients):
    card = b_card(world, S.ISSUED)
    response = clients.clerk.post(
        "/admin/cards/card/", {"action": "delete_selected", "_selected_action": [card.pk]}
    )
    assert response.status_code in (200, 302)
    assert Card.objects.filter(pk=card.pk, status=S.ISSUED).exists()


def test_a_clerk_cannot_cancel_even_by_posting_the_form(world, clients, card_in):
    card = card_in(S.ISSUED)  # applied at the clerk's own point
    page = clients.clerk.get(f"/admin/cards/card/{card.pk}/change/").content.decode()
    assert "/do/cancel/" not in page  # no button...
    response = clients.clerk.post(
        f"/admin/cards/card/{card.pk}/do/cancel/", {"reason": "Left Shanghai."}
    )
    assert response.status_code == 403  # ...and no way around it
    card.refresh_from_db()
    assert card.status == S.ISSUED
    assert clients.clerk.get(f"/admin/cards/card/{card.pk}/do/cancel/").status_code == 403

    # The supervisor of the same point has the button and it works.
    page = clients.supervisor.get(f"/admin/cards/card/{card.pk}/change/").content.decode()
    assert "/do/cancel/" in page
    done = clients.supervisor.post(
        f"/admin/cards/card/{card.pk}/do/cancel/", {"reason": "Left Shanghai."}, follow=True
    )
    card.refresh_from_db()
    assert card.status == S.CANCELLED
    assert "Cancelled" in done.content.decode()


def test_the_hotline_cannot_do_counter_work_by_posting(world, clients, card_in):
    card = card_in(S.READY_FOR_COLLECTION)
    for name in ("hand_over", "verify", "report_lost_in_writing"):
        response = clients.hotline.post(f"/admin/cards/card/{card.pk}/do/{name}/", {})
        assert response.status_code == 404  # not the hotline's card at all
    card.refresh_from_db()
    assert card.status == S.READY_FOR_COLLECTION


def test_a_loss_report_for_another_point_card_opens_only_after_the_exact_id_search(world, clients):
    """A written loss report is taken at the nearest service center (PRODUCT.md): once the holder
    shows their document and the clerk enters its number, the report (and nothing more) opens."""
    card = b_card(world, S.ISSUED)
    holder = card.applicant
    url = f"/admin/cards/card/{card.pk}/do/report_lost_in_writing/"
    assert clients.clerk.get(url).status_code == 404
    clients.clerk.post("/admin/cards/card/counter/", {"q": card.receipt_number})
    assert clients.clerk.get(url).status_code == 404  # a receipt number is not the person

    found = clients.clerk.post("/admin/cards/card/counter/", {"q": holder.id_number})
    page = found.content.decode()
    assert [row["card"].pk for row in found.context["desk_cards"]] == [card.pk]
    assert holder.name not in page  # masked
    assert holder.name_masked in page
    assert url in page
    assert "/do/cancel/" not in page and "/do/hand_over/" not in page
    assert clients.clerk.get(f"/admin/cards/card/{card.pk}/change/").status_code == 404
    assert clients.clerk.get(f"/admin/cards/card/{card.pk}/receipt/").status_code == 404
    assert clients.clerk.get(f"/admin/cards/card/{card.pk}/do/withdraw/").status_code == 404

    done = clients.clerk.post(url, {"id_number": holder.id_number}, follow=True)
    card.refresh_from_db()
    assert card.status == S.WRITTEN_LOST
    assert card.loss_certificate_number.startswith(f"LR-{world.community.code}-")
    # Now it is a loss report taken here: the clerk's own work.
    assert done.redirect_chain[-1][0] == f"/admin/cards/card/{card.pk}/change/"
    assert clients.clerk.get(f"/admin/cards/card/{card.pk}/certificate/").status_code == 200


def test_the_hotline_sees_only_the_masked_holder_and_reports_by_phone(world, clients, card_in):
    card = card_in(S.ISSUED)
    holder = card.applicant
    assert clients.hotline.get("/admin/cards/card/").context["cl"].result_count == 0
    assert clients.hotline.get(f"/admin/applicants/applicant/{holder.pk}/change/").status_code in (
        403,
        404,
    )
    found = clients.hotline.post("/admin/cards/card/counter/", {"q": holder.id_number})
    page = found.content.decode()
    assert found.context["person"] is None  # no person block, no eligibility
    assert holder.name not in page
    assert holder.name_masked in page
    url = f"/admin/cards/card/{card.pk}/do/report_lost_by_phone/"
    assert url in page
    form_page = clients.hotline.get(url).content.decode()
    assert holder.name not in form_page and holder.phone not in form_page
    done = clients.hotline.post(
        url,
        {
            "caller_name": holder.name,
            "caller_id_number": holder.id_number,
            "contact_phone": "13900139000",
            "home_address": "上海市徐汇区漕溪北路1号",
        },
        follow=True,
    )
    card.refresh_from_db()
    assert card.status == S.PHONE_REPORTED_LOST
    card_page = done.content.decode()
    assert holder.name not in card_page
    assert holder.id_number not in card_page
    assert "13900139000" not in card_page  # the caller's phone is kept masked in the history
    assert "Reveal" not in card_page  # the hotline has no reveal permission
    response = clients.hotline.post(f"/admin/cards/card/{card.pk}/reveal/")
    assert response.status_code in (403, 404)
    assert not PersonalDataAccess.objects.filter(purpose="reveal").exists()


def test_the_hotline_cannot_report_a_card_not_issued(world, clients, card_in):
    card = card_in(S.READY_FOR_COLLECTION)
    found = clients.hotline.post("/admin/cards/card/counter/", {"q": card.applicant.id_number})
    assert found.context["desk_cards"] == []
    url = f"/admin/cards/card/{card.pk}/do/report_lost_by_phone/"
    assert clients.hotline.get(url).status_code == 404


def test_supervisor_sees_only_own_point_staff(world, clients):
    listing = clients.supervisor.get("/admin/agencies/staff/")
    users = {row.user.username for row in listing.context["cl"].result_list}
    assert users == {world.clerk.user.username, world.supervisor.user.username}
    other = world.other_clerk.staff
    assert clients.supervisor.get(f"/admin/agencies/staff/{other.pk}/change/").status_code == 404
    assert clients.clerk.get("/admin/agencies/staff/").status_code == 403


@pytest.mark.parametrize(
    "url",
    [
        "/admin/agencies/partnerbank/add/",
        "/admin/agencies/servicepoint/add/",
        "/admin/agencies/staff/add/",
        "/admin/common/calendaryear/add/",
        "/admin/django_celery_beat/periodictask/",
        "/admin/auth/user/",
        "/admin/privacy/personaldataaccess/",
    ],
)
def test_only_superusers_manage_the_reference_data(world, clients, url):
    assert clients.supervisor.get(url).status_code == 403
    assert clients.clerk.get(url).status_code == 403


def test_a_phone_report_stays_scoped_to_the_hotline_not_to_other_points(world, clients, card_in):
    card = report_by_phone(world, card_in(S.ISSUED))
    # The hotline took it, yet sees no card page (only what a phone report needs); point B
    # (which never touched it) sees nothing either.
    assert clients.hotline.get(f"/admin/cards/card/{card.pk}/change/").status_code == 404
    assert clients.other_clerk.get(f"/admin/cards/card/{card.pk}/change/").status_code == 404


def test_after_a_phone_report_the_hotline_sees_no_receipt_card_number_or_bank(
    world, clients, card_in
):
    """Every door of the admin: the search, the form, the answer, the lists, the card page, the
    receipt, the certificate and the reveal. ID number + receipt number is what collection and
    the status page ask for, so the hotline never learns the receipt number."""
    card = card_in(S.ISSUED)
    holder = card.applicant
    secrets = (
        card.receipt_number,
        card.receipt_number_display,
        card.card_number,
        world.bank.code,
        world.bank.name_zh,
        world.bank.name_en,
    )

    def shows_nothing(response) -> None:
        page = response.content.decode()
        for secret in secrets:
            assert secret not in page, secret

    hotline = clients.hotline
    found = hotline.post("/admin/cards/card/counter/", {"q": holder.id_number})
    shows_nothing(found)
    url = f"/admin/cards/card/{card.pk}/do/report_lost_by_phone/"
    shows_nothing(hotline.get(url))
    done = hotline.post(
        url,
        {
            "caller_name": holder.name,
            "caller_id_number": holder.id_number,
            "contact_phone": "13900139000",
            "home_address": "上海市徐汇区漕溪北路1号",
        },
        follow=True,
    )
    assert done.redirect_chain[-1][0] == "/admin/cards/card/counter/"
    assert "Phone report recorded. It lapses at" in done.content.decode()
    shows_nothing(done)
    card.refresh_from_db()
    assert card.status == S.PHONE_REPORTED_LOST

    # After the report, the card is no more the hotline's than before.
    shows_nothing(hotline.post("/admin/cards/card/counter/", {"q": holder.id_number}))
    for query in (card.receipt_number_display, card.card_number):
        by_number = hotline.post("/admin/cards/card/counter/", {"q": query})
        assert by_number.status_code == 200
        assert by_number.context["cards"] == [] and by_number.context["desk_cards"] == []
    listing = hotline.get("/admin/cards/card/")
    assert listing.context["cl"].result_count == 0
    # A search in a list's URL is not served (searches are posted, #11): redirected away.
    searched = hotline.get("/admin/cards/card/", {"q": card.receipt_number_display})
    assert searched.status_code == 302 and card.receipt_number not in searched["Location"]
    for path in ("change/", "receipt/", "certificate/"):
        assert hotline.get(f"/admin/cards/card/{card.pk}/{path}").status_code == 404, path
    assert hotline.post(f"/admin/cards/card/{card.pk}/reveal/").status_code in (403, 404)
    assert hotline.get(url).status_code == 404  # nothing more to report on this card
