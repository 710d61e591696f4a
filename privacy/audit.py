"""The change audit of people, employments and enrolments: written by applicants.services in the
same transaction as the change, with the actor and channel and the values before and after.

The one place a value enters the log: `changes` keeps each field masked (what the auditor reads),
`seal()` keeps the full values, encrypted with the field cipher of the encryption at rest
(common/crypto.py), so that a wrong change can be put right (`unseal()`); nothing else writes them.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any, Protocol

from cards.choices import ActorKind, Channel
from common import crypto
from common.masking import mask_address, mask_id_number, mask_name, mask_phone
from privacy.models import PersonChange

# How each personal field is shown in the log; a field not named here is not personal (a date,
# a choice, a flag) and is shown as it is.
MASKS = {
    "name": mask_name,
    "id_number": mask_id_number,
    "phone": mask_phone,
    "address": mask_address,
    "hukou_place": mask_address,
    "registered_address": mask_address,
}


class AuditActor(Protocol):
    """Who acts (cards.actors.Actor is one): kind, user or bank, where, through which channel."""

    kind: str
    user: Any
    bank: Any
    service_point: Any
    channel: str


@dataclass(frozen=True)
class _System:
    """The system acting (a scheduled job, the demo seed): no user, no bank, no place."""

    kind: str = ActorKind.SYSTEM
    user: Any = None
    bank: Any = None
    service_point: Any = None
    channel: str = Channel.SYSTEM


SYSTEM = _System()


def _plain(value: Any) -> Any:
    if isinstance(value, datetime.date | datetime.datetime):
        return value.isoformat()
    if value is None or isinstance(value, bool | int | float):
        return value
    return str(value)


def masked(field: str, value: Any) -> Any:
    value = _plain(value)
    mask = MASKS.get(field)
    return mask(value) if mask and isinstance(value, str) else value


SEALED_CONTEXT = "person_change"


def seal(values: dict[str, list[Any]]) -> dict[str, Any]:
    """The full before/after values as stored: each field's pair encrypted with the field cipher
    (common/crypto.py), the field names readable."""
    plain = {field: [_plain(before), _plain(after)] for field, (before, after) in values.items()}
    return crypto.seal_values(plain, keys=frozenset(plain), context=SEALED_CONTEXT)


def unseal(sealed: dict[str, Any]) -> dict[str, list[Any]]:
    """The full before/after values of a sealed change (to put a wrong change right)."""
    return crypto.open_values(sealed or {}, context=SEALED_CONTEXT)


def differences(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """{field: [before, after]} for each field whose value changed."""
    return {
        field: [before.get(field), value]
        for field, value in after.items()
        if _plain(before.get(field)) != _plain(value)
    }


def person_change_record(
    *,
    actor: AuditActor | None,
    applicant_id: int,
    action: str,
    obj: Any,
    values: dict[str, list[Any]],
) -> PersonChange:
    """Write one audit row. Call it inside the change's transaction (the services do). No actor:
    the system."""
    actor = actor or SYSTEM
    return PersonChange.objects.create(
        applicant_id=applicant_id,
        action=action,
        object_type=obj._meta.model_name,
        object_id=obj.pk,
        actor_kind=actor.kind,
        user=actor.user,
        bank=actor.bank,
        service_point=actor.service_point,
        channel=actor.channel,
        changes={
            field: {"before": masked(field, before), "after": masked(field, after)}
            for field, (before, after) in values.items()
        },
        sealed=seal(values),
    )
