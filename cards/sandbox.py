"""A partner bank's sandbox: test cards an integrator moves through the lifecycle's states
without touching a real card (`manage.py create_bank_key CODE --sandbox`, `/api/v1/sandbox/`).

Sandbox cards live in their own table (cards.models.SandboxCard): nothing the real services
write (the transition log, the outbox and the bank's webhooks, the card center's notices, the
dashboard's counts, the clerks' scope) ever sees one, and a real key is refused on the sandbox's
endpoints, so a real key never sees a sandbox card and a sandbox key never a real one.

The states and transitions are the real ones (PRODUCT.md, "The card lifecycle"): `advance` takes
the next transition of the happy path (applied, verified, ready for collection, issued) or any
transition the lifecycle allows from the card's state, by name.
"""

from __future__ import annotations

import secrets

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from agencies.models import PartnerBank
from cards.choices import CardStatus, CardType, TransitionName
from cards.events import event_time
from cards.models import SandboxCard
from common.errors import ApplicationError

S = CardStatus
T = TransitionName

# From each state, the transitions the lifecycle allows and where they lead; the first is the
# happy path's next step (what `advance` takes when no transition is named).
LIFECYCLE: dict[str, tuple[tuple[str, str], ...]] = {
    S.APPLIED: ((T.VERIFY, S.VERIFIED), (T.REJECT, S.REJECTED), (T.WITHDRAW, S.WITHDRAWN)),
    S.VERIFIED: ((T.MARK_READY, S.READY_FOR_COLLECTION), (T.WITHDRAW, S.WITHDRAWN)),
    S.READY_FOR_COLLECTION: ((T.HAND_OVER, S.ISSUED),),
    S.ISSUED: (
        (T.REPORT_LOST_BY_PHONE, S.PHONE_REPORTED_LOST),
        (T.REPORT_LOST_IN_WRITING, S.WRITTEN_LOST),
    ),
    S.PHONE_REPORTED_LOST: (
        (T.REPORT_LOST_IN_WRITING, S.WRITTEN_LOST),
        (T.LAPSE_PHONE_REPORT, S.ISSUED),
        (T.WITHDRAW_LOSS_REPORT, S.ISSUED),
    ),
    S.WRITTEN_LOST: (
        (T.EXPIRE_WRITTEN_REPORT, S.CANCELLED),
        (T.REPLACE, S.REPLACED),
        (T.WITHDRAW_LOSS_REPORT, S.ISSUED),
    ),
}


def sandbox_card_create(
    *, bank: PartnerBank, card_type: str = CardType.SOCIAL_SECURITY
) -> SandboxCard:
    """A new test card of `bank`, applied for now, with a fictitious holder."""
    now = timezone.now()
    return SandboxCard.objects.create(
        bank=bank,
        card_type=card_type,
        receipt_number=f"SBX{secrets.randbelow(10**12):012d}",
        holder_name=_("Sandbox holder"),
        created_at=now,
        updated_at=now,
        history=[{"transition": T.SUBMIT, "from": "", "to": S.APPLIED, "at": event_time(now)}],
    )


def sandbox_card_next(card: SandboxCard) -> list[str]:
    """The transitions the lifecycle allows from the card's state, the happy path's first."""
    return [name for name, _to in LIFECYCLE.get(card.status, ())]


def sandbox_card_advance(*, card: SandboxCard, transition: str | None = None) -> SandboxCard:
    """Move a test card on by one transition: `transition`, or the happy path's next step.
    A transition the state does not allow is 409 `transition_not_allowed`, naming those it
    allows, as the real endpoints answer."""
    with transaction.atomic():
        card = SandboxCard.objects.select_for_update().get(pk=card.pk)
        allowed = dict(LIFECYCLE.get(card.status, ()))
        name = transition or next(iter(allowed), None)
        if name not in allowed:
            raise ApplicationError(
                _("Not allowed for a card in the state %(status)s: %(transition)s.")
                % {"status": S(card.status).label, "transition": name or "-"},
                code="transition_not_allowed",
                details={"status": card.status, "transition": name or "", "allowed": list(allowed)},
                status=409,
            )
        now = timezone.now()
        from_status, card.status = card.status, allowed[name]
        if name == T.MARK_READY:
            card.card_number = f"SBX{secrets.randbelow(10**12):012d}"
        card.updated_at = now
        card.history = [
            *card.history,
            {"transition": name, "from": from_status, "to": card.status, "at": event_time(now)},
        ]
        card.save(update_fields=["status", "card_number", "updated_at", "history"])
    return card
