"""Housekeeping of what every app shares."""

from __future__ import annotations

from celery import shared_task

from common.idempotency import idempotency_keys_purge


@shared_task(acks_late=True, ignore_result=True)
def purge_idempotency_keys() -> int:
    """Delete Idempotency-Keys older than IDEMPOTENCY_KEY_TTL (24 hours)."""
    return idempotency_keys_purge()
