"""Key rotation of the append-only transition log's sealed data (`rotate_field_keys --append-only`,
README "Keys and rotation"), end to end with the real database roles: the service role is refused
(it may only INSERT into the log and cannot switch its triggers off), the owner rotates it, the
values open under the new key alone and no token under the old key id is left."""

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
    old_kid = crypto.token_key_id(log_tokens()[0])
    assert old_kid == crypto.keyring().current.kid
    before = skeleton()
    old_keys = settings.FIELD_ENCRYPTION_KEYS
    settings.FIELD_ENCRYPTION_KEYS = f"{NEW_KEY},{old_keys}"

    # The service role: its ALTER TABLE ... DISABLE TRIGGER is refused, nothing is rewritten.
    with pytest.raises(DatabaseError, match="must be owner"):
        call_command("rotate_field_keys", "--append-only", "--table", "cards_cardtransition")
    assert {crypto.token_key_id(t) for t in log_tokens()} == {old_kid}

    run = rotate_as_owner(roles, f"{NEW_KEY},{old_keys}")
    assert run.returncode == 0, run.stderr
    assert "cards_cardtransition" in run.stdout

    tokens = log_tokens()
    assert tokens and {crypto.token_key_id(t) for t in tokens} == {"k2701"}
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
