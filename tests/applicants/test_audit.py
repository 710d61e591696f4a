"""The change audit of people (issue #15): every change to a person, an employment or an
enrolment is one privacy.PersonChange row, written by the service in the change's transaction,
naming the actor and channel, with the values before and after masked for display and kept whole
only through privacy.audit.seal()."""

import datetime

import pytest
from django.test import Client

from applicants.choices import EnrolmentRoute, IdDocumentType, Insurance
from applicants.models import Applicant
from applicants.services import (
    applicant_create,
    applicant_update,
    employment_create,
    employment_register,
    enrolment_create,
)
from cards.choices import ActorKind, Channel
from privacy import audit
from privacy.choices import ChangeAction
from privacy.models import PersonChange
from tests.admin.conftest import login
from tests.api.conftest import application_body
from tests.cards.conftest import eligible_person
from tests.factories import ApplicantFactory, EmployerFactory

pytestmark = pytest.mark.django_db
NUMBER = "11010519491231002X"


def test_a_new_person_is_audited_with_masked_values_and_the_clerk(world):
    person = applicant_create(
        name="张小红",
        id_type=IdDocumentType.RESIDENT_ID,
        id_number=NUMBER,
        phone="13812345678",
        address="上海市徐汇区漕溪北路1号",
        actor=world.clerk,
    )
    change = PersonChange.objects.get(applicant_id=person.pk)
    assert change.action == ChangeAction.CREATE
    assert (change.actor_kind, change.user_id, change.service_point_id, change.channel) == (
        ActorKind.USER,
        world.clerk.user.pk,
        world.community.pk,
        Channel.COUNTER,
    )
    assert change.changes["phone"] == {"before": None, "after": "138****5678"}
    assert change.changes["id_number"]["after"] == "110***********002X"
    assert change.changes["name"]["after"] == "张**"
    assert "13812345678" not in str(change.changes)
    assert "13812345678" not in str(change.sealed)  # encrypted at rest
    assert audit.unseal(change.sealed)["phone"] == [None, "13812345678"]


def test_a_correction_keeps_before_and_after(world):
    person = ApplicantFactory(phone="13800000001", address="上海市黄浦区人民大道200号")
    applicant_update(
        applicant=person, actor=world.clerk, phone="13900000002", address=person.address
    )
    person.refresh_from_db()
    assert person.phone == "13900000002"
    change = PersonChange.objects.get(applicant_id=person.pk)
    assert change.action == ChangeAction.UPDATE
    assert change.changes == {"phone": {"before": "138****0001", "after": "139****0002"}}
    assert audit.unseal(change.sealed) == {"phone": ["13800000001", "13900000002"]}  # address kept


def test_a_correction_that_changes_nothing_writes_nothing(world):
    person = ApplicantFactory(phone="13800000001")
    applicant_update(applicant=person, actor=world.clerk, phone=" 13800000001 ")
    assert not PersonChange.objects.filter(applicant_id=person.pk).exists()


def test_the_change_and_its_audit_row_are_one_transaction(world, monkeypatch):
    person = ApplicantFactory(phone="13800000001")

    def audit_fails(**kwargs):
        raise RuntimeError("the audit insert failed")

    monkeypatch.setattr("applicants.services.person_change_record", audit_fails)
    with pytest.raises(RuntimeError):
        applicant_update(applicant=person, actor=world.clerk, phone="13900000002")
    assert Applicant.objects.get(pk=person.pk).phone == "13800000001"


def test_an_invalid_correction_is_refused_naming_the_field(world):
    from django.core.exceptions import ValidationError

    from applicants.choices import Sex

    person = ApplicantFactory()
    other = next(sex for sex in Sex.values if sex != person.sex)
    with pytest.raises(ValidationError) as refused:
        applicant_update(applicant=person, actor=world.clerk, sex=other)
    assert "sex" in refused.value.message_dict
    assert Applicant.objects.get(pk=person.pk).sex == person.sex
    assert not PersonChange.objects.filter(applicant_id=person.pk).exists()


def test_employments_and_enrolments_are_audited(world):
    person = ApplicantFactory()
    employer = EmployerFactory()
    employment = employment_create(
        applicant=person,
        employer=employer,
        start_date=datetime.date(2026, 1, 5),
        actor=world.clerk,
    )
    employment_register(
        employment=employment, registered_on=datetime.date(2026, 1, 20), actor=world.clerk
    )
    enrolment_create(
        applicant=person,
        insurance=Insurance.MEDICAL,
        route=EnrolmentRoute.EMPLOYER,
        employment=employment,
        start_date=datetime.date(2026, 1, 20),
        actor=world.clerk,
    )
    rows = list(PersonChange.objects.filter(applicant_id=person.pk).order_by("id"))
    assert [r.action for r in rows] == [
        ChangeAction.EMPLOYMENT_CREATE,
        ChangeAction.EMPLOYMENT_REGISTER,
        ChangeAction.ENROLMENT_CREATE,
    ]
    assert rows[1].changes == {"registered_on": {"before": None, "after": "2026-01-20"}}
    assert rows[2].changes["insurance"]["after"] == Insurance.MEDICAL
    assert {r.user_id for r in rows} == {world.clerk.user.pk}


def test_a_service_called_without_an_actor_is_the_system():
    person = applicant_create(name="李四", id_type=IdDocumentType.RESIDENT_ID, id_number=NUMBER)
    change = PersonChange.objects.get(applicant_id=person.pk)
    assert (change.actor_kind, change.channel, change.user_id) == ("system", "system", None)
    assert audit.SYSTEM.kind == ActorKind.SYSTEM


# --- A bank's application does not overwrite a contact silently -----------------------------------


def test_a_banks_application_with_a_new_phone_is_an_audited_change(api, world):
    person = eligible_person(phone="13800000001")
    body = application_body(world, person)
    body["applicant"]["phone"] = "13911112222"
    assert api.post("/applications", body).status_code == 201
    assert Applicant.objects.get(pk=person.pk).phone == "13911112222"
    change = PersonChange.objects.get(
        applicant_id=person.pk, action=ChangeAction.CONTACT_FROM_APPLICATION
    )
    assert (change.actor_kind, change.bank_id, change.user_id, change.channel) == (
        ActorKind.BANK,
        world.bank.pk,
        None,
        Channel.BANK_OUTLET,
    )
    assert change.changes == {"phone": {"before": "138****0001", "after": "139****2222"}}
    assert audit.unseal(change.sealed) == {"phone": ["13800000001", "13911112222"]}


def test_a_banks_application_with_the_same_contact_writes_no_change(api, world):
    person = eligible_person(phone="13800000001")
    assert api.post("/applications", application_body(world, person)).status_code == 201
    assert not PersonChange.objects.filter(
        applicant_id=person.pk, action=ChangeAction.CONTACT_FROM_APPLICATION
    ).exists()


# --- The admin's correction goes through the service -----------------------------------------


def test_the_admin_correction_is_audited_with_the_clerk(world):
    from tests.admin.test_enrol import found_at_the_counter

    client: Client = login(world.clerk)
    person = ApplicantFactory(phone="13800000001", address="上海市黄浦区人民大道200号")
    found_at_the_counter(client, person)
    url = f"/admin/applicants/applicant/{person.pk}/change/"
    response = client.post(
        url,
        {
            "new_name": "",
            "sex": person.sex,
            "birth_date": person.birth_date.isoformat(),
            "nationality": person.nationality,
            "shanghai_hukou": "on" if person.shanghai_hukou else "",
            "new_hukou_place": "",
            "new_phone": "13900000002",
            "new_address": "",
            "employments-TOTAL_FORMS": "0",
            "employments-INITIAL_FORMS": "0",
            "enrolments-TOTAL_FORMS": "0",
            "enrolments-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    person.refresh_from_db()
    assert person.phone == "13900000002"
    assert person.address == "上海市黄浦区人民大道200号"  # an empty input keeps the value
    change = PersonChange.objects.get(applicant_id=person.pk, action=ChangeAction.UPDATE)
    assert change.user_id == world.clerk.user.pk
    assert change.changes == {"phone": {"before": "138****0001", "after": "139****0002"}}
