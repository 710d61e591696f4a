"""Prove the dashboard's counters equal a full count and correct them (cards.counts); with
--rebuild, first fill the scope links from the cards and the log (after a bulk load made with the
triggers off, as bench/harness.py does)."""

from django.core.management.base import BaseCommand
from django.db import connection, transaction

from cards import counts


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser):
        parser.add_argument("--rebuild", action="store_true")
        parser.add_argument(
            "--bulk",
            action="store_true",
            help="with --rebuild: triggers and row-by-row FK checks off (a superuser's session)",
        )

    def handle(self, *args, rebuild: bool = False, bulk: bool = False, **options):
        if rebuild:
            with transaction.atomic(), connection.cursor() as cursor:
                counts.rebuild(cursor, bulk=bulk)
            self.stdout.write("rebuilt the scope links and the counters")
            return
        drift = counts.reconcile_counts()
        self.stdout.write(
            f"corrected {len(drift.states)} state counters and {len(drift.days)} day counters"
        )
