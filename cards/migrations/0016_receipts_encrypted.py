# The local national-platform inbox keeps card numbers encrypted, as the card-center inbox does.

import common.fields
from common.reencrypt import encrypt_existing
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('cards', '0015_integrate_choices'),
    ]

    operations = [
        migrations.AlterField(
            model_name='electroniccardreceipt',
            name='body',
            field=common.fields.SealedJSONField(context='electroniccardreceipt.body', sealed_keys=['card_number', 'social_security_number'], verbose_name='event'),
        ),
        migrations.AlterField(
            model_name='electroniccardreceipt',
            name='card_number',
            field=common.fields.EncryptedCharField(blank=True, context='card_number', max_length=20, verbose_name='card number'),
        ),
        migrations.RunPython(
            encrypt_existing("cards.ElectronicCardReceipt"),
            migrations.RunPython.noop,
            elidable=False,
        ),
    ]
