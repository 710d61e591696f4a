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


def test_a_new_shanghai_resident_enrolled_individually_may_apply(clients, world):
    person = ApplicantFactory()
    assert not applicant_card_eligibility(person, CardType.SOCIAL_SECURITY)
    page = clients.clerk.get(f"/admin/applicants/applicant/{person.pk}/enrol/")
    assert page.status_code == 200 and "Record the enrolment" in page.content.decode()
    assert enrol(clients.clerk, person).status_code == 302
    assert enrol(clients.clerk, person, insurance="pension").status_code == 302
    assert set(person.enrolments.values_list("insurance", flat=True)) == {"medical", "pension"}
    assert applicant_card_eligibility(person, CardType.SOCIAL_SECURITY)


def test_the_policy_refuses_with_its_reason_on_the_form(clients, world):
    outsider = ApplicantFactory(shanghai_hukou=False, hukou_place="江苏省南京市")
    response = enrol(clients.clerk, outsider, insurance="work_injury")
    assert response.status_code == 200
    page = response.content.decode()
    assert "only pension and medical insurance" in page
    assert "needs Shanghai household registration" in page
    assert not InsuranceEnrolment.objects.filter(applicant=outsider).exists()


def test_the_hotline_cannot_enrol_anyone(clients, world):
    person = ApplicantFactory()
    assert enrol(clients.hotline, person).status_code in (403, 404)
    assert not person.enrolments.exists()
