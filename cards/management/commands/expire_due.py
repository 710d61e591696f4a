from django.core.management.base import BaseCommand

from cards import sweeps
from cards.choices import TransitionName
from cards.expiry import EXPIRIES

KINDS = {
    "phone": TransitionName.LAPSE_PHONE_REPORT,
    "written": TransitionName.EXPIRE_WRITTEN_REPORT,
    "uncollected": TransitionName.CANCEL_UNCOLLECTED,
}


class Command(BaseCommand):
    help = (
        "Run the expiry sweeps once, now: lapse phone reports past 24 hours and cancel cards "
        "past their 30-day written report, and cancel cards not collected in their rule set's "
        "period. --dry-run shows what it would do."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Count, change nothing.")
        parser.add_argument(
            "--only", choices=sorted(KINDS), help="Run one sweep: phone, written or uncollected."
        )
        parser.add_argument("--batch-size", type=int, default=None)

    def handle(self, *args, dry_run=False, only=None, batch_size=None, **options):
        names = [KINDS[only]] if only else list(EXPIRIES)
        if dry_run:
            due = sweeps.due_counts()
            for name in names:
                self.stdout.write(f"{name}: {due[name]} due (dry run: nothing changed)")
            return
        for name in names:
            result = sweeps.sweep(name, batch_size=batch_size, time_budget=float("inf"))
            self.stdout.write(f"{name}: {result.expired} expired in {result.batches} batches")
