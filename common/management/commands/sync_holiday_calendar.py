from django.core.management.base import BaseCommand

from common.workdays import seed_calendar_from_library


class Command(BaseCommand):
    help = (
        "Load the years the chinesecalendar library knows into the holiday calendar (idempotent)."
    )

    def handle(self, *args, **options):
        years = seed_calendar_from_library()
        self.stdout.write(f"Holiday calendar loaded for {min(years)}-{max(years)}.")
