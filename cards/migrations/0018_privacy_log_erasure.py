"""Crypto-shredding of the transition log: a person's values in `data` under their own data key."""

import datetime
import json

import common.fields
from django.db import migrations


CONTEXT = "cardtransition.data"
PERSONAL = frozenset({"contact_phone", "home_address", "name", "id_number", "form", "registry"})
SEALED = PERSONAL | {"card_number"}


def reseal_personal_values(apps, schema_editor) -> None:
    """The log's existing personal values, sealed under the field key before crypto-shredding,
    re-sealed under their card holder's own data key (made now), so that erasing a person reaches
    them too. Batches by id; the log's triggers are off for the pass (migrations run as the
    owner); only the `data` of rows holding such a value is rewritten."""
    from common import crypto
    from privacy.keys import PersonDataKeys

    connection = schema_editor.connection
    postgresql = connection.vendor == "postgresql"
    keys = PersonDataKeys(apps.get_model("privacy", "PersonDataKey"))
    non_empty = "t.data::text <> '{}'" if postgresql else "t.data <> '{}'"
    with connection.cursor() as cursor:
        if postgresql:
            cursor.execute('ALTER TABLE "cards_cardtransition" DISABLE TRIGGER USER')
        last = 0
        while True:
            cursor.execute(
                "SELECT t.id, t.data, c.applicant_id FROM cards_cardtransition t "  # noqa: S608
                f"JOIN cards_card c ON c.id = t.card_id WHERE t.id > %s AND {non_empty} "
                "ORDER BY t.id LIMIT 5000",
                [last],
            )
            rows = cursor.fetchall()
            if not rows:
                break
            last = rows[-1][0]
            changed = []
            for pk, data, applicant_id in rows:
                document = json.loads(data) if isinstance(data, str) else data
                if not crypto.has_values(document, PERSONAL):
                    continue
                opened = crypto.open_values(document, context=CONTEXT)
                personal = crypto.seal_subject_values(
                    opened, keys=PERSONAL, context=CONTEXT, subject=applicant_id, provider=keys
                )
                sealed = crypto.seal_values(personal, keys=SEALED, context=CONTEXT)
                changed.append((json.dumps(sealed, ensure_ascii=False), pk))
            if changed:
                cursor.executemany(
                    "UPDATE cards_cardtransition SET data = %s WHERE id = %s", changed
                )
        if postgresql:
            cursor.execute('ALTER TABLE "cards_cardtransition" ENABLE TRIGGER USER')


# The reveals of the full ID number, kept in cards.IdNumberReveal before there was one read log,
# go into it (privacy.PersonalDataAccess: purpose "reveal", field "id_number", the admin), except
# those the read log already has (written beside them since it exists: same person, staff member
# and card, within a second).
COPY_REVEALS = """
INSERT INTO privacy_personaldataaccess
    (at, applicant_id, purpose, channel, user_id, bank_id, service_point_id, card_id, field)
SELECT r.at, r.applicant_id, 'reveal', 'admin', r.user_id, NULL, r.service_point_id, r.card_id,
       'id_number'
FROM cards_idnumberreveal r
WHERE NOT EXISTS (
    SELECT 1 FROM privacy_personaldataaccess a
    WHERE a.applicant_id = r.applicant_id AND a.purpose = 'reveal' AND a.field = 'id_number'
      AND a.user_id = r.user_id AND a.card_id IS NOT DISTINCT FROM r.card_id
      AND a.at BETWEEN r.at - interval '1 second' AND r.at + interval '1 second'
)
ORDER BY r.id
"""


def copy_reveals(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        # SQLite (`make run`): the same, row by row.
        Reveal = apps.get_model("cards", "IdNumberReveal")  # noqa: N806
        Access = apps.get_model("privacy", "PersonalDataAccess")  # noqa: N806
        for r in Reveal.objects.order_by("id"):
            if not Access.objects.filter(
                applicant_id=r.applicant_id,
                purpose="reveal",
                field="id_number",
                user_id=r.user_id,
                card_id=r.card_id,
                at__range=(
                    r.at - datetime.timedelta(seconds=1),
                    r.at + datetime.timedelta(seconds=1),
                ),
            ).exists():
                Access.objects.create(
                    at=r.at,
                    applicant_id=r.applicant_id,
                    purpose="reveal",
                    channel="admin",
                    user_id=r.user_id,
                    service_point_id=r.service_point_id,
                    card_id=r.card_id,
                    field="id_number",
                )
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(COPY_REVEALS)


class Migration(migrations.Migration):
    dependencies = [
        ("cards", "0017_scale_counter_deltas"),
        ("privacy", "0003_privacy_person_data_keys"),
    ]

    operations = [
        migrations.AlterField(
            model_name="cardtransition",
            name="data",
            field=common.fields.SealedJSONField(
                blank=True,
                context="cardtransition.data",
                default=dict,
                sealed_keys=[
                    "card_number",
                    "contact_phone",
                    "form",
                    "home_address",
                    "id_number",
                    "name",
                    "registry",
                ],
                subject="card.applicant_id",
                subject_keys=[
                    "contact_phone",
                    "form",
                    "home_address",
                    "id_number",
                    "name",
                    "registry",
                ],
                verbose_name="data",
            ),
        ),
        migrations.RunPython(reseal_personal_values, migrations.RunPython.noop),
        migrations.RunPython(copy_reveals, migrations.RunPython.noop, elidable=False),
        migrations.DeleteModel(name="IdNumberReveal"),
    ]
