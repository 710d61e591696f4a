from django.core.management.base import BaseCommand

from cards.schedule import SCHEDULE, sync_beat_schedule


class Command(BaseCommand):
    help = "Create or update the Celery beat schedule (cards/schedule.py); idempotent."

    def handle(self, *args, **options):
        changed = sync_beat_schedule()
        self.stdout.write(
            f"Beat schedule: {len(SCHEDULE)} entries, {len(changed)} created or updated."
        )
