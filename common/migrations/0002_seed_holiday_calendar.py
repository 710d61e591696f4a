from django.db import migrations


def seed(apps, schema_editor):
    from common.workdays import seed_calendar_from_library

    seed_calendar_from_library(apps.get_model("common", "CalendarYear"), apps.get_model("common", "CalendarDay"))


class Migration(migrations.Migration):
    dependencies = [("common", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
