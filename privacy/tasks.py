"""The retention schedule, run daily by beat (privacy/retention.py): people past their period are
anonymised, then the personal-data logs past theirs are deleted."""

from celery import shared_task

from privacy.retention import anonymise_past_retention, purge_expired_logs


@shared_task(name="privacy.tasks.anonymise_past_retention", soft_time_limit=900, time_limit=960)
def anonymise_past_retention_task() -> dict[str, int]:
    done = anonymise_past_retention(time_budget=600.0)
    return {**done, **purge_expired_logs(time_budget=120.0)}
