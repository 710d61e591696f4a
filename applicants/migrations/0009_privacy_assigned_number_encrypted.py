"""The assigned social security number (issue #17) encrypted at rest like the document number,
with a blind index that keeps it unique and any exact lookup one indexed read. The existing
numbers are encrypted in place (no plaintext copy is left)."""

from django.db import migrations

import common.fields
from common.reencrypt import encrypt_existing


class Migration(migrations.Migration):
    dependencies = [
        ("applicants", "0008_crypto_encrypted_fields"),
    ]

    operations = [
        migrations.AlterField(
            model_name="applicant",
            name="assigned_social_security_number",
            field=common.fields.EncryptedCharField(
                blank=True,
                context="social_security_number",
                editable=False,
                max_length=18,
                null=True,
                verbose_name="assigned social security number",
            ),
        ),
        migrations.AddField(
            model_name="applicant",
            name="assigned_social_security_number_bidx",
            field=common.fields.BlindIndexField(
                blank=True,
                context="social_security_number",
                null=True,
                source="assigned_social_security_number",
                unique=True,
            ),
        ),
        migrations.RunPython(
            encrypt_existing("applicants.Applicant"), migrations.RunPython.noop, elidable=False
        ),
    ]
