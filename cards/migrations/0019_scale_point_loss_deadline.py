# The loss reports expiring today (the dashboard, the card list's deadline filters) were read from
# the card table's partial indexes of the whole city and then tested against the desk's point: the
# rows read grew with the city's loss reports, not the point's (334 at 1,000,000 cards for the 2
# a typical point shows). Each link row now carries its card's live loss-report deadline (the
# phone report's while phone-reported, the written report's while written-lost, else NULL), kept
# by the database in the same transaction as every change of the card, so that a point's loss
# reports by deadline are one range of its own partial index.
from django.db import migrations, models

DEADLINE = (
    "CASE {c}.status WHEN 'phone_reported_lost' THEN {c}.phone_report_expires_at "
    "WHEN 'written_lost' THEN {c}.written_report_expires_at END"
)
STATE = "CASE WHEN {c}.status IN ('phone_reported_lost', 'written_lost') THEN {c}.status END"

POSTGRES = f"""
CREATE FUNCTION cards_card_loss_deadline() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- One probe of the link table's card index per changed card; only links whose deadline
    -- differs are written (a verification or an issue writes none).
    UPDATE cards_pointcard l
    SET loss_state = {STATE.format(c="n")}, loss_deadline = {DEADLINE.format(c="n")}
    FROM new_rows n
    WHERE l.card_id = n.id
      AND (l.loss_state, l.loss_deadline)
          IS DISTINCT FROM ({STATE.format(c="n")}, {DEADLINE.format(c="n")});
    RETURN NULL;
END $$;

CREATE TRIGGER cards_card_loss_deadline AFTER UPDATE ON cards_card
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION cards_card_loss_deadline();

-- A link made after the card's change (a loss report taken at another point, a new collection
-- point) starts with the card's deadline.
CREATE FUNCTION cards_pointcard_loss_deadline() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    SELECT {STATE.format(c="c")}, {DEADLINE.format(c="c")}
    INTO NEW.loss_state, NEW.loss_deadline FROM cards_card c
    WHERE c.id = NEW.card_id;
    RETURN NEW;
END $$;

CREATE TRIGGER cards_pointcard_loss_deadline BEFORE INSERT ON cards_pointcard
    FOR EACH ROW EXECUTE FUNCTION cards_pointcard_loss_deadline();
"""

DROP_POSTGRES = """
DROP TRIGGER IF EXISTS cards_card_loss_deadline ON cards_card;
DROP TRIGGER IF EXISTS cards_pointcard_loss_deadline ON cards_pointcard;
DROP FUNCTION IF EXISTS cards_card_loss_deadline();
DROP FUNCTION IF EXISTS cards_pointcard_loss_deadline();
"""

# SQLite (the `make run` demo): the same, by row triggers.
SQLITE = [
    f"""
    CREATE TRIGGER cards_card_loss_deadline
    AFTER UPDATE OF status, phone_report_expires_at, written_report_expires_at ON cards_card
    BEGIN
        UPDATE cards_pointcard
        SET loss_state = {STATE.format(c="NEW")}, loss_deadline = {DEADLINE.format(c="NEW")}
        WHERE card_id = NEW.id;
    END
    """,
    f"""
    CREATE TRIGGER cards_pointcard_loss_deadline AFTER INSERT ON cards_pointcard BEGIN
        UPDATE cards_pointcard
        SET loss_state = (SELECT {STATE.format(c="c")} FROM cards_card c WHERE c.id = NEW.card_id),
            loss_deadline = (
                SELECT {DEADLINE.format(c="c")} FROM cards_card c WHERE c.id = NEW.card_id
            )
        WHERE id = NEW.id;
    END
    """,
]
DROP_SQLITE = [
    "DROP TRIGGER IF EXISTS cards_card_loss_deadline",
    "DROP TRIGGER IF EXISTS cards_pointcard_loss_deadline",
]

# The links of the cards in a loss state now (a set-based statement, in batches of nothing: the
# loss states are a small share of a city's cards).
BACKFILL = f"""
UPDATE cards_pointcard l
SET loss_state = {STATE.format(c="c")}, loss_deadline = {DEADLINE.format(c="c")}
FROM cards_card c
WHERE c.id = l.card_id AND c.status IN ('phone_reported_lost', 'written_lost')
"""


BACKFILL_SQLITE = f"""
UPDATE cards_pointcard
SET loss_state = (SELECT {STATE.format(c="c")} FROM cards_card c
                  WHERE c.id = cards_pointcard.card_id),
    loss_deadline = (SELECT {DEADLINE.format(c="c")} FROM cards_card c
                     WHERE c.id = cards_pointcard.card_id)
WHERE card_id IN (SELECT id FROM cards_card WHERE status IN ('phone_reported_lost', 'written_lost'))
"""


def create(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES)
        schema_editor.execute(BACKFILL)
    elif vendor == "sqlite":
        for statement in SQLITE:
            schema_editor.execute(statement)
        schema_editor.execute(BACKFILL_SQLITE)


def drop(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(DROP_POSTGRES)
    elif vendor == "sqlite":
        for statement in DROP_SQLITE:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("cards", "0018_privacy_log_erasure")]

    operations = [
        migrations.AddField(
            model_name="pointcard",
            name="loss_deadline",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="pointcard",
            name="loss_state",
            field=models.CharField(blank=True, max_length=32, null=True),
        ),
        migrations.AddIndex(
            model_name="pointcard",
            index=models.Index(
                condition=models.Q(("loss_deadline__isnull", False)),
                fields=["service_point", "loss_state", "loss_deadline", "card"],
                name="pointcard_loss_deadline_idx",
            ),
        ),
        migrations.RunPython(create, drop, elidable=False),
    ]
