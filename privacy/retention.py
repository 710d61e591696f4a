"""The retention schedule of personal data (PIPL art. 47: personal information is deleted or
anonymised once its purpose is served and the retention period has passed).

Two rules, run daily by beat (privacy.tasks.anonymise_past_retention; README "Retention"):

- `cardless`: a person with no card, no running or recent employment or enrolment, not searched
  or registered at a counter, and not changed for RETENTION_CARDLESS_YEARS (default 3): an
  application never made, an enquiry, a registration that led nowhere.
- `closed_cards`: a person whose every card closed (cancelled, replaced, rejected, withdrawn)
  RETENTION_CLOSED_CARD_YEARS ago (default 10), with the same conditions otherwise.

A person running an insurance (an enrolment or employment without end, or ended within the
period) is never anonymised: the insurance relationship is the purpose.

Anonymising keeps the skeleton: the person's row (every foreign key to it is PROTECT and stays),
their cards, the transition log, the audit and access logs; it empties who they were: name, phone,
address, place of household registration, the document number (replaced by `ANON<id>`, unique),
the birth date down to its year, an assigned social security number, the cards' entrusted
agents, the values the change audit kept, and their values in the append-only transition log, by
destroying the data key they were sealed under (privacy.PersonDataKey; the log's rows are not
touched).
Set-based and batched (one transaction and a few UPDATEs per batch of people, claimed with SKIP
LOCKED), idempotent (a person anonymised has an Anonymisation row and is not taken again).
"""

from __future__ import annotations

import datetime
import time

from django.conf import settings
from django.db import transaction
from django.db.models import DateField, Exists, OuterRef, Q, QuerySet, Value
from django.db.models.functions import Trunc
from django.utils import timezone

from applicants.models import Applicant, Employment, InsuranceEnrolment
from cards.choices import TERMINAL_STATES
from cards.models import Card, DeliveryCursor, PointPerson
from common import crypto
from privacy.choices import ChangeAction, RetentionRule
from privacy.models import Anonymisation, PersonalDataAccess, PersonChange, PersonDataKey


def years_before(moment: datetime.datetime, years: int) -> datetime.datetime:
    """The same instant `years` calendar years earlier (29 February: the 28th)."""
    try:
        return moment.replace(year=moment.year - years)
    except ValueError:
        return moment.replace(year=moment.year - years, day=28)


def _quiet_since(cutoff: datetime.datetime) -> Q:
    """Nothing about the person since `cutoff`: record unchanged, no insurance running or ended
    since, not anonymised yet."""
    day = timezone.localdate(cutoff)
    recent_employment = Employment.objects.filter(applicant=OuterRef("pk")).filter(
        Q(end_date__isnull=True) | Q(end_date__gte=day) | Q(start_date__gte=day)
    )
    recent_enrolment = InsuranceEnrolment.objects.filter(applicant=OuterRef("pk")).filter(
        Q(end_date__isnull=True) | Q(end_date__gte=day) | Q(start_date__gte=day)
    )
    return (
        Q(updated_at__lt=cutoff)
        & ~Exists(recent_employment)
        & ~Exists(recent_enrolment)
        & ~Exists(Anonymisation.objects.filter(applicant=OuterRef("pk")))
    )


def due_people(rule: str, now: datetime.datetime) -> QuerySet[Applicant]:
    """The people `rule` anonymises at `now`."""
    if rule == RetentionRule.CARDLESS:
        cutoff = years_before(now, settings.RETENTION_CARDLESS_YEARS)
        # A card-less person searched or registered at a counter since is not quiet.
        seen = PointPerson.objects.filter(applicant=OuterRef("pk"), since__gte=cutoff)
        return Applicant.objects.filter(
            _quiet_since(cutoff),
            ~Exists(Card.objects.filter(applicant=OuterRef("pk"))),
            ~Exists(seen),
        )
    cutoff = years_before(now, settings.RETENTION_CLOSED_CARD_YEARS)
    open_or_recent = Card.objects.filter(applicant=OuterRef("pk")).filter(
        ~Q(status__in=TERMINAL_STATES) | Q(closed_at__isnull=True) | Q(closed_at__gte=cutoff)
    )
    return Applicant.objects.filter(
        _quiet_since(cutoff),
        Exists(Card.objects.filter(applicant=OuterRef("pk"))),
        ~Exists(open_or_recent),
    )


# What an anonymised person keeps of each personal field. The document number becomes
# "ANON<pk>", encrypted at rest with its blind index like any other (common/fields.py): written per
# person (a token is made in Python), the rest in one statement.
ANONYMISED_VALUES = {
    "name": Value(""),
    "phone": "",
    "address": "",
    "hukou_place": Value(""),
    "assigned_social_security_number": None,
    "assigned_social_security_number_bidx": None,
    "birth_date": Trunc("birth_date", "year", output_field=DateField()),
}


def anonymised_id_number(pk: int) -> str:
    return f"ANON{pk}"


def _anonymise_id_numbers(ids: list[int], now: datetime.datetime) -> None:
    for pk in ids:
        number = anonymised_id_number(pk)
        Applicant.objects.filter(pk=pk).update(
            id_number=number, id_number_bidx=Applicant.blind_index("id_number", number)
        )


def anonymise_batch(
    rule: str, *, now: datetime.datetime, limit: int, after_pk: int = 0
) -> tuple[int, int | None]:
    """Anonymise at most `limit` people due under `rule` with a primary key above `after_pk`, in
    one transaction: (how many, the last primary key looked at, None when none was due)."""
    with transaction.atomic():
        ids = list(
            due_people(rule, now)
            .filter(pk__gt=after_pk)
            .order_by("pk")
            .select_for_update(skip_locked=True, of=("self",))
            .values_list("pk", flat=True)[:limit]
        )
        if not ids:
            return 0, None
        Applicant.objects.filter(pk__in=ids).update(**ANONYMISED_VALUES, updated_at=now)
        _anonymise_id_numbers(ids, now)
        Card.objects.filter(applicant_id__in=ids).exclude(agent_name="").update(
            agent_name="", agent_id_number=""
        )
        PersonChange.objects.filter(applicant_id__in=ids).update(changes={}, sealed={})
        # Crypto-shredding: their values in the append-only transition log were sealed under
        # their own data key; destroying it erases them there (one statement, a row a person).
        PersonDataKey.objects.bulk_create(
            [PersonDataKey(applicant_id=pk, key="", erased_at=now) for pk in ids],
            update_conflicts=True,
            unique_fields=["applicant"],
            update_fields=["key", "erased_at"],
        )
        crypto.forget_subject_keys(ids)
        Anonymisation.objects.bulk_create(
            [Anonymisation(applicant_id=pk, at=now, rule=rule) for pk in ids]
        )
        PersonChange.objects.bulk_create(
            [
                PersonChange(
                    at=now,
                    applicant_id=pk,
                    action=ChangeAction.ANONYMISE,
                    object_type="applicant",
                    object_id=pk,
                    actor_kind="system",
                    channel="system",
                )
                for pk in ids
            ]
        )
    return len(ids), ids[-1]


def anonymise_past_retention(
    *,
    now: datetime.datetime | None = None,
    batch_size: int | None = None,
    time_budget: float = 600.0,
) -> dict[str, int]:
    """Run both rules, batch after batch, until none is due or the time budget is spent. Each
    rule walks the people in primary-key order and has half the budget; where its walk stopped is
    kept in PostgreSQL (cards.DeliveryCursor `retention:<rule>`), so the next day's run goes on
    from there instead of walking the city's first people again, and a walk that reaches the end
    starts again from the first. {rule: people anonymised}."""
    now = now or timezone.now()
    limit = batch_size or settings.RETENTION_BATCH_SIZE
    done = {rule: 0 for rule in RetentionRule.values}
    for rule in RetentionRule.values:
        started = time.monotonic()
        after_pk = _walk_position(rule)
        while time.monotonic() - started < time_budget / len(RetentionRule.values):
            count, last = anonymise_batch(rule, now=now, limit=limit, after_pk=after_pk)
            done[rule] += count
            if count < limit or last is None:
                _keep_walk_position(rule, 0)  # the end: the next walk starts from the first
                break
            after_pk = last
            _keep_walk_position(rule, after_pk)
    return done


def _walk_position(rule: str) -> int:
    return (
        DeliveryCursor.objects.filter(name=f"retention:{rule}")
        .values_list("position", flat=True)
        .first()
        or 0
    )


def _keep_walk_position(rule: str, pk: int) -> None:
    DeliveryCursor.objects.update_or_create(name=f"retention:{rule}", defaults={"position": pk})


# The personal-data logs, kept PERSONAL_DATA_LOG_RETENTION_YEARS (3: PIPL art. 56) from the act.
EXPIRING_LOGS = (PersonalDataAccess, PersonChange)


def purge_expired_logs(
    *,
    now: datetime.datetime | None = None,
    batch_size: int | None = None,
    time_budget: float = 120.0,
) -> dict[str, int]:
    """Delete the rows of the personal-data logs older than their retention period, batch after
    batch (one short transaction each, read by the log's index on `at`), until none is left or
    the time budget is spent; the next day's run takes the rest. Nothing younger is deleted.
    {log table: rows deleted}."""
    now = now or timezone.now()
    cutoff = years_before(now, settings.PERSONAL_DATA_LOG_RETENTION_YEARS)
    limit = batch_size or settings.RETENTION_BATCH_SIZE
    started = time.monotonic()
    done = {model._meta.db_table: 0 for model in EXPIRING_LOGS}
    for model in EXPIRING_LOGS:
        while time.monotonic() - started < time_budget:
            with transaction.atomic():
                ids = list(model.objects.filter(at__lt=cutoff).values_list("pk", flat=True)[:limit])
                if not ids:
                    break
                done[model._meta.db_table] += model.objects.filter(pk__in=ids).delete()[0]
    return done
