# The counters' part of the card table's update trigger (migrations 0009, 0010) joined the link
# table through a CTE of the changed cards, which PostgreSQL cannot estimate (a join of the two
# transition tables: 125,000 rows guessed for a batch of 5,000), so it hashed the whole link table
# for every statement: each expiry-sweep batch read every link of the city twice, and the sweep
# slowed with the city's size (bench/expiry_sweep.py). The deltas are now taken from the old and
# new rows directly: -1 for each old row's (scope, status), +1 for each new row's, summed, so a
# row whose status and bank did not change cancels out; each side joins the link table by its
# card index with the transition table's true row count. The link-following part is unchanged,
# but runs only when a bank, application time or collection point changed; and the applications
# per day (kept on insert and delete only until now) follow a changed bank, point or time.
import importlib

from django.conf import settings
from django.db import migrations

POSTGRES = """
CREATE OR REPLACE FUNCTION cards_card_after_update() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    copied_moved boolean;
    point_moved boolean;
BEGIN
    INSERT INTO cards_cardstatecount (scope, status, count)
    SELECT scope, status, sum(delta) FROM (
        SELECT 'city' AS scope, status, -1 AS delta FROM old_rows
        UNION ALL SELECT 'city', status, 1 FROM new_rows
        UNION ALL SELECT 'bank:' || bank_id, status, -1 FROM old_rows WHERE bank_id IS NOT NULL
        UNION ALL SELECT 'bank:' || bank_id, status, 1 FROM new_rows WHERE bank_id IS NOT NULL
        UNION ALL SELECT 'point:' || l.service_point_id, o.status, -1
            FROM old_rows o JOIN cards_pointcard l ON l.card_id = o.id
        UNION ALL SELECT 'point:' || l.service_point_id, n.status, 1
            FROM new_rows n JOIN cards_pointcard l ON l.card_id = n.id
    ) d
    GROUP BY scope, status HAVING sum(delta) <> 0 ORDER BY scope, status;

    -- The links follow a changed bank, application time or collection point. Most statements
    -- (every expiry batch) change none of them: one join of the transition tables says so
    -- (an aggregate, not EXISTS, whose fast-start plan would be a nested loop of both), and the
    -- link table is not probed for each row.
    SELECT coalesce(bool_or(o.bank_id IS DISTINCT FROM n.bank_id
                            OR o.applied_at IS DISTINCT FROM n.applied_at
                            OR o.service_point_id IS DISTINCT FROM n.service_point_id), false),
           coalesce(bool_or(o.collection_point_id IS DISTINCT FROM n.collection_point_id), false)
    INTO copied_moved, point_moved
    FROM old_rows o JOIN new_rows n ON n.id = o.id;

    IF copied_moved THEN
        -- The applications per day follow a changed bank, point or application time too.
        INSERT INTO cards_carddailycount (scope, day, count)
        SELECT scope, day, sum(delta) FROM (
            SELECT 'city' AS scope, (applied_at AT TIME ZONE '{tz}')::date AS day, -1 AS delta
                FROM old_rows
            UNION ALL SELECT 'city', (applied_at AT TIME ZONE '{tz}')::date, 1 FROM new_rows
            UNION ALL SELECT 'bank:' || bank_id, (applied_at AT TIME ZONE '{tz}')::date, -1
                FROM old_rows WHERE bank_id IS NOT NULL
            UNION ALL SELECT 'bank:' || bank_id, (applied_at AT TIME ZONE '{tz}')::date, 1
                FROM new_rows WHERE bank_id IS NOT NULL
            UNION ALL SELECT 'point:' || service_point_id,
                (applied_at AT TIME ZONE '{tz}')::date, -1 FROM old_rows
            UNION ALL SELECT 'point:' || service_point_id,
                (applied_at AT TIME ZONE '{tz}')::date, 1 FROM new_rows
        ) d
        GROUP BY scope, day HAVING sum(delta) <> 0 ORDER BY scope, day;

        UPDATE cards_pointcard l SET bank_id = n.bank_id, applied_at = n.applied_at
        FROM old_rows o JOIN new_rows n ON n.id = o.id
        WHERE (o.bank_id IS DISTINCT FROM n.bank_id OR o.applied_at IS DISTINCT FROM n.applied_at)
          AND l.card_id = n.id;
    END IF;
    IF NOT point_moved THEN
        RETURN NULL;
    END IF;

    INSERT INTO cards_pointcard (service_point_id, card_id, applied_at, bank_id, applied_here,
                                 collect_here, loss_report_here)
    SELECT n.collection_point_id, n.id, n.applied_at, n.bank_id, false, true, false
    FROM old_rows o JOIN new_rows n ON n.id = o.id
    WHERE o.collection_point_id IS DISTINCT FROM n.collection_point_id
    ORDER BY n.collection_point_id, n.id
    ON CONFLICT (service_point_id, card_id) DO UPDATE SET collect_here = true
    WHERE NOT cards_pointcard.collect_here;

    DELETE FROM cards_pointcard l
    USING old_rows o JOIN new_rows n ON n.id = o.id
    WHERE o.collection_point_id IS DISTINCT FROM n.collection_point_id
      AND l.card_id = o.id AND l.service_point_id = o.collection_point_id
      AND NOT l.applied_here AND NOT l.loss_report_here;

    UPDATE cards_pointcard l SET collect_here = false
    FROM old_rows o JOIN new_rows n ON n.id = o.id
    WHERE o.collection_point_id IS DISTINCT FROM n.collection_point_id
      AND l.card_id = o.id AND l.service_point_id = o.collection_point_id AND l.collect_here;
    RETURN NULL;
END $$;
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRES.replace("{tz}", settings.TIME_ZONE))


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        previous = importlib.import_module("cards.migrations.0010_scale_follow_collection_point")
        schema_editor.execute(previous.POSTGRES)


class Migration(migrations.Migration):
    dependencies = [("cards", "0016_receipts_encrypted")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
