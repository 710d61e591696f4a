import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext

from agencies.choices import ServicePointKind, StaffRole
from agencies.models import Staff
from agencies.roles import group_name
from agencies.services import staff_assign, staff_remove
from common.errors import ApplicationError
from tests.conftest import staff_login
from tests.factories import PartnerBankFactory, ServicePointFactory, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db

ROLE_GROUPS = {group_name(role) for role in StaffRole.values}


def groups_of(user) -> set[str]:
    return set(user.groups.values_list("name", flat=True))


def test_assign_makes_a_staff_member_in_the_role_group_who_can_use_the_admin():
    user = UserFactory(is_staff=False)
    point = ServicePointFactory(kind=ServicePointKind.COMMUNITY_CENTER)

    staff = staff_assign(user=user, role=StaffRole.CLERK, service_point=point)

    row = Staff.objects.get(user=user)
    assert (row.pk, row.role, row.service_point, row.bank) == (staff.pk, "clerk", point, None)
    user.refresh_from_db()
    assert user.is_staff
    assert groups_of(user) == {group_name(StaffRole.CLERK)}
    # The group carries the role's permissions (agencies.roles.ROLE_PERMISSIONS).
    assert user.has_perm("applicants.view_applicant")
    assert not user.has_perm("agencies.view_staff")


def test_reassign_updates_the_one_row_and_swaps_the_role_group_keeping_other_groups():
    user = UserFactory()
    first, second = ServicePointFactory(), ServicePointFactory()
    auditors = Group.objects.create(name="auditors")
    user.groups.add(auditors)
    clerk = staff_assign(user=user, role=StaffRole.CLERK, service_point=first)

    supervisor = staff_assign(user=user, role=StaffRole.SUPERVISOR, service_point=second)

    assert supervisor.pk == clerk.pk
    assert Staff.objects.filter(user=user).count() == 1
    row = Staff.objects.get(user=user)
    assert (row.role, row.service_point) == (StaffRole.SUPERVISOR, second)
    assert groups_of(user) == {group_name(StaffRole.SUPERVISOR), "auditors"}
    assert user.has_perm("agencies.view_staff")


def test_a_stale_role_group_is_removed():
    user = UserFactory()
    user.groups.add(
        Group.objects.get(name=group_name(StaffRole.SUPERVISOR)),
        Group.objects.get(name=group_name(StaffRole.HOTLINE_OPERATOR)),
    )
    staff_assign(user=user, role=StaffRole.CLERK, service_point=ServicePointFactory())
    assert groups_of(user) & ROLE_GROUPS == {group_name(StaffRole.CLERK)}


def test_assign_at_a_bank():
    bank = PartnerBankFactory(code="ICBC")
    user = UserFactory()
    staff = staff_assign(user=user, role=StaffRole.SUPERVISOR, bank=bank)
    row = Staff.objects.get(pk=staff.pk)
    assert (row.bank, row.service_point, row.workplace) == (bank, None, bank)


def test_moving_from_a_service_point_to_a_bank_clears_the_point():
    user = UserFactory()
    staff_assign(user=user, role=StaffRole.CLERK, service_point=ServicePointFactory())
    bank = PartnerBankFactory()
    staff_assign(user=user, role=StaffRole.CLERK, bank=bank)
    row = Staff.objects.get(user=user)
    assert (row.service_point, row.bank) == (None, bank)


def test_a_hotline_operator_at_the_hotline():
    hotline = ServicePointFactory(kind=ServicePointKind.HOTLINE)
    user = UserFactory()
    staff_assign(user=user, role=StaffRole.HOTLINE_OPERATOR, service_point=hotline)
    assert Staff.objects.get(user=user).service_point == hotline
    assert groups_of(user) == {group_name(StaffRole.HOTLINE_OPERATOR)}


def test_assigning_again_as_before_writes_nothing():
    user = UserFactory()
    point = ServicePointFactory()
    staff_assign(user=user, role=StaffRole.CLERK, service_point=point)
    with CaptureQueriesContext(connection) as queries:
        staff_assign(user=user, role=StaffRole.CLERK, service_point=point)
    writes = [q["sql"] for q in queries if q["sql"].split()[0] in {"INSERT", "UPDATE", "DELETE"}]
    assert writes == []


@pytest.mark.parametrize(
    ("role", "workplace", "field"),
    [
        (StaffRole.CLERK, "nowhere", "service_point"),
        (StaffRole.CLERK, "point_and_bank", "bank"),
        ("cashier", "community_center", "role"),
        (StaffRole.HOTLINE_OPERATOR, "community_center", "service_point"),
        (StaffRole.HOTLINE_OPERATOR, "bank", "service_point"),
    ],
)
def test_refused_assignments_name_the_field_and_change_nothing(role, workplace, field):
    user = UserFactory(is_staff=False)
    point = ServicePointFactory(kind=ServicePointKind.COMMUNITY_CENTER)
    bank = PartnerBankFactory()
    where = {
        "nowhere": {},
        "point_and_bank": {"service_point": point, "bank": bank},
        "community_center": {"service_point": point},
        "bank": {"bank": bank},
    }[workplace]

    with pytest.raises(ApplicationError) as exc:
        staff_assign(user=user, role=role, **where)

    assert exc.value.code == "invalid"
    assert list(exc.value.details) == [field]
    assert exc.value.details[field] == [exc.value.message]
    assert not Staff.objects.filter(user=user).exists()
    user.refresh_from_db()
    assert not user.is_staff
    assert groups_of(user) == set()


def test_a_refused_reassignment_keeps_the_current_one():
    staff = StaffFactory(role=StaffRole.CLERK)
    staff_assign(user=staff.user, role=StaffRole.CLERK, service_point=staff.service_point)
    with pytest.raises(ApplicationError):
        staff_assign(
            user=staff.user, role=StaffRole.HOTLINE_OPERATOR, service_point=staff.service_point
        )
    staff.refresh_from_db()
    assert staff.role == StaffRole.CLERK
    assert groups_of(staff.user) == {group_name(StaffRole.CLERK)}


# --- The admin edge calls the service ---------------------------------------------------------


@pytest.fixture
def admin_client_logged_in(client):
    return staff_login(client, UserFactory(is_superuser=True, is_staff=True))


def test_adding_staff_in_the_admin_puts_the_user_in_the_role_group(admin_client_logged_in):
    user = UserFactory(is_staff=False)
    point = ServicePointFactory()
    response = admin_client_logged_in.post(
        "/admin/agencies/staff/add/",
        {"user": user.pk, "role": StaffRole.SUPERVISOR, "service_point": point.pk, "bank": ""},
    )
    assert response.status_code == 302, response.content.decode()
    user.refresh_from_db()
    assert user.is_staff
    assert groups_of(user) == {group_name(StaffRole.SUPERVISOR)}
    assert Staff.objects.get(user=user).service_point == point


def test_the_admin_shows_the_services_refusal(admin_client_logged_in):
    user = UserFactory(is_staff=False)
    point = ServicePointFactory(kind=ServicePointKind.COMMUNITY_CENTER)
    response = admin_client_logged_in.post(
        "/admin/agencies/staff/add/",
        {"user": user.pk, "role": StaffRole.HOTLINE_OPERATOR, "service_point": point.pk},
        headers={"accept-language": "en"},
    )
    assert response.status_code == 200
    assert "hotline operator works at a service point of kind hotline" in response.content.decode()
    assert not Staff.objects.filter(user=user).exists()


def test_changing_a_role_in_the_admin_swaps_the_group(admin_client_logged_in):
    staff = StaffFactory(role=StaffRole.CLERK)
    staff_assign(user=staff.user, role=StaffRole.CLERK, service_point=staff.service_point)
    response = admin_client_logged_in.post(
        f"/admin/agencies/staff/{staff.pk}/change/",
        {"role": StaffRole.SUPERVISOR, "service_point": staff.service_point.pk, "bank": ""},
    )
    assert response.status_code == 302, response.content.decode()
    assert groups_of(staff.user) == {group_name(StaffRole.SUPERVISOR)}


# --- Removing a staff member --------------------------------------------------------------------


def test_removing_staff_takes_the_user_out_of_the_role_group_and_the_admin(client):
    user = UserFactory(is_staff=False)
    auditors = Group.objects.create(name="auditors")
    user.groups.add(auditors)
    staff = staff_assign(user=user, role=StaffRole.SUPERVISOR, service_point=ServicePointFactory())
    staff_login(client, user)
    assert client.get("/admin/").status_code == 200

    staff_remove(staff=staff)

    assert not Staff.objects.filter(user=user).exists()
    user.refresh_from_db()
    assert not user.is_staff
    assert groups_of(user) == {"auditors"}
    assert not user.has_perm("agencies.view_staff")
    # The session they had open no longer opens the admin.
    assert client.get("/admin/").status_code == 302


def test_a_removed_superuser_keeps_the_admin():
    user = UserFactory(is_superuser=True, is_staff=True)
    staff = staff_assign(user=user, role=StaffRole.CLERK, service_point=ServicePointFactory())
    staff_remove(staff=staff)
    user.refresh_from_db()
    assert user.is_staff and not Staff.objects.filter(user=user).exists()
    assert groups_of(user) == set()


def test_deleting_staff_in_the_admin_goes_through_the_service(admin_client_logged_in):
    user = UserFactory(is_staff=False)
    staff = staff_assign(user=user, role=StaffRole.CLERK, service_point=ServicePointFactory())
    response = admin_client_logged_in.post(
        f"/admin/agencies/staff/{staff.pk}/delete/", {"post": "yes"}
    )
    assert response.status_code == 302, response.content.decode()
    user.refresh_from_db()
    assert not user.is_staff and groups_of(user) == set()


def test_deleting_several_in_the_admin_removes_each(admin_client_logged_in):
    users = [UserFactory(is_staff=False) for _ in range(2)]
    rows = [
        staff_assign(user=user, role=StaffRole.CLERK, service_point=ServicePointFactory())
        for user in users
    ]
    response = admin_client_logged_in.post(
        "/admin/agencies/staff/",
        {"action": "delete_selected", "_selected_action": [r.pk for r in rows], "post": "yes"},
    )
    assert response.status_code == 302, response.content.decode()
    for user in users:
        user.refresh_from_db()
        assert not user.is_staff and groups_of(user) == set()
