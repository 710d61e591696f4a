"""Separation of duties (MLPS 2.0 level 3): each role sees and does exactly its own in the admin;
no role both acts and audits; the central roles see no person and no card."""

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from accounts.choices import LoginEventKind
from accounts.models import LoginEvent
from agencies.choices import CENTRAL_ROLES, ServicePointKind, StaffRole
from agencies.models import Staff
from agencies.roles import ROLE_PERMISSIONS, group_name
from agencies.services import staff_assign, staff_validate
from common.errors import ApplicationError
from tests.cards.conftest import eligible_person, submit
from tests.conftest import staff_login
from tests.factories import ServicePointFactory, UserFactory

pytestmark = pytest.mark.django_db
R = StaffRole

PAGES = {
    "cards": "/admin/cards/card/",
    "people": "/admin/applicants/applicant/",
    "employers": "/admin/applicants/employer/",
    "registry": "/admin/applicants/registryrecord/",
    # The one read log, its reveals (privacy.PersonalDataAccess, purpose "reveal").
    "reveal_log": "/admin/privacy/personaldataaccess/?purpose__exact=reveal",
    "transition_log": "/admin/cards/cardtransition/",
    "bank_deliveries": "/admin/cards/outboxevent/",
    "card_center_deliveries": "/admin/cards/cardcenternotice/",
    "login_log": "/admin/accounts/loginevent/",
    "lockouts": "/admin/axes/accessattempt/",
    "staff": "/admin/agencies/staff/",
    "users": "/admin/auth/user/",
    "api_keys": "/admin/agencies/bankapikey/",
    "schedules": "/admin/django_celery_beat/periodictask/",
    "calendar": "/admin/common/calendaryear/",
    "service_points": "/admin/agencies/servicepoint/",
    "banks": "/admin/agencies/partnerbank/",
    "rule_sets": "/admin/cards/ruleset/",
    "groups": "/admin/auth/group/",
    "authenticators": "/admin/otp_totp/totpdevice/",
    "person_changes": "/admin/privacy/personchange/",
    "data_accesses": "/admin/privacy/personaldataaccess/",
    "anonymisations": "/admin/privacy/anonymisation/",
}
SEES = {
    R.CLERK: {"cards", "people", "employers", "service_points", "banks"},
    R.SUPERVISOR: {
        "cards",
        "people",
        "employers",
        "service_points",
        "banks",
        "staff",
        "calendar",
        "card_center_deliveries",
    },
    R.HOTLINE_OPERATOR: {"cards"},
    R.SYSTEM_ADMINISTRATOR: {"schedules", "calendar", "service_points", "banks", "rule_sets"},
    R.SECURITY_ADMINISTRATOR: {"staff", "users", "api_keys", "lockouts", "service_points", "banks"},
    R.AUDITOR: {
        "reveal_log",
        "transition_log",
        "bank_deliveries",
        "card_center_deliveries",
        "login_log",
        "lockouts",
        "person_changes",
        "data_accesses",
        "anonymisations",
    },
}
PERSONAL = {"cards", "people", "employers", "registry"}
AUDIT = {
    "cards.audit_cardtransition",
    "cards.view_outboxevent",
    "accounts.view_loginevent",
    "privacy.view_personchange",
    "privacy.view_personaldataaccess",
}


def member(role: str, username: str | None = None):
    user = UserFactory(username=username or f"u-{role}")
    if role in CENTRAL_ROLES:
        point = None
    elif role == R.HOTLINE_OPERATOR:
        point = ServicePointFactory(kind=ServicePointKind.HOTLINE)
    else:
        point = ServicePointFactory()
    staff_assign(user=user, role=role, service_point=point)
    return user


@pytest.mark.parametrize("role", list(SEES))
def test_each_role_sees_exactly_its_own_pages(role):
    client = staff_login(Client(), member(role))
    seen = {name for name, url in PAGES.items() if client.get(url).status_code == 200}
    assert seen == SEES[role]
    for name in set(PAGES) - seen:
        assert client.get(PAGES[name]).status_code in (403, 404), name


def test_the_superuser_sees_everything_break_glass():
    client = staff_login(Client(), UserFactory(username="root", is_superuser=True))
    assert {n for n, url in PAGES.items() if client.get(url).status_code == 200} == set(PAGES)


@pytest.mark.parametrize("role", sorted(CENTRAL_ROLES))
def test_the_central_roles_see_no_person_and_no_card(role):
    """Their groups hold no permission on a person, a card or the registry (the pages are
    checked by test_each_role_sees_exactly_its_own_pages)."""
    personal_models = {"applicant", "employer", "employment", "registryrecord", "card"}
    held = set(
        Group.objects.get(name=group_name(role)).permissions.values_list("codename", flat=True)
    )
    assert not {c for c in held if c.split("_", 1)[-1] in personal_models}, held
    assert held  # the role has its own permissions: the check above looked at something


def test_no_role_both_acts_and_audits():
    for role, perms in ROLE_PERMISSIONS.items():
        audits = set(perms) & AUDIT
        acts = {p for p in perms if p.split(".")[1].startswith(("add_", "change_", "delete_"))}
        acts |= {"cards.reveal_id_number"} & set(perms)
        assert not (audits and acts), role
    auditor = Group.objects.get(name=group_name(R.AUDITOR))
    codenames = set(auditor.permissions.values_list("codename", flat=True))
    assert codenames and all(c.startswith(("view_", "audit_")) for c in codenames)


def test_the_auditor_reads_the_logs_and_changes_nothing(world):
    card = submit(world, eligible_person())
    auditor = staff_login(Client(), member(R.AUDITOR))
    transition = card.transitions.get()
    page = auditor.get(f"/admin/cards/cardtransition/{transition.pk}/change/")
    assert page.status_code == 200
    assert card.applicant.phone not in page.content.decode()
    event = LoginEvent.objects.create(kind=LoginEventKind.LOGIN, username="x")
    response = auditor.post(
        "/admin/accounts/loginevent/",
        {"action": "delete_selected", "_selected_action": [event.pk], "post": "yes"},
    )
    assert LoginEvent.objects.filter(pk=event.pk).exists()
    assert response.status_code in (200, 302, 403)
    assert auditor.get(f"/admin/cards/card/{card.pk}/change/").status_code in (403, 404)


def test_a_clerk_does_not_see_the_citys_transition_log(world):
    submit(world, eligible_person())
    world.clerk.user.groups.add(Group.objects.get(name=group_name(R.CLERK)))
    clerk = staff_login(Client(), world.clerk.user)
    assert clerk.get("/admin/cards/cardtransition/").status_code == 403


def test_a_security_administrator_cannot_make_a_superuser_or_change_themselves():
    sec_user = member(R.SECURITY_ADMINISTRATOR, "sec")
    target = member(R.CLERK, "clk")
    sec = staff_login(Client(), sec_user)
    form = sec.get(f"/admin/auth/user/{target.pk}/change/")
    assert form.status_code == 200
    assert 'name="is_superuser"' not in form.content.decode()
    sec.post(
        f"/admin/auth/user/{target.pk}/change/",
        {
            "username": "clk",
            "is_active": "on",
            "is_superuser": "on",
            "is_staff": "on",
            "groups": [g.pk for g in Group.objects.all()],
        },
    )
    target.refresh_from_db()
    assert not target.is_superuser
    assert set(target.groups.values_list("name", flat=True)) == {group_name(R.CLERK)}
    # Their own account, their own staff row and the superusers are not theirs to change.
    assert sec.get(f"/admin/auth/user/{sec_user.pk}/change/").status_code in (302, 404)
    root = UserFactory(username="root", is_superuser=True)
    assert sec.get(f"/admin/auth/user/{root.pk}/change/").status_code in (302, 404)
    own = Staff.objects.get(user=sec_user)
    response = sec.post(
        f"/admin/agencies/staff/{own.pk}/change/", {"role": R.SECURITY_ADMINISTRATOR}
    )
    assert response.status_code == 403


def test_the_security_administrator_assigns_a_central_role_without_a_workplace():
    sec = staff_login(Client(), member(R.SECURITY_ADMINISTRATOR, "sec"))
    newcomer = UserFactory(username="new-auditor", is_staff=False)
    response = sec.post(
        "/admin/agencies/staff/add/",
        {"user": newcomer.pk, "role": R.AUDITOR, "service_point": "", "bank": ""},
    )
    assert response.status_code == 302, response.content.decode()
    assert Staff.objects.get(user=newcomer).workplace is None
    with pytest.raises(ApplicationError, match="municipal center"):
        staff_validate(role=R.AUDITOR, service_point=ServicePointFactory())


ADD_PAGES = {
    "calendar": "/admin/common/calendaryear/add/",
    "schedules": "/admin/django_celery_beat/periodictask/add/",
    "service_points": "/admin/agencies/servicepoint/add/",
    "banks": "/admin/agencies/partnerbank/add/",
    "staff": "/admin/agencies/staff/add/",
    "users": "/admin/auth/user/add/",
}
ADDS = {
    R.CLERK: set(),
    R.SUPERVISOR: set(),
    R.HOTLINE_OPERATOR: set(),
    R.SYSTEM_ADMINISTRATOR: {"calendar", "schedules", "service_points", "banks"},
    R.SECURITY_ADMINISTRATOR: {"staff", "users"},
    R.AUDITOR: set(),
}


@pytest.mark.parametrize("role", list(ADDS))
def test_each_role_adds_exactly_its_own(role):
    client = staff_login(Client(), member(role))
    adds = {name for name, url in ADD_PAGES.items() if client.get(url).status_code == 200}
    assert adds == ADDS[role]


def test_the_security_administrator_revokes_a_banks_key_and_the_auditor_cannot(world):
    from agencies.models import BankApiKey
    from agencies.services import bank_api_key_create

    api_key, _key = bank_api_key_create(bank=world.bank)
    action = {"action": "revoke", "_selected_action": [api_key.pk]}
    auditor = staff_login(Client(), member(R.AUDITOR))
    assert auditor.post("/admin/agencies/bankapikey/", action).status_code == 403
    assert BankApiKey.objects.get(pk=api_key.pk).revoked_at is None
    sec = staff_login(Client(), member(R.SECURITY_ADMINISTRATOR, "sec"))
    assert sec.post("/admin/agencies/bankapikey/", action).status_code == 302
    assert BankApiKey.objects.get(pk=api_key.pk).revoked_at is not None


def test_the_security_administrator_sets_a_banks_data_policy_and_nothing_else(world):
    from agencies.models import PartnerBank

    bank = world.bank
    name = bank.name_zh
    client = staff_login(Client(), member(R.SECURITY_ADMINISTRATOR))
    url = f"/admin/agencies/partnerbank/{bank.pk}/change/"
    assert client.get(url).status_code == 200
    response = client.post(
        url, {"api_full_id_number": "", "api_phone": "on", "name_zh": "改名", "active": "on"}
    )
    assert response.status_code == 302, response.content[:2000]
    bank = PartnerBank.objects.get(pk=bank.pk)
    assert (bank.api_full_id_number, bank.api_phone) == (False, True)
    assert bank.name_zh == name  # the bank's reference data is not theirs to change
    form = client.get(url).content
    assert b'name="api_phone"' in form and b'name="name_zh"' not in form
    sysadmin = staff_login(Client(), member(R.SYSTEM_ADMINISTRATOR))
    form = sysadmin.get(url).content  # the bank's reference data, not the policy
    assert b'name="name_zh"' in form and b'name="api_phone"' not in form
