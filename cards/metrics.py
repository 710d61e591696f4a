"""The domain's metrics (served at /metrics by common/metrics.py).

Counters move where their event happens, each through a one-line call from the code that makes
the event, and only once its transaction commits (a rolled-back transition counts nothing):

  shebao_transitions_total{name,actor_kind}   cards/events.py record_transition; the set-based
                                              expiries in cards/expiry.py expire_card_if_due and
                                              (with swept_total) cards/sweeps.py sweep
  shebao_expiry_swept_total{kind}             cards/sweeps.py sweep, per committed batch
  shebao_status_lookups_total{outcome}        cards/public/views.py (found, not_found, limited,
                                              unavailable)

Gauges read from the database are computed at scrape time (`collect`), each from a small read
that an index serves:

  shebao_expiry_oldest_due_seconds{kind}      how long the oldest due report has waited (0 when
                                              the sweeps keep up); the sweeps' partial indexes
  shebao_webhook_backlog{destination}         undelivered events scheduled for delivery
  shebao_webhook_oldest_undelivered_seconds{destination}
                                              age of the oldest of them; outbox_undelivered_idx

Destinations are a small registry (`DESTINATIONS`): another outbox adds itself with one line,
`DESTINATIONS.append(Destination("card_center", lambda: Notice.objects.filter(...)))`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Count, Min, QuerySet
from django.utils import timezone
from prometheus_client import Counter
from prometheus_client.core import GaugeMetricFamily

from cards.choices import ActorKind, TransitionName
from cards.models import Card, CardCenterNotice, OutboxEvent

TRANSITIONS = Counter(
    "shebao_transitions_total",
    "Card transitions committed, by transition name and kind of actor (user, bank, system).",
    ["name", "actor_kind"],
)
SWEPT = Counter(
    "shebao_expiry_swept_total",
    "Loss reports expired by the scheduler's sweeps, by kind (phone, written).",
    ["kind"],
)
STATUS_LOOKUPS = Counter(
    "shebao_status_lookups_total",
    "Public status page lookups, by outcome (found, not_found, limited, unavailable).",
    ["outcome"],
)

# The sweep kinds' short names, as `manage.py expire_due --only` spells them.
EXPIRY_KINDS = {
    TransitionName.LAPSE_PHONE_REPORT: "phone",
    TransitionName.EXPIRE_WRITTEN_REPORT: "written",
    TransitionName.CANCEL_UNCOLLECTED: "uncollected",
}


def transition_recorded(name: str, actor_kind: str, count: int = 1) -> None:
    """Count `count` transitions once the current transaction commits."""
    if count:
        transaction.on_commit(lambda: TRANSITIONS.labels(str(name), str(actor_kind)).inc(count))


def swept(name: str, count: int) -> None:
    """A sweep of expiry `name` (a TransitionName) committed `count` expiries."""
    if count:
        SWEPT.labels(EXPIRY_KINDS.get(name, str(name))).inc(count)
        TRANSITIONS.labels(str(name), ActorKind.SYSTEM.value).inc(count)


def status_lookup(outcome: str) -> None:
    STATUS_LOOKUPS.labels(outcome).inc()


# --- Gauges at scrape time --------------------------------------------------------------------


@dataclass(frozen=True)
class Destination:
    """An outbox whose rows are delivered somewhere: `pending()` is its undelivered rows that are
    scheduled for delivery (a queryset an index serves); `group_by`, a field whose value is added
    to the label (one series per bank); `created_field`, when a row was written."""

    name: str
    pending: Callable[[], QuerySet]
    group_by: str | None = None
    created_field: str = "created_at"
    known: Callable[[], list[str]] | None = None  # groups shown at 0 when nothing is pending


def _bank_webhooks() -> list[str]:
    from agencies.models import PartnerBank

    return list(PartnerBank.objects.exclude(webhook_url="").values_list("code", flat=True))


DESTINATIONS: list[Destination] = [
    Destination(
        "bank",
        lambda: OutboxEvent.objects.filter(
            delivered_at__isnull=True, next_attempt_at__isnull=False
        ),
        group_by="bank__code",
        known=_bank_webhooks,
    ),
    # The municipal information service center's notices (cards/cardcenter.py), never given up.
    Destination("card_center", lambda: CardCenterNotice.objects.filter(delivered_at__isnull=True)),
]


def _oldest_due(now) -> GaugeMetricFamily:
    family = GaugeMetricFamily(
        "shebao_expiry_oldest_due_seconds",
        "How long the oldest due loss report has waited for its sweep (0: none due).",
        labels=["kind"],
    )
    from cards.expiry import EXPIRIES

    for name, expiry in EXPIRIES.items():
        oldest = (
            Card.objects.filter(status=expiry.source, **{f"{expiry.deadline_field}__lte": now})
            .order_by(expiry.deadline_field)
            .values_list(expiry.deadline_field, flat=True)
            .first()
        )
        waited = (now - oldest).total_seconds() if oldest else 0.0
        family.add_metric([EXPIRY_KINDS[name]], max(waited, 0.0))
    return family


def _webhooks(now) -> list[GaugeMetricFamily]:
    backlog = GaugeMetricFamily(
        "shebao_webhook_backlog",
        "Undelivered events scheduled for delivery, by destination.",
        labels=["destination"],
    )
    oldest = GaugeMetricFamily(
        "shebao_webhook_oldest_undelivered_seconds",
        "Age of the oldest undelivered event scheduled for delivery (0: none), by destination.",
        labels=["destination"],
    )
    for destination in DESTINATIONS:
        pending = destination.pending().order_by()
        rows: dict[str, tuple[int, object]] = {}
        if destination.group_by:
            for row in pending.values(destination.group_by).annotate(
                n=Count("pk"), first=Min(destination.created_field)
            ):
                rows[f"{destination.name}:{row[destination.group_by]}"] = (row["n"], row["first"])
        else:
            row = pending.aggregate(n=Count("pk"), first=Min(destination.created_field))
            rows[destination.name] = (row["n"], row["first"])
        for group in destination.known() if destination.known else []:
            rows.setdefault(f"{destination.name}:{group}", (0, None))
        for label, (count, first) in sorted(rows.items()):
            backlog.add_metric([label], count)
            age = (now - first).total_seconds() if first else 0.0
            oldest.add_metric([label], max(age, 0.0))
    return [backlog, oldest]


def collect():
    now = timezone.now()
    yield _oldest_due(now)
    yield from _webhooks(now)
