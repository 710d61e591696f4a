"""Masking in the admin (issue #15): a person's page shows every personal value masked, reveals
each on its own by a logged POST, corrects without showing; every list with a search takes it by
POST, never in a URL; the person's copy is printed at the counter, logged; the auditor reads the
personal-data logs and changes nothing."""

import pytest
from django.contrib import admin
from django.test import Client

from agencies.choices import StaffRole
from applicants.services import applicant_update
from common.admin_lists import NoSearchInUrl
from privacy.choices import AccessPurpose, ChangeAction
from privacy.models import PersonalDataAccess, PersonChange
from tests.admin.test_enrol import found_at_the_counter
from tests.cards.conftest import eligible_person
from tests.conftest import staff_login
from tests.factories import EmployerFactory
from tests.security.test_roles import member

pytestmark = pytest.mark.django_db

PHONE = "13812345678"
ADDRESS = "上海市徐汇区漕溪北路1号2号楼303室"


@pytest.fixture
def someone(clients):
    person = eligible_person(name="王小明", phone=PHONE, address=ADDRESS)
    found_at_the_counter(clients.clerk, person)
    PersonalDataAccess.objects.all().delete()  # the search's own row (tests/privacy)
    return person


def change_page(client, person) -> str:
    response = client.get(f"/admin/applicants/applicant/{person.pk}/change/")
    assert response.status_code == 200
    return response.content.decode()


def test_the_change_form_shows_no_full_value(clients, someone):
    page = change_page(clients.clerk, someone)
    for full in (someone.name, PHONE, ADDRESS, someone.id_number):
        assert full not in page
    assert "138****5678" in page and "王**" in page
    assert 'name="name"' not in page and 'name="phone"' not in page  # no input holds a value
    assert 'name="new_phone"' in page


def test_each_value_is_revealed_alone_once_and_logged(clients, world, someone):
    url = f"/admin/applicants/applicant/{someone.pk}/reveal/"
    page = clients.clerk.post(url, {"field": "phone"}, follow=True).content.decode()
    assert PHONE in page
    assert ADDRESS not in page and someone.id_number not in page
    assert PHONE not in change_page(clients.clerk, someone)  # once: the next page masks again
    (row,) = PersonalDataAccess.objects.all()
    assert (row.applicant_id, row.field, row.purpose, row.user_id) == (
        someone.pk,
        "phone",
        AccessPurpose.REVEAL,
        world.clerk.user.pk,
    )


def test_an_unknown_field_is_not_revealed(clients, someone):
    response = clients.clerk.post(
        f"/admin/applicants/applicant/{someone.pk}/reveal/", {"field": "password"}
    )
    assert response.status_code == 404
    assert not PersonalDataAccess.objects.exists()


def test_a_person_outside_the_scope_is_not_revealed(clients, someone):
    response = clients.other_clerk.post(
        f"/admin/applicants/applicant/{someone.pk}/reveal/", {"field": "phone"}
    )
    assert response.status_code == 404
    assert not PersonalDataAccess.objects.exists()


# --- Searches by POST only ----------------------------------------------------------------------


def test_every_admin_list_with_a_search_takes_it_by_post():
    for model, model_admin in admin.site._registry.items():
        if model_admin.search_fields or hasattr(model_admin, "find_url"):
            assert isinstance(model_admin, NoSearchInUrl), model


@pytest.mark.parametrize(
    "url",
    [
        "/admin/applicants/applicant/",
        "/admin/applicants/registryrecord/",
        "/admin/applicants/employer/",
        "/admin/applicants/employment/",
    ],
)
def test_a_search_in_the_url_is_dropped(clients, url):
    response = clients.supervisor.get(url, {"q": "11010519491231002X", "sex": "male"})
    assert response.status_code == 302
    assert "11010519491231002X" not in response["Location"]
    assert "sex=male" in response["Location"]


def test_the_employer_search_is_posted_and_kept_in_the_session(clients):
    wanted, other = EmployerFactory(), EmployerFactory()
    url = "/admin/applicants/employer/"
    posted = clients.clerk.post(url, {"posted_q": wanted.uscc})
    assert posted.status_code == 302 and wanted.uscc not in posted["Location"]
    page = clients.clerk.get(url)
    assert list(page.context["cl"].result_list) == [wanted]
    assert wanted.uscc in page.content.decode()  # shown back in the search box
    clients.clerk.post(url, {"posted_q": ""})  # cleared
    assert {e.pk for e in clients.clerk.get(url).context["cl"].result_list} >= {
        wanted.pk,
        other.pk,
    }


# --- The person's copy (PIPL art. 45) ------------------------------------------------------------


def test_the_persons_copy_lists_everything_and_is_logged(clients, world, someone, card_in):
    card_in("verified", someone)
    PersonalDataAccess.objects.all().delete()
    response = clients.clerk.get(f"/admin/applicants/applicant/{someone.pk}/copy/")
    assert response.status_code == 200
    page = response.content.decode()
    for full in (someone.name, someone.id_number, PHONE, ADDRESS):
        assert full in page
    assert "Application submitted" in page and "Verified against the municipal registry" in page
    assert "no-store" in response["Cache-Control"]
    (row,) = PersonalDataAccess.objects.all()
    assert (row.purpose, row.user_id) == (AccessPurpose.PERSON_COPY, world.clerk.user.pk)


def test_the_copy_is_not_printed_outside_the_scope(clients, someone):
    assert (
        clients.other_clerk.get(f"/admin/applicants/applicant/{someone.pk}/copy/").status_code
        == 404
    )
    assert clients.hotline.get(f"/admin/applicants/applicant/{someone.pk}/copy/").status_code in (
        403,
        404,
    )
    assert not PersonalDataAccess.objects.exists()


# --- The auditor reads the logs; nobody else does, nobody changes them ---------------------------


def test_the_auditor_reads_the_change_log_masked_and_changes_nothing(clients, world, someone):
    applicant_update(applicant=someone, actor=world.clerk, phone="13900000002")
    change = PersonChange.objects.get(applicant_id=someone.pk, action=ChangeAction.UPDATE)
    auditor = staff_login(Client(), member(StaffRole.AUDITOR))
    listing = auditor.get("/admin/privacy/personchange/")
    assert listing.status_code == 200
    page = listing.content.decode()
    assert "138****5678" in page and "139****0002" in page
    assert PHONE not in page and "13900000002" not in page
    detail = auditor.get(f"/admin/privacy/personchange/{change.pk}/change/").content.decode()
    assert "13900000002" not in detail and PHONE not in detail
    assert auditor.post(f"/admin/privacy/personchange/{change.pk}/delete/").status_code == 403
    assert auditor.get("/admin/privacy/personaldataaccess/").status_code == 200
    assert auditor.get(f"/admin/applicants/applicant/{someone.pk}/change/").status_code in (
        403,
        404,
    )
    # Found by the person's exact number, posted.
    auditor.post("/admin/privacy/personchange/", {"posted_q": someone.id_number})
    assert {
        r.applicant_id
        for r in auditor.get("/admin/privacy/personchange/").context["cl"].result_list
    } == {someone.pk}


def test_the_roles_that_act_on_people_do_not_read_the_logs(clients):
    for client in (clients.clerk, clients.supervisor):
        assert client.get("/admin/privacy/personchange/").status_code == 403
        assert client.get("/admin/privacy/personaldataaccess/").status_code == 403


def test_a_superuser_adds_a_person_through_the_service_audited():
    from tests.factories import UserFactory

    root = UserFactory(username="root", is_superuser=True)
    client = staff_login(Client(), root)
    response = client.post(
        "/admin/applicants/applicant/add/",
        {
            "name": "赵六",
            "id_type": "resident_id",
            "id_number": "11010519491231002X",
            "id_issuing_country": "",
            "sex": "",
            "birth_date": "",
            "nationality": "CHN",
            "shanghai_hukou": "on",
            "hukou_place": "上海市黄浦区",
            "phone": "13700000000",
            "address": "",
            "employments-TOTAL_FORMS": "0",
            "employments-INITIAL_FORMS": "0",
            "enrolments-TOTAL_FORMS": "0",
            "enrolments-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    change = PersonChange.objects.get(action=ChangeAction.CREATE)
    assert (change.user_id, change.actor_kind) == (root.pk, "user")
    assert change.changes["phone"]["after"] == "137****0000"


def test_a_registry_record_is_shown_masked():
    from tests.factories import RegistryRecordFactory, UserFactory

    record = RegistryRecordFactory(
        hukou_place="上海市徐汇区漕溪北路1号", registered_address=ADDRESS
    )
    client = staff_login(Client(), UserFactory(username="root", is_superuser=True))
    page = client.get(f"/admin/applicants/registryrecord/{record.pk}/change/").content.decode()
    for full in (record.name, record.id_number, ADDRESS):
        assert full not in page
    assert record.id_number_masked in page
