# ruff: noqa: F811 - the API tests' fixtures, imported below, are taken by name
"""Encryption at rest (issue 15, "sensitive fields encrypted at rest"): the cipher and its keys,
the encrypted columns as the database holds them, the blind-index lookups (one indexed read
each), the idempotency records and the log's data without plaintext, and key rotation."""

from __future__ import annotations

import base64
import re
import uuid

import pytest
from django.core.exceptions import FieldError
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from applicants.models import Applicant
from applicants.selectors import applicant_get_by_document
from cards.choices import CardStatus
from cards.counter.admin import history_row
from cards.models import Card, CardCenterNotice, CardTransition
from cards.public.lookup import LOOKUP_SQL, card_public_get
from common import crypto
from common.models import IdempotencyKey
from tests.api.conftest import (  # noqa: F401 - fixtures used here
    _api_settings,
    api,
    bank_key,
    card_in,
    person,
    world,
)
from tests.cards.conftest import report_by_phone
from tests.factories import ApplicantFactory, resident_id

S = CardStatus
SM4_KEY = "k1:" + base64.b64encode(b"0123456789abcdef").decode()
AES_KEY = "k2:" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
INDEX_KEY = base64.b64encode(b"i" * 32).decode()
SEQ_SCAN = re.compile(r"Seq Scan on (\w+)")
BIG_TABLES = {"applicants_applicant", "cards_card", "cards_cardtransition"}


def raw(sql: str, params=()) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


# --- The cipher ---------------------------------------------------------------------------------


def test_sm4_gcm_and_sm3_work_in_the_installed_openssl():
    assert crypto.sm4_gcm_available()
    assert crypto.sm3_available()


@pytest.mark.parametrize("spec", [SM4_KEY, AES_KEY], ids=["SM4-GCM", "AES-256-GCM"])
def test_round_trip_with_the_key_id_in_each_value(spec):
    ring = crypto.keyring_from(spec, INDEX_KEY)
    token = crypto.encrypt("310104198001010016", context="id_number", ring=ring)
    kid, nonce, _body = token.split("$")
    assert kid == spec.split(":")[0] and len(nonce) == 16
    assert "310104198001010016" not in token
    assert crypto.decrypt(token, context="id_number", ring=ring) == "310104198001010016"
    # A fresh nonce every time: equal numbers do not give equal tokens.
    assert crypto.encrypt("310104198001010016", context="id_number", ring=ring) != token


def test_a_changed_byte_or_another_context_is_detected():
    ring = crypto.keyring_from(SM4_KEY, INDEX_KEY)
    token = crypto.encrypt("13800138000", context="phone", ring=ring)
    kid, nonce, body = token.split("$")
    flipped = body[:5] + ("A" if body[5] != "A" else "B") + body[6:]
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(f"{kid}${nonce}${flipped}", context="phone", ring=ring)
    with pytest.raises(crypto.DecryptionError):  # a phone's token copied into an address column
        crypto.decrypt(token, context="address", ring=ring)


def test_an_unknown_key_id_is_refused_not_guessed():
    old = crypto.keyring_from(SM4_KEY, INDEX_KEY)
    token = crypto.encrypt("13800138000", context="phone", ring=old)
    new = crypto.keyring_from(AES_KEY, INDEX_KEY)
    with pytest.raises(crypto.DecryptionError, match="no key with id 'k1'"):
        crypto.decrypt(token, context="phone", ring=new)


@pytest.mark.parametrize(
    "spec",
    [
        "",
        "k1",
        "k1:not-base64!",
        "k1:" + base64.b64encode(b"short").decode(),
        f"{SM4_KEY},{SM4_KEY}",
    ],
)
def test_malformed_keys_are_refused(spec):
    with pytest.raises(crypto.KeyConfigurationError):
        crypto.keyring_from(spec, INDEX_KEY)


def test_production_refuses_to_start_without_keys_or_with_the_development_ones(monkeypatch):
    import importlib
    import sys

    from django.core.exceptions import ImproperlyConfigured

    monkeypatch.setenv("DJANGO_SECRET_KEY", "x" * 50)
    monkeypatch.setenv("DJANGO_ALLOWED_HOSTS", "example.org")
    monkeypatch.delenv("FIELD_ENCRYPTION_KEYS", raising=False)
    monkeypatch.delenv("FIELD_BLIND_INDEX_KEY", raising=False)
    sys.modules.pop("config.settings.production", None)
    with pytest.raises(ImproperlyConfigured):
        importlib.import_module("config.settings.production")
    from config.settings import base

    monkeypatch.setenv("FIELD_ENCRYPTION_KEYS", base.DEV_FIELD_ENCRYPTION_KEYS)
    monkeypatch.setenv("FIELD_BLIND_INDEX_KEY", base.DEV_FIELD_BLIND_INDEX_KEY)
    sys.modules.pop("config.settings.production", None)
    with pytest.raises(ImproperlyConfigured, match="development field keys"):
        importlib.import_module("config.settings.production")
    sys.modules.pop("config.settings.production", None)


def test_the_blind_index_is_keyed_and_per_context():
    ring = crypto.keyring_from(SM4_KEY, INDEX_KEY)
    other = crypto.keyring_from(SM4_KEY, base64.b64encode(b"j" * 32).decode())
    index = crypto.blind_index("310104198001010016", context="id_number", ring=ring)
    assert len(index) == 32
    assert index == crypto.blind_index("310104198001010016", context="id_number", ring=ring)
    assert index != crypto.blind_index("310104198001010016", context="id_number", ring=other)
    assert index != crypto.blind_index("310104198001010016", context="card_number", ring=ring)


# --- What the database holds --------------------------------------------------------------------


@pytest.mark.django_db
def test_the_columns_hold_no_plaintext_and_the_models_read_it_back():
    person = ApplicantFactory(phone="13912345678", address="上海市黄浦区人民大道200号")
    (id_number, phone, address, index) = raw(
        "SELECT id_number, phone, address, id_number_bidx FROM applicants_applicant WHERE id = %s",
        [person.pk],
    )[0]
    for token, plaintext in (
        (id_number, person.id_number),
        (phone, "13912345678"),
        (address, "上海市黄浦区人民大道200号"),
    ):
        assert crypto.is_token(token) and plaintext not in token
    assert bytes(index) == crypto.blind_index(person.id_number, context="id_number")
    again = Applicant.objects.get(pk=person.pk)
    assert (again.id_number, again.phone, again.address) == (
        person.id_number,
        "13912345678",
        "上海市黄浦区人民大道200号",
    )


@pytest.mark.django_db
def test_a_changed_number_saved_alone_moves_its_blind_index_too():
    person = ApplicantFactory(id_number=resident_id(7))
    other = resident_id(7, region="310105")  # the same person's number from another district
    person.id_number = other
    person.save(update_fields=["id_number"])
    assert applicant_get_by_document(id_number=other) == person


@pytest.mark.django_db
def test_uniqueness_holds_on_the_blind_index():
    from django.core.exceptions import ValidationError

    person = ApplicantFactory()
    twin = ApplicantFactory.build(id_number=person.id_number)
    with pytest.raises(ValidationError, match="already exists"):
        twin.full_clean()


@pytest.mark.django_db
def test_an_encrypted_field_cannot_be_compared_but_by_its_blind_index():
    ApplicantFactory(phone="13912345678")
    with pytest.raises(FieldError, match="encrypted"):
        list(Applicant.objects.filter(phone="13912345678"))
    with pytest.raises(FieldError, match="encrypted"):
        list(Applicant.objects.filter(id_number__startswith="3101"))


@pytest.mark.django_db
def test_card_numbers_are_encrypted_in_the_card_its_notices_and_its_log(card_in):
    card = card_in(S.ISSUED)
    number = card.card_number
    (stored,) = raw("SELECT card_number FROM cards_card WHERE id = %s", [card.pk])[0]
    assert crypto.is_token(stored) and number not in stored
    notices = raw("SELECT card_number FROM cards_cardcenternotice WHERE card_id = %s", [card.pk])
    assert any(crypto.is_token(n) for (n,) in notices)
    assert all(number not in n for (n,) in notices)
    assert {n.card_number for n in CardCenterNotice.objects.filter(card=card)} == {number}
    for (data,) in raw("SELECT data::text FROM cards_cardtransition WHERE card_id = %s", [card.pk]):
        assert number not in data
    assert Card.objects.get(card_number=number) == card


@pytest.mark.django_db
def test_the_log_keeps_no_plaintext_of_a_callers_phone_and_address(world, card_in):
    card = report_by_phone(world, card_in(S.ISSUED))
    (data,) = raw(
        "SELECT data::text FROM cards_cardtransition WHERE card_id = %s AND name = %s",
        [card.pk, "report_lost_by_phone"],
    )[0]
    assert "13900139000" not in data and "漕溪北路" not in data
    assert "expires_at" in data  # what is not personal stays readable
    row = CardTransition.objects.get(card=card, name="report_lost_by_phone")
    assert row.data["contact_phone"] == "13900139000"  # the model opens it
    assert "139****9000" in history_row(row)["notes"]


@pytest.mark.django_db
def test_an_idempotency_record_keeps_no_plaintext(api, card_in):
    card = card_in(S.VERIFIED)
    key = str(uuid.uuid4())
    response = api.post(f"/cards/{card.public_id}/ready", {"card_number": "SC77665544"}, key=key)
    assert response.status_code == 200, response.content
    assert "SC77665544" in response.content.decode()
    (body,) = raw("SELECT response_body FROM common_idempotencykey WHERE key = %s", [key])[0]
    assert crypto.is_token(body) and "SC77665544" not in body
    again = api.post(f"/cards/{card.public_id}/ready", {"card_number": "SC77665544"}, key=key)
    assert again.content == response.content  # the retry's answer, opened
    assert IdempotencyKey.objects.get(key=key).response_body == response.content.decode()


# --- Every lookup is one indexed read -----------------------------------------------------------


def _seq_scans(statements: list[tuple[str, list]]) -> set[str]:
    found: set[str] = set()
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        try:
            for sql, params in statements:
                cursor.execute("EXPLAIN " + sql, params)
                plan = "\n".join(row[0] for row in cursor.fetchall())
                found |= {t for t in SEQ_SCAN.findall(plan) if t in BIG_TABLES}
        finally:
            cursor.execute("RESET enable_seqscan")
    return found


def _captured(run) -> list[tuple[str, list]]:
    with CaptureQueriesContext(connection) as queries:
        run()
    return [(q["sql"], []) for q in queries.captured_queries if q["sql"].startswith("SELECT")]


@pytest.mark.django_db
def test_the_lookups_by_number_are_one_indexed_read_each(card_in, api):
    from cards.api.selectors import _CARD_DETAIL

    card = card_in(S.ISSUED)
    person = card.applicant
    statements = _captured(lambda: applicant_get_by_document(id_number=person.id_number))
    statements += _captured(lambda: Card.objects.filter(card_number=card.card_number).first())
    index = crypto.blind_index(person.id_number, context="id_number")
    statements.append((LOOKUP_SQL, ["reject", "reject", card.receipt_number, index]))
    statements.append((_CARD_DETAIL.sql, [str(card.public_id), card.bank_id]))
    assert len(statements) == 4
    assert _seq_scans(statements) == set()
    assert "id_number_bidx" in statements[0][0] and "card_number_bidx" in statements[1][0]
    # ... and they find what they look for.
    assert applicant_get_by_document(id_number=person.id_number) == person
    found = card_public_get(id_number=person.id_number, receipt_number=card.receipt_number)
    assert found is not None and found.card.pk == card.pk
    detail = api.get(f"/cards/{card.public_id}")
    assert detail.status_code == 200 and card.card_number in detail.content.decode()


# --- Rotation -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_rotation_re_encrypts_under_the_new_key_and_resumes(settings, card_in):
    dev = settings.FIELD_ENCRYPTION_KEYS  # the fixtures' values are under the development key
    settings.FIELD_ENCRYPTION_KEYS = f"{SM4_KEY},{dev}"
    card = card_in(S.READY_FOR_COLLECTION)
    people = [ApplicantFactory() for _ in range(3)]
    # k2 is now current; k1 still opens the older values.
    settings.FIELD_ENCRYPTION_KEYS = f"{AES_KEY},{SM4_KEY},{dev}"
    assert Applicant.objects.get(pk=people[0].pk).id_number == people[0].id_number
    first = people[0].pk
    call_command(
        "rotate_field_keys", "--table", "applicants_applicant", "--after-id", str(first)
    )  # resumed after the first person: it stays under k1
    tokens = dict(raw("SELECT id, id_number FROM applicants_applicant"))
    assert crypto.token_key_id(tokens[first]) == "k1"
    assert {crypto.token_key_id(t) for pk, t in tokens.items() if pk > first} == {"k2"}
    call_command("rotate_field_keys", "--batch-size", "2")
    tokens = dict(raw("SELECT id, id_number FROM applicants_applicant"))
    assert {crypto.token_key_id(t) for t in tokens.values()} == {"k2"}
    (card_number,) = raw("SELECT card_number FROM cards_card WHERE id = %s", [card.pk])[0]
    assert crypto.token_key_id(card_number) == "k2"
    # The old key can go: everything reads, every lookup still finds.
    settings.FIELD_ENCRYPTION_KEYS = AES_KEY
    for someone in people:
        found = applicant_get_by_document(id_number=someone.id_number)
        assert found.id_number == someone.id_number
    assert Card.objects.get(card_number=card.card_number) == card


@pytest.mark.django_db
def test_a_second_rotation_rewrites_nothing(settings):
    ApplicantFactory()
    settings.FIELD_ENCRYPTION_KEYS = f"{AES_KEY},{settings.FIELD_ENCRYPTION_KEYS}"
    call_command("rotate_field_keys")
    before = raw("SELECT id_number FROM applicants_applicant")
    from io import StringIO

    out = StringIO()
    call_command("rotate_field_keys", stdout=out)
    assert raw("SELECT id_number FROM applicants_applicant") == before
    assert out.getvalue().strip().splitlines()[-1].startswith("re-encrypted 0 rows under key k2")
