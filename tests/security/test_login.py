"""Logins: two factors for every staff login, lockout by username and by address, the idle
timeout, and the login log (accounts/)."""

import datetime
import io

import pytest
import time_machine
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from accounts.choices import FailureReason, LoginEventKind
from accounts.models import LoginEvent
from accounts.services import login_event_purge_expired, two_factor_device
from agencies.choices import StaffRole
from agencies.services import staff_assign
from tests.conftest import form_login, staff_login, totp_code
from tests.factories import ServicePointFactory, UserFactory

pytestmark = pytest.mark.django_db
T0 = datetime.datetime(2026, 3, 2, 9, 0, tzinfo=datetime.UTC)


def staff(role: str, username: str):
    user = UserFactory(username=username)
    point = None if role.endswith(("administrator", "auditor")) else ServicePointFactory()
    staff_assign(user=user, role=role, service_point=point)
    return user


@pytest.fixture
def people():
    return {
        "superuser": UserFactory(username="root", is_superuser=True),
        "supervisor": staff(StaffRole.SUPERVISOR, "sup"),
        "security_administrator": staff(StaffRole.SECURITY_ADMINISTRATOR, "sec"),
        "clerk": staff(StaffRole.CLERK, "clk"),
    }


def on_login_page(response) -> bool:
    return response.status_code == 302 and response["Location"].startswith("/admin/login/")


@pytest.mark.parametrize("who", ["superuser", "supervisor", "security_administrator", "clerk"])
def test_a_password_alone_never_reaches_the_admin(people, who):
    user = people[who]
    totp_code(user)  # enrolled: only the code is missing
    client = Client()
    response = form_login(client, user.username, "pw", code="")
    assert response.status_code == 200
    assert "authenticator code" in response.content.decode()
    assert on_login_page(client.get("/admin/"))

    # A session opened by the password (no verified device) is not enough either.
    client.force_login(user)
    assert on_login_page(client.get("/admin/"))
    assert client.get("/admin/agencies/staff/").status_code == 302


@pytest.mark.parametrize("who", ["superuser", "supervisor", "security_administrator"])
def test_password_and_authenticator_code_open_the_admin(people, who):
    client = Client()
    response = form_login(client, people[who].username, "pw")
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200
    event = LoginEvent.objects.get(kind=LoginEventKind.LOGIN)
    assert (event.username, event.user, event.ip_address) == (
        people[who].username,
        people[who],
        "127.0.0.1",
    )


def test_a_wrong_code_fails_counts_and_is_logged_without_saying_which_factor(people):
    user = people["supervisor"]
    right = totp_code(user)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    client = Client()
    wrong_code = form_login(client, user.username, "pw", code=wrong).content.decode()
    wrong_password = form_login(client, user.username, "nope", code=right).content.decode()
    message = "Please enter the correct username, password and authenticator code"
    assert message in wrong_code and message in wrong_password
    reasons = list(
        LoginEvent.objects.filter(kind=LoginEventKind.FAILURE)
        .order_by("id")
        .values_list("reason", flat=True)
    )
    assert reasons == [FailureReason.SECOND_FACTOR, FailureReason.CREDENTIALS]
    assert on_login_page(client.get("/admin/"))


def test_without_an_authenticator_nobody_logs_in(people):
    client = Client()
    response = form_login(client, "sup", "pw", code="123456")
    assert response.status_code == 200
    assert LoginEvent.objects.get().reason == FailureReason.NOT_ENROLLED


def test_a_code_is_used_once(people):
    user = people["supervisor"]
    code = totp_code(user)
    assert form_login(Client(), user.username, "pw", code=code).status_code == 302
    assert form_login(Client(), user.username, "pw", code=code).status_code == 200


# --- Lockout ------------------------------------------------------------------------------------


def test_a_username_is_locked_out_after_five_failures_from_any_address(people, settings):
    assert settings.AXES_FAILURE_LIMIT == 5
    with time_machine.travel(T0, tick=False):
        for n in range(5):
            client = Client(REMOTE_ADDR=f"10.0.0.{n + 1}")
            client.post("/admin/login/", {"username": "sup", "password": "wrong"})
        # Right password and code, from yet another address: still locked.
        client = Client(REMOTE_ADDR="10.0.1.1")
        response = client.post(
            "/admin/login/",
            {"username": "sup", "password": "pw", "otp_token": totp_code(people["supervisor"])},
        )
        assert response.status_code == 429
        assert "Too many failed logins" in response.content.decode()
        assert LoginEvent.objects.filter(kind=LoginEventKind.LOCKOUT, username="sup").exists()
        # Another user is not affected.
        assert form_login(Client(), "sec", "pw").status_code == 302

    # The lock ends LOGIN_LOCKOUT_MINUTES (30) after the last failure.
    with time_machine.travel(T0 + datetime.timedelta(minutes=29), tick=False):
        assert form_login(Client(), "sup", "pw").status_code == 429
    with time_machine.travel(T0 + datetime.timedelta(minutes=31), tick=False):
        assert form_login(Client(), "sup", "pw").status_code == 302


def test_an_address_is_locked_out_after_five_failures_for_any_usernames(people):
    attacker = Client(REMOTE_ADDR="203.0.113.9")
    for name in ("a", "b", "c", "d", "e"):
        attacker.post("/admin/login/", {"username": name, "password": "wrong"})
    code = totp_code(people["clerk"])
    response = attacker.post(
        "/admin/login/", {"username": "clk", "password": "pw", "otp_token": code}
    )
    assert response.status_code == 429
    # The same user from their own desk is not locked.
    assert form_login(Client(REMOTE_ADDR="10.1.1.1"), "clk", "pw").status_code == 302


def test_a_security_administrator_lifts_a_lockout(people):
    for _ in range(5):
        Client().post("/admin/login/", {"username": "sup", "password": "wrong"})
    assert form_login(Client(), "sup", "pw").status_code == 429
    sec = staff_login(Client(), people["security_administrator"])
    from axes.models import AccessAttempt

    ids = list(AccessAttempt.objects.filter(username="sup").values_list("pk", flat=True))
    response = sec.post(
        "/admin/axes/accessattempt/",
        {"action": "delete_selected", "_selected_action": ids, "post": "yes"},
    )
    assert response.status_code == 302
    assert form_login(Client(), "sup", "pw").status_code == 302


# --- Idle timeout and logout ---------------------------------------------------------------------


def test_an_idle_session_ends_after_15_minutes_and_activity_extends_it(people, settings):
    assert settings.SESSION_IDLE_MINUTES == 15
    with time_machine.travel(T0, tick=False):
        client = Client()
        assert form_login(client, "sup", "pw").status_code == 302
    with time_machine.travel(T0 + datetime.timedelta(minutes=14), tick=False):
        assert client.get("/admin/").status_code == 200  # restarts the 15 minutes
    with time_machine.travel(T0 + datetime.timedelta(minutes=28), tick=False):
        assert client.get("/admin/").status_code == 200
    with time_machine.travel(T0 + datetime.timedelta(minutes=43, seconds=1), tick=False):
        assert on_login_page(client.get("/admin/"))
    assert LoginEvent.objects.filter(kind=LoginEventKind.IDLE_TIMEOUT, username="sup").exists()


def test_logout_is_logged(people):
    client = Client()
    form_login(client, "sup", "pw")
    client.post("/admin/logout/")
    kinds = list(LoginEvent.objects.order_by("id").values_list("kind", flat=True))
    assert kinds == [LoginEventKind.LOGIN, LoginEventKind.LOGOUT]
    assert on_login_page(client.get("/admin/"))


# --- The login log: kept, reviewed, purged ------------------------------------------------------


def test_the_login_log_is_kept_for_its_retention_and_purged_after(settings):
    assert settings.LOGIN_AUDIT_RETENTION_DAYS >= 183
    now = timezone.now()
    days = settings.LOGIN_AUDIT_RETENTION_DAYS
    old = LoginEvent.objects.create(
        kind=LoginEventKind.LOGIN, username="x", at=now - datetime.timedelta(days=days, seconds=1)
    )
    kept = LoginEvent.objects.create(
        kind=LoginEventKind.LOGIN, username="y", at=now - datetime.timedelta(days=days - 1)
    )
    assert login_event_purge_expired(now=now) == 1
    assert not LoginEvent.objects.filter(pk=old.pk).exists()
    assert LoginEvent.objects.filter(pk=kept.pk).exists()


def test_the_auditor_reviews_the_login_log(people):
    form_login(Client(), "sup", "wrong", code="000000")
    auditor = staff(StaffRole.AUDITOR, "aud")
    page = staff_login(Client(), auditor).get("/admin/accounts/loginevent/")
    assert page.status_code == 200
    assert "sup" in page.content.decode()
    assert page.context["cl"].result_count >= 1
    client = staff_login(Client(), auditor)
    # The search is posted and kept in the session: a username never sits in a URL.
    assert client.get("/admin/accounts/loginevent/", {"q": "sup"}).status_code == 302
    assert client.post("/admin/accounts/loginevent/", {"posted_q": "sup"}).status_code == 302
    search = client.get("/admin/accounts/loginevent/")
    assert search.status_code == 200 and search.context["cl"].result_count >= 1
    client.post("/admin/accounts/loginevent/", {"posted_q": "x y"})
    by_address = client.get("/admin/accounts/loginevent/")
    assert by_address.status_code == 200 and by_address.context["cl"].result_count == 0


# --- Enrolment and reset ---------------------------------------------------------------------


def test_a_security_administrator_resets_someone_elses_second_factor_not_their_own(people):
    sec_user = people["security_administrator"]
    sup = people["supervisor"]
    old_code = totp_code(sup)
    old_key = two_factor_device(sup).key
    sec = staff_login(Client(), sec_user)
    response = sec.post(
        "/admin/agencies/staff/",
        {"action": "reset_two_factor", "_selected_action": [sup.staff.pk, sec_user.staff.pk]},
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "otpauth://totp/" in page and "<svg" in page
    assert "cannot reset your own second factor" in page
    assert two_factor_device(sup).key != old_key
    assert form_login(Client(), "sup", "pw", code=old_code).status_code == 200
    assert form_login(Client(), "sup", "pw").status_code == 302


def test_the_command_enrols_and_prints_the_uri_last():
    UserFactory(username="first-admin", is_superuser=True)
    out = io.StringIO()
    call_command("two_factor_reset", "first-admin", stdout=out)
    assert out.getvalue().strip().splitlines()[-1].startswith("otpauth://totp/")
    assert form_login(Client(), "first-admin", "pw").status_code == 302
