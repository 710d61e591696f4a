"""The login log's retention: rows older than LOGIN_AUDIT_RETENTION_DAYS are deleted daily."""

from celery import shared_task

from accounts.services import login_event_purge_expired


@shared_task(name="accounts.tasks.purge_login_events")
def purge_login_events() -> int:
    return login_event_purge_expired()
