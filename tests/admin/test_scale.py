"""City scale: every clerk page's reads are bounded and indexed (issue "City scale").

For each page: with `SET enable_seqscan = off` (on a small table PostgreSQL prefers a scan; with
scans disabled, a scan that remains is one no index can avoid) no plan of the page's queries reads
cards_card, applicants_applicant or cards_cardtransition by a sequential scan; and the page runs
the same number of queries for 10 and for 100 cards.
"""

from __future__ import annotations

import datetime
import re

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cards.choices import ActorKind, CardStatus, CardType, Channel, TransitionName
from cards.models import Card, CardTransition
from tests.factories import ApplicantFactory, EmploymentFactory

S = CardStatus
T = TransitionName
pytestmark = pytest.mark.django_db

BIG_TABLES = (
    "cards_card",
    "applicants_applicant",
    "cards_cardtransition",
    "cards_cardcenternotice",
    "cards_outboxevent",
    "cards_pointcard",
    "applicants_employer",
    "applicants_employment",
)
SEQ_SCAN = re.compile(r"Seq Scan on (\w+)")
STATES = [
    S.APPLIED,
    S.VERIFIED,
    S.READY_FOR_COLLECTION,
    S.ISSUED,
    S.PHONE_REPORTED_LOST,
    S.WRITTEN_LOST,
    S.CANCELLED,
]


def make_cards(world, n: int, *, start: int = 0) -> list[Card]:
    """`n` cards applied for at the clerk's point (some elsewhere with a loss report taken here),
    in a mix of states, with log rows and employments (rows written directly: the pages are under
    test, not the lifecycle)."""
    now = timezone.now()
    people = ApplicantFactory.create_batch(n)
    cards = []
    for i, applicant in enumerate(people):
        k = start + i
        state = STATES[k % len(STATES)]
        elsewhere = k % 4 == 3
        cards.append(
            Card(
                applicant=applicant,
                card_type=CardType.SOCIAL_SECURITY,
                status=state,
                bank=world.bank if k % 2 else world.other_bank,
                service_point=world.other_community if elsewhere else world.community,
                collection_point=world.outlet,
                channel=Channel.COUNTER,
                applied_at=now - datetime.timedelta(days=k % 40, hours=k),
                verified_at=now if state != S.APPLIED else None,
                ready_at=now - datetime.timedelta(days=200)
                if state == S.READY_FOR_COLLECTION
                else None,
                ready_promised_by=now.date() - datetime.timedelta(days=2)
                if state == S.VERIFIED
                else None,
                card_number=f"SC{7_000_000 + k}" if state not in (S.APPLIED, S.VERIFIED) else None,
                phone_reported_at=now if state == S.PHONE_REPORTED_LOST else None,
                phone_report_expires_at=now + datetime.timedelta(hours=1 + k % 30)
                if state == S.PHONE_REPORTED_LOST
                else None,
                written_reported_at=now if state == S.WRITTEN_LOST else None,
                written_report_expires_at=now + datetime.timedelta(hours=1 + k % 50)
                if state == S.WRITTEN_LOST
                else None,
                loss_certificate_number=f"LR-S-{k}" if state == S.WRITTEN_LOST else None,
            )
        )
    cards = Card.objects.bulk_create(cards)
    log = []
    for card in cards:
        log.append(
            CardTransition(
                card=card,
                name=T.SUBMIT,
                to_status=S.APPLIED,
                at=card.applied_at,
                actor_kind=ActorKind.USER,
                service_point=card.service_point,
                channel=Channel.COUNTER,
            )
        )
        if card.status in (S.WRITTEN_LOST, S.CANCELLED):
            log.append(
                CardTransition(
                    card=card,
                    name=T.REPORT_LOST_IN_WRITING,
                    from_status=S.ISSUED,
                    to_status=S.WRITTEN_LOST,
                    at=now,
                    actor_kind=ActorKind.USER,
                    service_point=world.community,
                    channel=Channel.COUNTER,
                )
            )
    CardTransition.objects.bulk_create(log)
    for applicant in people[:: max(1, n // 10)]:
        EmploymentFactory(applicant=applicant)
    return cards


@pytest.fixture
def superuser_client(db) -> Client:
    user = get_user_model().objects.create_superuser("root", "root@example.org", "x" * 20)
    from tests.conftest import staff_login

    # Both factors, as every admin login must (accounts/admin_site.py): a password-only session
    # would be sent to the login page and the pages below would measure nothing.
    return staff_login(Client(headers={"accept-language": "en"}), user)


def pages(world, card: Card) -> dict[str, tuple[str, str, dict | None]]:
    """Every clerk page: (who, url, posted data or None for a GET)."""
    return {
        "counter by ID number": ("clerk", "/admin/cards/card/counter/", {"q": "ID"}),
        "counter by receipt": ("clerk", "/admin/cards/card/counter/", {"q": "RECEIPT"}),
        "counter by card number": ("clerk", "/admin/cards/card/counter/", {"q": "CARD"}),
        "applicant list": ("clerk", "/admin/applicants/applicant/", None),
        "applicant list (superuser)": ("superuser", "/admin/applicants/applicant/", None),
        "applicant list (hotline)": ("hotline", "/admin/applicants/applicant/", None),
        "card list": ("clerk", "/admin/cards/card/", None),
        "card list by bank": ("clerk", "/admin/cards/card/?o=5", None),
        "card list by state": ("clerk", "/admin/cards/card/?state=issued", None),
        "loss reports taken here": ("clerk", "/admin/cards/card/?here=loss", None),
        "card list (supervisor)": ("supervisor", "/admin/cards/card/", None),
        "card list (hotline)": ("hotline", "/admin/cards/card/", None),
        "card list (superuser)": ("superuser", "/admin/cards/card/", None),
        "card list by bank (superuser)": ("superuser", "/admin/cards/card/?o=-5", None),
        "employer list": ("superuser", "/admin/applicants/employer/", None),
        "employment list": ("clerk", "/admin/applicants/employment/", None),
        "employment list (superuser)": ("superuser", "/admin/applicants/employment/", None),
        "employer by code": ("superuser", "/admin/applicants/employer/?q=91310000000000001x", None),
        "employments by employer code": (
            "superuser",
            "/admin/applicants/employment/?q=91310000000000001X",
            None,
        ),
        "dashboard (clerk)": ("clerk", "/admin/", None),
        "dashboard (supervisor)": ("supervisor", "/admin/", None),
        "dashboard (hotline)": ("hotline", "/admin/", None),
        "dashboard (superuser)": ("superuser", "/admin/", None),
        "overdue verification": (
            "supervisor",
            "/admin/cards/card/?deadline=overdue_verification",
            None,
        ),
        "overdue uncollected": (
            "supervisor",
            "/admin/cards/card/?deadline=overdue_uncollected",
            None,
        ),
        "overdue promise (superuser)": (
            "superuser",
            "/admin/cards/card/?deadline=overdue_medical_promise",
            None,
        ),
        "expiring today": ("clerk", "/admin/cards/card/?deadline=expiring_today", None),
        "phone reports live": ("clerk", "/admin/cards/card/?deadline=phone_report_live", None),
        "written reports within 7 days": (
            "supervisor",
            "/admin/cards/card/?deadline=written_report_week",
            None,
        ),
        "expiring today (superuser)": (
            "superuser",
            "/admin/cards/card/?deadline=expiring_today",
            None,
        ),
        "applied in the last 7 days": ("clerk", "/admin/cards/card/?applied_on=7d", None),
        "applied on a day (superuser)": (
            "superuser",
            f"/admin/cards/card/?applied_on={timezone.localdate().isoformat()}",
            None,
        ),
        "card-center notices by card number": (
            "superuser",
            f"/admin/cards/cardcenternotice/?q={card.card_number}",
            None,
        ),
        "card-center notices by notice id": (
            "superuser",
            "/admin/cards/cardcenternotice/?q=0b0e2a5e-5f2c-4f0e-9a49-6d0c8f1e2a3b",
            None,
        ),
        "card page": ("clerk", f"/admin/cards/card/{card.pk}/change/", None),
    }


def fill_in(data: dict | None, card: Card) -> dict | None:
    if data is None:
        return None
    value = {
        "ID": card.applicant.id_number,
        "RECEIPT": card.receipt_number_display,
        "CARD": card.card_number or "",
    }[data["q"]]
    return {"q": value}


def run_page(client, url: str, data: dict | None):
    with CaptureQueriesContext(connection) as captured:
        response = client.post(url, data) if data is not None else client.get(url)
    assert response.status_code in (200, 302, 403), (url, response.status_code)
    assert "/login/" not in response.get("Location", ""), (url, "not logged in")
    return response, [q["sql"] for q in captured.captured_queries]


def sequential_scans(queries: list[str]) -> set[str]:
    """The big tables that some plan of these queries reads by a sequential scan."""
    found: set[str] = set()
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        try:
            for sql in queries:
                if not sql.lstrip().upper().startswith("SELECT"):
                    continue
                cursor.execute("EXPLAIN " + sql)
                plan = "\n".join(row[0] for row in cursor.fetchall())
                found |= {t for t in SEQ_SCAN.findall(plan) if t in BIG_TABLES}
        finally:
            cursor.execute("RESET enable_seqscan")
    return found


@pytest.fixture
def desks(world, clients, superuser_client):
    return {
        "clerk": clients.clerk,
        "supervisor": clients.supervisor,
        "hotline": clients.hotline,
        "superuser": superuser_client,
    }


def the_card(cards: list[Card]) -> Card:
    """An issued card applied for at the clerk's point (it has a card number)."""
    return next(c for c in cards if c.status == S.ISSUED and c.service_point.code == "CC01")


def test_every_page_reads_no_big_table_by_a_sequential_scan(world, desks):
    card = the_card(make_cards(world, 30))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    failures = {}
    for name, (who, url, data) in pages(world, card).items():
        _response, queries = run_page(desks[who], url, fill_in(data, card))
        scans = sequential_scans(queries)
        if scans:
            failures[name] = scans
    assert failures == {}


def test_every_page_runs_as_many_queries_for_100_cards_as_for_12(world, desks):
    card = the_card(make_cards(world, 12))
    few = {}
    for name, (who, url, data) in pages(world, card).items():
        few[name] = len(run_page(desks[who], url, fill_in(data, card))[1])
    make_cards(world, 88, start=12)
    many = {}
    for name, (who, url, data) in pages(world, card).items():
        many[name] = len(run_page(desks[who], url, fill_in(data, card))[1])
    assert many == few


def test_a_point_list_shows_its_own_work_newest_first(world, desks):
    cards = make_cards(world, 40)
    listed = desks["clerk"].get("/admin/cards/card/").context["cl"].result_list
    mine = [
        c
        for c in cards
        if c.service_point_id == world.community.pk or c.status in (S.WRITTEN_LOST, S.CANCELLED)
    ]
    assert [c.pk for c in listed] == [
        c.pk for c in sorted(mine, key=lambda c: (c.applied_at, c.pk), reverse=True)
    ]
    loss = desks["clerk"].get("/admin/cards/card/?here=loss").context["cl"].result_list
    assert {c.pk for c in loss} == {
        c.pk for c in cards if c.status in (S.WRITTEN_LOST, S.CANCELLED)
    }
    by_bank = desks["clerk"].get("/admin/cards/card/?o=5").context["cl"].result_list
    banks = [c.bank_id for c in by_bank]
    assert banks == sorted(banks)


def test_a_point_list_by_application_day_reads_the_link_rows_index(world, desks):
    """The clerk's list filtered by the day of application (the dashboard's chart links) is a
    range of the point's (point, applied_at, card) link index, in the list's order."""
    cards = make_cards(world, 30)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    response, queries = run_page(desks["clerk"], "/admin/cards/card/?applied_on=7d", None)
    first_day = timezone.localdate() - datetime.timedelta(days=6)
    week_ago = timezone.make_aware(datetime.datetime.combine(first_day, datetime.time.min))
    mine = {
        c.pk for c in cards if c.service_point_id == world.community.pk and c.applied_at >= week_ago
    }
    listed = {c.pk for c in response.context["cl"].result_list}
    assert mine and mine <= listed, (sorted(mine - listed), sorted(listed - mine))
    page_query = next(q for q in queries if 'ORDER BY here."applied_at" DESC' in q)
    assert page_query.count('JOIN "cards_pointcard"') == 1, page_query  # the desk's row, once
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        cursor.execute("EXPLAIN " + page_query)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("RESET enable_seqscan")
    # A range of the (point, applied_at) index, not a walk through the point's whole history.
    a_range = (
        r"pointcard_applied_idx[^\n]*\n\s*"
        r"Index Cond: \(\(service_point_id = \d+\) AND \(applied_at >="
    )
    assert re.search(a_range, plan), plan


def cards_rows_read(sql: str) -> int:
    """How many rows the plan of `sql` reads from cards_card (every scan of it, all loops)."""
    import json

    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql)
        (plan,) = cursor.fetchone()
    plan = json.loads(plan) if isinstance(plan, str) else plan

    def walk(node) -> int:
        here = 0
        if node.get("Relation Name") == "cards_card":
            here = node["Actual Rows"] * node["Actual Loops"]
        return here + sum(walk(child) for child in node.get("Plans", []))

    return walk(plan[0]["Plan"])


def test_a_points_loss_reports_by_deadline_are_read_from_its_own_links(world, desks):
    """The dashboard's loss reports expiring today and the card list's deadline filters read
    the point's own link rows by the deadline they carry, never the city's loss reports: here 40
    expire today at another point and 2 at the clerk's, and no plan reads more than the 2."""
    now = timezone.now()
    soon = min(
        now + datetime.timedelta(minutes=30),
        timezone.localtime(now).replace(hour=23, minute=59, second=0, microsecond=0),
    )
    people = ApplicantFactory.create_batch(44)
    cards = []
    for i, applicant in enumerate(people):
        mine = i < 4
        written = i % 2 == 1
        cards.append(
            Card(
                applicant=applicant,
                card_type=CardType.SOCIAL_SECURITY,
                status=S.WRITTEN_LOST if written else S.PHONE_REPORTED_LOST,
                bank=world.bank,
                service_point=world.community if mine else world.other_community,
                collection_point=world.community if mine else world.other_community,
                channel=Channel.COUNTER,
                applied_at=now - datetime.timedelta(days=30 + i),
                verified_at=now - datetime.timedelta(days=29),
                card_number=f"SC{7_500_000 + i}",
                phone_reported_at=now if not written else None,
                phone_report_expires_at=soon if not written else None,
                written_reported_at=now if written else None,
                written_report_expires_at=soon if written else None,
                loss_certificate_number=f"LR-D-{i}" if written else None,
            )
        )
    Card.objects.bulk_create(cards)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    expected = {
        "/admin/cards/card/?deadline=expiring_today": 4,
        "/admin/cards/card/?deadline=phone_report_live": 2,
        "/admin/cards/card/?deadline=written_report_week": 2,
    }
    for url, shown in expected.items():
        response, queries = run_page(desks["supervisor"], url, None)
        assert response.context["cl"].result_count == shown, url
        deadline_queries = [q for q in queries if "loss_deadline" in q]
        assert deadline_queries, url
        for sql in deadline_queries:
            assert cards_rows_read(sql) <= shown, (url, sql)
    response, queries = run_page(desks["supervisor"], "/admin/", None)
    deadline_queries = [q for q in queries if "loss_deadline" in q]
    assert deadline_queries
    for sql in deadline_queries:
        assert cards_rows_read(sql) <= 4, sql
