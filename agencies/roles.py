"""Staff roles as Django groups: which model permissions each role has, in one table.

A migration creates the groups from this table (`sync_role_groups`); a later migration that adds
models or permissions calls it again. A staff member's user is put in the group of their role
(agencies.services.staff_assign).
"""

from __future__ import annotations

from agencies.choices import StaffRole


def _crud(app_label: str, model: str) -> tuple[str, ...]:
    return tuple(f"{app_label}.{action}_{model}" for action in ("view", "add", "change", "delete"))


# "app_label.codename" for each role. Object-level scope (own service point) is enforced by the
# selectors and the admin, not by these model permissions.
ROLE_PERMISSIONS: dict[str, tuple[str, ...]] = {
    StaffRole.CLERK: (
        "applicants.view_applicant",
        "applicants.add_applicant",
        "applicants.change_applicant",
        "applicants.view_employer",
        "applicants.view_employment",
        "applicants.view_insuranceenrolment",
        "agencies.view_servicepoint",
        "agencies.view_partnerbank",
        "cards.view_card",
        "cards.view_cardtransition",
        "cards.reveal_id_number",
    ),
    StaffRole.SUPERVISOR: (
        "applicants.view_applicant",
        "applicants.add_applicant",
        "applicants.change_applicant",
        "applicants.view_employer",
        "applicants.view_employment",
        "applicants.view_insuranceenrolment",
        "agencies.view_servicepoint",
        "agencies.view_partnerbank",
        "agencies.view_staff",
        "cards.view_card",
        "cards.view_cardtransition",
        "cards.reveal_id_number",
        # What has (not yet) reached the municipal information service center and the banks.
        "cards.view_cardcenternotice",
        "cards.view_cardcenterreceipt",
        # The holiday calendar is managed by superusers; a supervisor checks it.
        "common.view_calendaryear",
        "common.view_calendarday",
    ),
    StaffRole.HOTLINE_OPERATOR: ("cards.view_card",),
    # Schedules, reference data and the holiday calendar; no person, card or log.
    StaffRole.SYSTEM_ADMINISTRATOR: (
        *_crud("django_celery_beat", "periodictask"),
        *_crud("django_celery_beat", "crontabschedule"),
        *_crud("django_celery_beat", "intervalschedule"),
        *_crud("django_celery_beat", "clockedschedule"),
        *_crud("django_celery_beat", "solarschedule"),
        *_crud("common", "calendaryear"),
        *_crud("common", "calendarday"),
        "agencies.view_partnerbank",
        "agencies.add_partnerbank",
        "agencies.change_partnerbank",
        "agencies.view_servicepoint",
        "agencies.add_servicepoint",
        "agencies.change_servicepoint",
        # The rule sets in force (cards/rules.py), read-only.
        "cards.view_ruleset",
    ),
    # Logins, staff and their roles, partner banks' API keys, lockouts, two-factor resets; no
    # person, card or log. (A user's groups and superuser flag are not theirs to set: a role
    # comes with a staff row, agencies.services.staff_assign.)
    StaffRole.SECURITY_ADMINISTRATOR: (
        "auth.view_user",
        "auth.add_user",
        "auth.change_user",
        *_crud("agencies", "staff"),
        "agencies.view_bankapikey",
        "agencies.change_bankapikey",
        "agencies.view_servicepoint",
        "agencies.view_partnerbank",
        "axes.view_accessattempt",
        "axes.delete_accessattempt",
        # Which holder fields each bank's API answers carry (cards/api, README "partner data").
        "agencies.change_partnerbank",
        "agencies.change_data_policy",
    ),
    # Reads the logs, changes nothing: the login log, the transition log, the deliveries to the
    # partner banks and the card center, and the personal-data logs (the read log holds every
    # reveal). Not the cards or the people.
    StaffRole.AUDITOR: (
        "cards.view_cardtransition",
        "cards.audit_cardtransition",
        "cards.view_outboxevent",
        "cards.view_cardcenternotice",
        "cards.view_cardcenterreceipt",
        "accounts.view_loginevent",
        "axes.view_accessattempt",
        # Who changed a person (values masked), who read a person's full data, who was
        # anonymised (privacy/).
        "privacy.view_personchange",
        "privacy.view_personaldataaccess",
        "privacy.view_anonymisation",
    ),
}


def group_name(role: str) -> str:
    return f"role:{role}"


def sync_role_groups(apps, schema_editor=None) -> None:
    """Create or update one group per role with exactly the permissions of ROLE_PERMISSIONS.

    Usable from a migration (pass its `apps`): permissions of models created in the same migrate
    run do not exist yet, so they are created first.
    """
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, perms in ROLE_PERMISSIONS.items():
        group, _created = Group.objects.get_or_create(name=group_name(role))
        wanted = []
        for perm in perms:
            app_label, codename = perm.split(".")
            wanted.extend(
                Permission.objects.filter(content_type__app_label=app_label, codename=codename)
            )
        group.permissions.set(wanted)
