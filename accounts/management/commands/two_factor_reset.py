"""Enrol or reset a staff member's second factor from the server (the admin's Staff action is
the security administrator's way; this one is for the first administrator and for break-glass)."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from accounts.services import two_factor_enrol


class Command(BaseCommand):
    help = (
        "Give USERNAME a new authenticator key, replacing any they had, and print its otpauth:// "
        "URI (last line) to be scanned by their authenticator app. Show it to nobody else."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, username, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user {username!r}.")
        _device, uri = two_factor_enrol(user=user)
        self.stdout.write(f"New authenticator key for {username}; scan or type it into the app:")
        self.stdout.write(uri)
