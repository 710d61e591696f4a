"""Recording an insurance enrolment at the counter: how a new person becomes eligible."""

from applicants.models import InsuranceEnrolment
from applicants.policy import applicant_card_eligibility
from cards.choices import CardType
from tests.factories import ApplicantFactory


def enrol(client, applicant, **data):
    return client.post(
        f"/admin/applicants/applicant/{applicant.pk}/enrol/",
        {"insurance": "medical", "route": "individual", "start_date": "2026-01-05", **data},
    )


def found_at_the_counter(client, person) -> None:
    """A card-less person is seen at a point once searched there by their exact number."""
    assert client.post("/admin/cards/card/counter/", {"q": person.id_number}).status_code == 200


def test_a_new_shanghai_resident_enrolled_individually_may_apply(clients, world):
    person = ApplicantFactory()
    assert not applicant_card_eligibility(person, CardType.SOCIAL_SECURITY)
    before = clients.clerk.get(f"/admin/applicants/applicant/{person.pk}/enrol/")
    assert before.status_code == 404  # nobody's work yet, and not searched here
    found_at_the_counter(clients.clerk, person)
    page = clients.clerk.get(f"/admin/applicants/applicant/{person.pk}/enrol/")
    assert page.status_code == 200 and "Record the enrolment" in page.content.decode()
    assert enrol(clients.clerk, person).status_code == 302
    assert enrol(clients.clerk, person, insurance="pension").status_code == 302
    assert set(person.enrolments.values_list("insurance", flat=True)) == {"medical", "pension"}
    assert applicant_card_eligibility(person, CardType.SOCIAL_SECURITY)


def test_the_policy_refuses_with_its_reason_on_the_form(clients, world):
    outsider = ApplicantFactory(shanghai_hukou=False, hukou_place="江苏省南京市")
    found_at_the_counter(clients.clerk, outsider)
    response = enrol(clients.clerk, outsider, insurance="work_injury")
    assert response.status_code == 200
    page = response.content.decode()
    assert "only pension and medical insurance" in page
    assert "needs Shanghai household registration" in page
    assert not InsuranceEnrolment.objects.filter(applicant=outsider).exists()


def test_the_hotline_cannot_enrol_anyone(clients, world):
    person = ApplicantFactory()
    clients.hotline.post("/admin/cards/card/counter/", {"q": person.id_number})
    assert enrol(clients.hotline, person).status_code in (403, 404)
    assert not person.enrolments.exists()
