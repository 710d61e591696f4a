"""The retention schedule, run daily by beat (privacy/retention.py)."""

from celery import shared_task

from privacy.retention import anonymise_past_retention


@shared_task(name="privacy.tasks.anonymise_past_retention", soft_time_limit=900, time_limit=960)
def anonymise_past_retention_task() -> dict[str, int]:
    return anonymise_past_retention(time_budget=600.0)
