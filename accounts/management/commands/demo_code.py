"""The current authenticator code of a demo login (local and test settings only)."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django_otp.oath import TOTP

from accounts.services import two_factor_device


class Command(BaseCommand):
    help = (
        "Print the 6-digit code a demo login's authenticator app would show now, for `make run` "
        "without a phone. Refused where demo data is (production: SEED_DEMO_DATA off)."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, username, **options):
        if not settings.SEED_DEMO_DATA:
            raise CommandError(
                "Refused: demo codes only where demo data is allowed (not production)."
            )
        user = get_user_model().objects.filter(username=username).first()
        device = two_factor_device(user) if user else None
        if device is None:
            raise CommandError(
                f"{username!r} has no authenticator: run seed_demo or two_factor_reset."
            )
        totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
        self.stdout.write(f"{totp.token():0{device.digits}d}")
