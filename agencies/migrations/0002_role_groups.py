from django.db import migrations

from agencies.roles import sync_role_groups


class Migration(migrations.Migration):
    dependencies = [
        ("agencies", "0001_initial"),
        ("applicants", "0001_initial"),
        ("common", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(sync_role_groups, migrations.RunPython.noop)]
