"""Key rotation of the append-only transition log's sealed data (`rotate_field_keys --append-only`,
README "Keys and rotation"), end to end with the real database roles: the service role is refused
(it may only INSERT into the log and cannot switch its triggers off), the owner rotates it, the
values open under the new key alone and no token under the old key id is left. A person's own
values (crypto-shredding) stay under their data key, which the same run re-wraps."""

import base64
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection

from cards.choices import CardStatus
from cards.models import CardTransition
from common import crypto
from tests.api.conftest import (  # noqa: F401 - fixtures used here
    _api_settings,
    card_in,
    person,
    world,
)
from tests.cards.conftest import report_by_phone
from tests.security.test_db_roles import roles  # noqa: F401 - fixture

ROOT = Path(__file__).resolve().parents[2]
NEW_KEY = "k2701:" + base64.b64encode(b"new-sm4-key-16by").decode()


def log_tokens() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT data::text FROM cards_cardtransition ORDER BY id")
        documents = [row[0] for row in cursor.fetchall()]
    import json

    def tokens(value):
        if isinstance(value, dict):
            return [t for v in value.values() for t in tokens(v)]
        if isinstance(value, list):
            return [t for v in value for t in tokens(v)]
        return [value] if crypto.is_token(value) else []

    return [t for d in documents for t in tokens(json.loads(d))]


def field_tokens() -> list[str]:
    return [t for t in log_tokens() if not crypto.is_subject_token(t)]


def person_tokens() -> list[str]:
    return [t for t in log_tokens() if crypto.is_subject_token(t)]


def wrapped_key(card) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT key FROM privacy_persondatakey WHERE applicant_id = %s", [card.applicant_id]
        )
        return cursor.fetchone()[0]


def skeleton() -> list[tuple]:
    return list(
        CardTransition.objects.order_by("id").values_list(
            "id", "card_id", "name", "from_status", "to_status", "at", "actor_kind", "reason"
        )
    )


def rotate_as_owner(roles, keys: str) -> subprocess.CompletedProcess:  # noqa: F811
    s = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": f"postgres://{roles.owner}@{s['HOST'] or '127.0.0.1'}:"
        f"{s['PORT'] or 5432}/{s['NAME']}",
        "FIELD_ENCRYPTION_KEYS": keys,
    }
    return subprocess.run(
        [sys.executable, "manage.py", "rotate_field_keys", "--append-only", "--batch-size", "2"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


# Committed rows: the owner's process must see them.
@pytest.mark.django_db(transaction=True)
def test_the_owner_rotates_the_logs_sealed_data_and_the_service_role_cannot(
    settings,
    roles,  # noqa: F811
    world,  # noqa: F811
    card_in,  # noqa: F811
):
    card = report_by_phone(world, card_in(CardStatus.ISSUED))
    old_kid = crypto.keyring().current.kid
    # The card number under the field key; the caller's phone and address under the holder's own
    # data key (crypto-shredding), which is itself kept wrapped by the field key.
    assert {crypto.token_key_id(t) for t in field_tokens()} == {old_kid}
    personal = person_tokens()
    assert personal and {crypto.subject_of(t) for t in personal} == {card.applicant_id}
    assert crypto.token_key_id(wrapped_key(card)) == old_kid
    before = skeleton()
    old_keys = settings.FIELD_ENCRYPTION_KEYS
    settings.FIELD_ENCRYPTION_KEYS = f"{NEW_KEY},{old_keys}"

    # The service role: its ALTER TABLE ... DISABLE TRIGGER is refused, nothing is rewritten.
    with pytest.raises(DatabaseError, match="must be owner"):
        call_command("rotate_field_keys", "--append-only", "--table", "cards_cardtransition")
    assert {crypto.token_key_id(t) for t in field_tokens()} == {old_kid}

    run = rotate_as_owner(roles, f"{NEW_KEY},{old_keys}")
    assert run.returncode == 0, run.stderr
    assert "cards_cardtransition" in run.stdout

    assert {crypto.token_key_id(t) for t in field_tokens()} == {"k2701"}
    assert person_tokens() == personal  # left as they are: their key was re-wrapped instead
    assert crypto.token_key_id(wrapped_key(card)) == "k2701"
    assert skeleton() == before  # the log's rows are the same rows, only re-sealed
    # The old key can go: the log still reads, and the triggers are back on.
    settings.FIELD_ENCRYPTION_KEYS = NEW_KEY
    row = CardTransition.objects.get(card=card, name="report_lost_by_phone")
    assert row.data["contact_phone"] == "13900139000"
    assert row.data["home_address"] == "上海市徐汇区漕溪北路1号"
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'cards_cardtransition'::regclass "
            "AND NOT tgisinternal AND tgenabled = 'D'"
        )
        assert cursor.fetchone()[0] == 0


@pytest.mark.django_db(transaction=True)
def test_the_migration_moves_a_persons_older_log_values_under_their_own_key(
    roles,  # noqa: F811
    world,  # noqa: F811
    card_in,  # noqa: F811
):
    """cards 0017: values sealed under the field key before crypto-shredding existed are
    re-sealed under their holder's data key, so an erasure reaches them too."""
    import importlib
    import json
    import types

    from django.apps import apps

    from cards.models import LOG_DATA_SEALED
    from tests.conftest import _connect_as

    card = card_in(CardStatus.ISSUED)
    legacy = crypto.seal_values(
        {"contact_phone": "13900139000", "card_number": "SC1", "expires_at": "2026-01-01"},
        keys=LOG_DATA_SEALED,
        context="cardtransition.data",
    )
    with connection.cursor() as cursor:  # a row as written before (an INSERT the service may do)
        cursor.execute(
            "INSERT INTO cards_cardtransition (card_id, name, from_status, to_status, at, "
            "recorded_at, actor_kind, channel, reason, data) VALUES (%s, 'report_lost_by_phone', "
            "'issued', 'phone_reported_lost', now(), now(), 'system', 'system', '', %s) "
            "RETURNING id",
            [card.pk, json.dumps(legacy)],
        )
        (pk,) = cursor.fetchone()
    migration = importlib.import_module("cards.migrations.0018_privacy_log_erasure")
    _connect_as(connection, roles.owner, roles.owner_password)
    try:
        migration.reseal_personal_values(apps, types.SimpleNamespace(connection=connection))
    finally:
        _connect_as(connection, roles.service, roles.service_password)
    with connection.cursor() as cursor:
        cursor.execute("SELECT data::text FROM cards_cardtransition WHERE id = %s", [pk])
        stored = json.loads(cursor.fetchone()[0])
    assert crypto.subject_of(stored["contact_phone"]) == card.applicant_id
    assert not crypto.is_subject_token(stored["card_number"])  # the field key's, as it was
    assert crypto.token_key_id(stored["card_number"]) == crypto.token_key_id(legacy["card_number"])
    assert stored["expires_at"] == "2026-01-01"
    assert CardTransition.objects.get(pk=pk).data["contact_phone"] == "13900139000"
