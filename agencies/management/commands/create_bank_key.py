from django.core.management.base import BaseCommand, CommandError

from agencies.models import PartnerBank
from agencies.services import bank_api_key_create


class Command(BaseCommand):
    help = (
        "Create an API key for a partner bank and print it (its last line). The key is stored "
        "only as a hash: copy it now, it cannot be shown again. Revoke keys in the admin."
    )

    def add_arguments(self, parser):
        parser.add_argument("bank_code", help="The bank's code, e.g. BOSC.")
        parser.add_argument("--name", default="", help="What the key is for.")
        parser.add_argument(
            "--sandbox",
            action="store_true",
            help="A sandbox key: it acts only on the bank's sandbox cards (/api/v1/sandbox/), "
            "never on real cards.",
        )

    def handle(self, *args, bank_code: str, name: str, sandbox: bool = False, **options):
        bank = PartnerBank.objects.filter(code__iexact=bank_code.strip()).first()
        if bank is None:
            known = ", ".join(PartnerBank.objects.values_list("code", flat=True)) or "none"
            raise CommandError(f"No partner bank {bank_code!r} (known: {known}).")
        api_key, key = bank_api_key_create(bank=bank, name=name, sandbox=sandbox)
        kind = "Sandbox API key" if sandbox else "API key"
        self.stdout.write(
            f"{kind} {api_key.prefix}… created for {bank.code}. Send it as "
            "'Authorization: Api-Key <key>'. It is not stored: copy it now."
        )
        self.stdout.write(key)
