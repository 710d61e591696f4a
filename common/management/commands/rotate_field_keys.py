"""Re-encrypt every encrypted column under the current key (the first of FIELD_ENCRYPTION_KEYS)
and recompute every blind index (README, "Security: keys and rotation").

    manage.py rotate_field_keys [--batch-size N] [--table T --after-id ID] [--append-only]

Batches of N rows by primary key, each its own transaction: a run that stops (or is stopped)
resumes by running again, or from the id it printed last with --table/--after-id. Rows already
under the current key are read and skipped. The append-only transition log is rotated only with
--append-only, which needs the database owner's connection (its triggers refuse the service role's
UPDATE): until then keep the old key configured, as it still opens the log's older values.
"""

from __future__ import annotations

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from common import crypto
from common.reencrypt import plans, reencrypt_batch


class Command(BaseCommand):
    help = "Re-encrypt the encrypted columns under the current field key, in resumable batches."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--batch-size", type=int, default=2000)
        parser.add_argument("--table", help="only this table (with --after-id: resume it)")
        parser.add_argument("--after-id", type=int, default=0)
        parser.add_argument(
            "--append-only",
            action="store_true",
            help="also the append-only tables (run as the database owner)",
        )

    def handle(self, *args, batch_size: int, table: str | None, after_id: int, **options):
        try:
            ring = crypto.keyring()
        except crypto.KeyConfigurationError as exc:
            raise CommandError(str(exc)) from exc
        append_only = set(getattr(settings, "DB_APPEND_ONLY_TABLES", []))
        todo = [
            plan
            for plan in plans(apps.get_models())
            if (table is None or plan.table == table)
            and (options["append_only"] or plan.table not in append_only)
        ]
        if table is not None and not todo:
            raise CommandError(f"No encrypted columns in table {table!r} (or it is append-only).")
        total = 0
        for plan in todo:
            self.stdout.write(f"{plan.table}: {', '.join(plan.columns)}")
            last: int | None = after_id
            while last is not None:
                with transaction.atomic(), connection.cursor() as cursor:
                    if plan.table in append_only:
                        cursor.execute(f'ALTER TABLE "{plan.table}" DISABLE TRIGGER USER')
                    last, written = reencrypt_batch(
                        cursor, plan, ring=ring, batch_size=batch_size, after_id=last
                    )
                    if plan.table in append_only:
                        cursor.execute(f'ALTER TABLE "{plan.table}" ENABLE TRIGGER USER')
                total += written
                if last is not None:
                    self.stdout.write(
                        f"  {plan.table} after id {last}: {written} rows re-encrypted"
                    )
        self.stdout.write(
            f"re-encrypted {total} rows under key {ring.current.kid} ({ring.current.algorithm})"
        )
