from django.core.management.base import BaseCommand, CommandError

from agencies.models import PartnerBank
from agencies.services import bank_webhook_set
from common.errors import ApplicationError


class Command(BaseCommand):
    help = (
        "Register a partner bank's webhook URL (an empty URL removes it) and print the signing "
        "secret as the last line; --rotate-secret makes a new secret."
    )

    def add_arguments(self, parser):
        parser.add_argument("bank_code", help="The bank's code, e.g. BOSC.")
        parser.add_argument("url", help="The https URL that receives the bank's events.")
        parser.add_argument("--rotate-secret", action="store_true")

    def handle(self, *args, bank_code: str, url: str, rotate_secret: bool, **options):
        bank = PartnerBank.objects.filter(code__iexact=bank_code.strip()).first()
        if bank is None:
            raise CommandError(f"No partner bank {bank_code!r}.")
        try:
            bank = bank_webhook_set(bank=bank, url=url, rotate_secret=rotate_secret)
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        if not bank.webhook_url:
            self.stdout.write(f"Webhooks of {bank.code} switched off.")
            return
        self.stdout.write(f"Webhooks of {bank.code} go to {bank.webhook_url}, signed with:")
        self.stdout.write(bank.webhook_secret)
