"""Fill an empty database with demo data; a second run creates nothing (demo/seed.py)."""

import time
from base64 import b32encode

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django_otp.plugins.otp_totp.models import TOTPDevice

from agencies.choices import StaffRole
from agencies.models import ServicePoint
from demo.seed import demo_logins, seed_demo


class Command(BaseCommand):
    help = (
        "Create the demo partner banks, service points, logins, people, employers, employments, "
        "enrolments and registry records that are missing (idempotent). Refused in production."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--password",
            default=None,
            help="Password of the demo logins created now (default: settings.DEMO_PASSWORD).",
        )

    def handle(self, *args, **options):
        if not settings.SEED_DEMO_DATA:
            raise CommandError(
                "Refusing to create demo data: settings.SEED_DEMO_DATA is off (production). "
                "The demo logins share one published password."
            )
        password = options["password"] or settings.DEMO_PASSWORD
        if not password:
            raise CommandError("The demo password is empty: set DEMO_PASSWORD or pass --password.")

        started = time.monotonic()
        self.stdout.write("Seeding demo data:")
        counts = seed_demo(password=password, stdout=self.stdout)
        total = sum(counts.values())
        elapsed = time.monotonic() - started
        if total:
            self.stdout.write(self.style.SUCCESS(f"Created {total} rows in {elapsed:.1f} s."))
        else:
            self.stdout.write(
                self.style.SUCCESS(f"Nothing to create: the demo data is there ({elapsed:.1f} s).")
            )
        self._print_logins(password)

    def _print_logins(self, password: str) -> None:
        logins = demo_logins()
        points = {
            p.code: p
            for p in ServicePoint.objects.filter(code__in={x.point_code for x in logins if x.role})
        }
        roles = dict(StaffRole.choices)
        devices = {
            d.user.username: d
            for d in TOTPDevice.objects.filter(
                user__username__in=[x.username for x in logins], confirmed=True
            ).select_related("user")
        }
        self.stdout.write("")
        self.stdout.write(f"Demo logins for /admin/ (password {password!r}; a login that existed")
        self.stdout.write("before this run keeps its own password). The second factor: add the")
        self.stdout.write(
            "login's authenticator key to an authenticator app (TOTP, 6 digits, 30 s),"
        )
        self.stdout.write("or print the current code with `manage.py demo_code USERNAME`:")
        self.stdout.write(
            f"  {'username':<24} {'role':<24} {'authenticator key':<34} service point"
        )
        for login in logins:
            role = str(roles[login.role]) if login.role else "superuser"
            point = points.get(login.point_code)
            where = f"{point.code} {point.name}" if point else "-"
            device = devices.get(login.username)
            key = b32encode(device.bin_key).decode() if device else "-"
            self.stdout.write(f"  {login.username:<24} {role:<24} {key:<34} {where}")
