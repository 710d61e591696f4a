"""The per-person data keys of crypto-shredding (common/crypto.py; README "Retention").

A person's values in the append-only transition log are sealed under a data key of their own:
random, made on first use, kept wrapped by the field key (privacy.PersonDataKey.key is an
encrypted column, so `rotate_field_keys` re-wraps it like any other). Erasing the person destroys
the key (privacy/retention.py): the log keeps its rows, and those values never open again.
"""

from __future__ import annotations

import base64

from common import crypto
from privacy.models import PersonDataKey


class PersonDataKeys:
    """common.crypto.SubjectKeyProvider over privacy.PersonDataKey: one indexed read a person.
    `model`: a migration's historical one."""

    def __init__(self, model: type[PersonDataKey] = PersonDataKey) -> None:
        self.model = model

    def for_sealing(self, subject: int) -> crypto.FieldKey | None:
        PersonDataKey = self.model
        row = PersonDataKey.objects.filter(applicant_id=subject).first()
        if row is None:
            # Two writers at once: the second's INSERT does nothing, both read the first's key.
            algorithm = crypto.keyring().current.algorithm
            PersonDataKey.objects.bulk_create(
                [PersonDataKey(applicant_id=subject, key=crypto.generate_key(algorithm))],
                ignore_conflicts=True,
            )
            row = PersonDataKey.objects.get(applicant_id=subject)
        return _unwrapped(row)

    def for_opening(self, subject: int) -> crypto.FieldKey | None:
        row = self.model.objects.filter(applicant_id=subject).first()
        return _unwrapped(row) if row is not None else None


def _unwrapped(row) -> crypto.FieldKey | None:
    if row.erased_at is not None or not row.key:
        return None
    return crypto.FieldKey(crypto.subject_key_id(row.applicant_id), base64.b64decode(row.key))
