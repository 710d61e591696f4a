from django.db import migrations

from agencies.roles import sync_role_groups

APPEND_ONLY = """
CREATE OR REPLACE FUNCTION cards_cardtransition_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the card transition log is append-only';
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER cards_cardtransition_append_only
    BEFORE UPDATE OR DELETE ON cards_cardtransition
    FOR EACH ROW EXECUTE FUNCTION cards_cardtransition_append_only();
"""
DROP_APPEND_ONLY = """
DROP TRIGGER IF EXISTS cards_cardtransition_append_only ON cards_cardtransition;
DROP FUNCTION IF EXISTS cards_cardtransition_append_only();
"""


def append_only(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(APPEND_ONLY)


def drop_append_only(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_APPEND_ONLY)


class Migration(migrations.Migration):
    dependencies = [("cards", "0001_initial"), ("agencies", "0002_role_groups")]

    operations = [
        migrations.RunPython(append_only, drop_append_only),
        migrations.RunPython(sync_role_groups, migrations.RunPython.noop),
    ]
