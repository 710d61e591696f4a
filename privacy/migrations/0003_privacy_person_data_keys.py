"""Per-person data keys (crypto-shredding of the transition log); the personal-data logs by age."""

import common.fields
import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('agencies', '0007_bankapi_platform_and_sandbox_keys'),
        ('applicants', '0008_crypto_encrypted_fields'),
        ('cards', '0016_receipts_encrypted'),
        ('privacy', '0002_integrate_choices'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='PersonDataKey',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('key', common.fields.EncryptedCharField(blank=True, context='person_data_key', max_length=64, verbose_name='data key (wrapped)')),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='created at')),
                ('erased_at', models.DateTimeField(blank=True, null=True, verbose_name='destroyed at')),
            ],
            options={
                'verbose_name': 'personal data key',
                'verbose_name_plural': 'personal data keys',
            },
        ),
        migrations.AddIndex(
            model_name='personaldataaccess',
            index=models.Index(fields=['at'], name='pdaccess_at_idx'),
        ),
        migrations.AddIndex(
            model_name='personchange',
            index=models.Index(fields=['at'], name='personchange_at_idx'),
        ),
        migrations.AddField(
            model_name='persondatakey',
            name='applicant',
            field=models.OneToOneField(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='applicants.applicant', verbose_name='applicant'),
        ),
    ]
