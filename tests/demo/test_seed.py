"""The demo data: what it holds, that a second run changes nothing, and that production refuses it.

Seeding takes a second or two, so the module seeds once inside a transaction of its own that is
rolled back at the end; each test runs in a savepoint inside it (pytest-django's `db`).
"""

import io
import itertools

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.db import transaction
from django.test import Client

from agencies.choices import ServicePointKind, StaffRole
from agencies.models import PartnerBank, ServicePoint, Staff
from agencies.reference import PARTNER_BANKS
from agencies.roles import group_name
from applicants.choices import (
    FOREIGN_NATIONAL_DOCUMENTS,
    INDIVIDUAL_INSURANCES,
    EmployerKind,
    EnrolmentRoute,
    IdDocumentType,
    Insurance,
)
from applicants.identity import validate_identity_document, validate_uscc
from applicants.models import Applicant, Employer, Employment, InsuranceEnrolment, RegistryRecord
from applicants.registry import COMPARED_FIELDS, compare_with_registry, get_registry
from applicants.selectors import employment_overdue_list
from demo.seed import demo_logins, seed_demo
from tests.conftest import form_login

PASSWORD = "demo-test-pass"
SHANGHAI_REGIONS = {
    "310101", "310104", "310105", "310106", "310107", "310109", "310110", "310112",
    "310113", "310114", "310115", "310116", "310117", "310118", "310120", "310151",
}  # fmt: skip


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), transaction.atomic():
        counts = seed_demo(password=PASSWORD)
        yield counts
        transaction.set_rollback(True)


@pytest.fixture
def demo(seeded, db):
    return seeded


def snapshot() -> dict[str, list[dict]]:
    """Every row of every model, in full: any write shows (updated_at, a re-hashed password)."""
    rows = {}
    for model in apps.get_models(include_auto_created=True):
        rows[model._meta.label] = list(model.objects.order_by("pk").values())
    return rows


def test_the_first_run_creates_everything(demo):
    assert demo["partner_banks"] == 7
    assert demo["service_points"] >= 20
    assert demo["applicants"] >= 190
    assert demo["registry_records"] == demo["applicants"]
    assert demo["employers"] >= 40
    assert demo["users"] == len(demo_logins())


def test_a_second_run_changes_nothing(demo):
    before = snapshot()
    out = io.StringIO()

    call_command("seed_demo", stdout=out)
    counts = seed_demo(password="another-password")

    assert snapshot() == before
    assert set(counts.values()) == {0}
    assert "Nothing to create" in out.getvalue()


def test_a_rerun_creates_only_what_is_missing_with_the_given_password(demo):
    # A user with no card history (a user who acted on a card cannot be deleted: PROTECT).
    username = "mc-qp-supervisor"
    get_user_model().objects.get(username=username).delete()
    before = set(get_user_model().objects.values_list("pk", "password"))

    call_command("seed_demo", "--password", "new-pass-2026", stdout=io.StringIO())

    recreated = get_user_model().objects.get(username=username)
    assert recreated.check_password("new-pass-2026")
    assert recreated.staff.role == StaffRole.SUPERVISOR
    assert set(get_user_model().objects.exclude(pk=recreated.pk).values_list("pk", "password")) == (
        before
    )


def test_the_command_prints_the_logins_and_the_password(demo):
    out = io.StringIO()
    call_command("seed_demo", "--password", PASSWORD, stdout=out)
    text = out.getvalue()
    assert PASSWORD in text
    for username in ("admin", "clerk", "supervisor", "clerk2", "hotline", "bo-icbc-hp-clerk"):
        assert f"  {username} " in text
    assert "CC-XH-CHJ 徐汇区漕河泾街道社区事务受理服务中心" in text


def test_refused_when_demo_data_is_off(demo, settings):
    settings.SEED_DEMO_DATA = False
    before = snapshot()
    with pytest.raises(CommandError, match="SEED_DEMO_DATA"):
        call_command("seed_demo", stdout=io.StringIO())
    with pytest.raises(ImproperlyConfigured):
        seed_demo(password=PASSWORD)
    assert snapshot() == before


def test_the_seven_partner_banks_each_with_an_outlet(demo):
    banks = {b.code: b for b in PartnerBank.objects.all()}
    assert set(banks) == {"BOSC", "SPDB", "SRCB", "ICBC", "ABC", "CCB", "PSBC"}
    for code, name_zh, name_en in PARTNER_BANKS:
        assert (banks[code].name_zh, banks[code].name_en) == (name_zh, name_en)
        assert banks[code].outlets.filter(kind=ServicePointKind.BANK_OUTLET).exists()


def test_service_points_of_every_kind_across_the_districts(demo):
    points = list(ServicePoint.objects.all())
    assert len(points) >= 20
    assert {p.kind for p in points} == set(ServicePointKind.values)
    assert len({p.district for p in points}) >= 10
    for point in points:
        assert point.name and point.address and point.phone and point.opening_hours
        assert (point.bank is not None) == (point.kind == ServicePointKind.BANK_OUTLET)
    hotline = ServicePoint.objects.get(kind=ServicePointKind.HOTLINE)
    assert hotline.phone == "12333"
    assert ServicePoint.objects.filter(name="徐汇区漕河泾街道社区事务受理服务中心").exists()


def test_the_demo_logins_have_their_roles_groups_and_workplaces(demo):
    users = {u.username: u for u in get_user_model().objects.select_related("staff__service_point")}
    admin = users["admin"]
    assert admin.is_superuser and admin.is_staff

    clerk, supervisor = users["clerk"].staff, users["supervisor"].staff
    clerk2, hotline = users["clerk2"].staff, users["hotline"].staff
    assert (clerk.role, supervisor.role) == (StaffRole.CLERK, StaffRole.SUPERVISOR)
    assert clerk.service_point == supervisor.service_point
    assert clerk.service_point.kind == ServicePointKind.COMMUNITY_CENTER
    assert clerk2.role == StaffRole.CLERK
    assert clerk2.service_point.kind == ServicePointKind.COMMUNITY_CENTER
    assert clerk2.service_point != clerk.service_point
    assert hotline.role == StaffRole.HOTLINE_OPERATOR
    assert hotline.service_point.kind == ServicePointKind.HOTLINE

    for point in ServicePoint.objects.exclude(
        pk__in=[clerk.service_point_id, hotline.service_point_id]
    ):
        prefix = point.code.lower()
        assert users[f"{prefix}-clerk"].staff.service_point == point
        assert users[f"{prefix}-clerk"].staff.role == StaffRole.CLERK
        assert users[f"{prefix}-supervisor"].staff.service_point == point
        assert users[f"{prefix}-supervisor"].staff.role == StaffRole.SUPERVISOR

    for staff in Staff.objects.select_related("user"):
        assert staff.user.is_staff
        groups = set(staff.user.groups.values_list("name", flat=True))
        assert groups == {group_name(staff.role)}
        assert staff.user.check_password(PASSWORD)


@pytest.mark.parametrize(
    "username", ["admin", "clerk", "supervisor", "clerk2", "hotline", "bo-icbc-hp-supervisor"]
)
def test_the_demo_logins_can_use_the_admin(demo, username):
    client = Client()
    assert form_login(client, username, PASSWORD).status_code == 302
    assert client.get("/admin/").status_code == 200


def test_a_clerk_sees_people_masked_and_finds_one_by_exact_number(demo):
    client = Client()
    form_login(client, "clerk", PASSWORD)
    # A clerk lists the people of their own point's work (cards.PointPerson).
    person = Applicant.objects.filter(
        id_type=IdDocumentType.RESIDENT_ID,
        point_links__service_point__staff__user__username="clerk",
    ).first()

    listing = client.get("/admin/applicants/applicant/").content.decode()
    assert person.id_number_masked in listing
    assert person.id_number not in listing
    assert person.name not in listing

    # Found by the exact number, posted to the counter (never in a URL).
    found = client.post("/admin/cards/card/counter/", {"q": person.id_number.lower()})
    assert found.context["found"].person == person
    partial = client.post("/admin/cards/card/counter/", {"q": person.id_number[:10]})
    assert partial.context["found"].person is None


@pytest.mark.parametrize(
    "url",
    [
        "/admin/agencies/partnerbank/",
        "/admin/agencies/servicepoint/?kind=bank_outlet",
        "/admin/agencies/staff/",
        "/admin/applicants/applicant/",
        "/admin/applicants/employer/",
        "/admin/applicants/employment/?registration=overdue",
        "/admin/applicants/employment/?registration=late",
        "/admin/applicants/registryrecord/",
        "/admin/common/calendaryear/",
    ],
)
def test_the_admin_lists_the_demo_data(demo, url):
    client = Client()
    form_login(client, "admin", PASSWORD)
    response = client.get(url)
    assert response.status_code == 200
    assert response.context["cl"].result_count > 0


def test_the_admin_change_pages_render(demo):
    client = Client()
    form_login(client, "admin", PASSWORD)
    applicant = Applicant.objects.filter(employments__registered_on__isnull=False).first()
    page = client.get(f"/admin/applicants/applicant/{applicant.pk}/change/").content.decode()
    assert applicant.employments.first().employer.name in page
    employment = Employment.objects.first()
    assert client.get(f"/admin/applicants/employment/{employment.pk}/change/").status_code == 200
    assert client.get("/admin/common/calendaryear/2026/change/").status_code == 200


def test_people_have_valid_documents_of_every_kind(demo):
    applicants = list(Applicant.objects.all())
    assert len(applicants) >= 190
    assert {a.id_type for a in applicants} == set(IdDocumentType.values)
    for a in applicants:
        facts = validate_identity_document(a.id_type, a.id_number)
        assert facts.number == a.id_number
        assert a.name and a.phone and a.address
        if a.shanghai_hukou:
            assert a.id_type == IdDocumentType.RESIDENT_ID
            assert a.id_number[:6] in SHANGHAI_REGIONS
            assert a.hukou_place.startswith("上海市")
        if a.is_foreign_national:
            assert a.nationality != "CHN"
    foreign = [a for a in applicants if a.id_type == IdDocumentType.PASSPORT]
    assert len(foreign) >= 3
    assert {"USA", "JPN", "KOR", "DEU", "FRA"} <= {a.nationality for a in foreign}
    assert sum(a.id_type == IdDocumentType.HMT_RESIDENCE_PERMIT for a in applicants) >= 3
    non_hukou_residents = [
        a for a in applicants if a.id_type == IdDocumentType.RESIDENT_ID and not a.shanghai_hukou
    ]
    assert len(non_hukou_residents) >= 20
    assert all(not a.id_number.startswith("31") for a in non_hukou_residents)


def test_employers_have_valid_codes_of_several_kinds(demo):
    employers = list(Employer.objects.all())
    assert len(employers) >= 40
    assert len({e.kind for e in employers}) >= 4
    assert EmployerKind.ENTERPRISE in {e.kind for e in employers}
    for employer in employers:
        assert validate_uscc(employer.uscc) == employer.uscc


def test_employments_registered_on_time_late_overdue_and_not_yet_due(demo):
    employments = list(Employment.objects.all())
    on_time = [
        e for e in employments if e.registered_on and e.registered_on <= e.registration_deadline
    ]
    late = [e for e in employments if e.registered_on and e.registered_on > e.registration_deadline]
    assert len(on_time) >= 50
    assert len(late) >= 3
    assert employment_overdue_list().count() >= 3
    assert Employment.objects.filter(registered_on__isnull=True).count() > (
        employment_overdue_list().count()
    )


def test_enrolments_follow_the_policy(demo):
    individual = InsuranceEnrolment.objects.filter(route=EnrolmentRoute.INDIVIDUAL)
    assert individual.exists()
    for enrolment in individual.select_related("applicant"):
        assert enrolment.insurance in INDIVIDUAL_INSURANCES
        assert enrolment.applicant.shanghai_hukou
        assert enrolment.employment is None
    via_employer = InsuranceEnrolment.objects.filter(route=EnrolmentRoute.EMPLOYER)
    assert set(via_employer.values_list("insurance", flat=True)) == set(Insurance.values)
    for enrolment in via_employer.select_related("employment"):
        assert enrolment.employment.applicant_id == enrolment.applicant_id
        assert enrolment.employment.registered_on is not None
    # Foreign nationals and HK/Macao/Taiwan residents are insured through their employer only.
    outsiders = Applicant.objects.filter(
        id_type__in=[*FOREIGN_NATIONAL_DOCUMENTS, IdDocumentType.HMT_RESIDENCE_PERMIT]
    )
    assert not InsuranceEnrolment.objects.filter(
        applicant__in=outsiders, route=EnrolmentRoute.INDIVIDUAL
    ).exists()
    assert not InsuranceEnrolment.objects.filter(
        applicant__shanghai_hukou=False, route=EnrolmentRoute.INDIVIDUAL
    ).exists()


def test_every_person_has_a_registry_record_and_five_differ(demo):
    registry = get_registry()
    differing = []
    for applicant in Applicant.objects.all():
        entry = registry.lookup(applicant.id_type, applicant.id_number)
        assert entry is not None, applicant
        form = {name: getattr(applicant, name) for name in COMPARED_FIELDS}
        differences = compare_with_registry(form, entry)
        if differences:
            differing.append({d.field for d in differences})
    assert len(differing) == 5
    assert all(fields in ({"name"}, {"hukou_place"}) for fields in differing)
    assert RegistryRecord.objects.count() == Applicant.objects.count()


def test_demo_cards_cover_every_state_through_the_services(demo):
    from cards.choices import CardStatus
    from cards.models import Card, CardTransition

    assert set(Card.objects.values_list("status", flat=True)) == set(CardStatus.values)
    for card in Card.objects.all():
        rows = list(card.transitions.order_by("id").values_list("from_status", "to_status"))
        assert rows[0] == ("", CardStatus.APPLIED)  # each card begins with its submission
        for (_, previous_to), (next_from, _) in itertools.pairwise(rows):
            assert next_from == previous_to
        assert rows[-1][1] == card.status
    assert not CardTransition.objects.filter(card__isnull=True).exists()
