from django.core.management.base import BaseCommand

from agencies.services import platform_api_key_create


class Command(BaseCommand):
    help = (
        "Create an API key for the city's online service platform and print it (its last line). "
        "It may submit online applications (POST /api/v1/platform/applications) and read the "
        "cards it submitted; nothing else. Stored only as a hash: copy it now."
    )

    def add_arguments(self, parser):
        parser.add_argument("--name", default="", help="What the key is for.")

    def handle(self, *args, name: str, **options):
        api_key, key = platform_api_key_create(name=name)
        self.stdout.write(
            f"Online platform API key {api_key.prefix}… created. Send it as "
            "'Authorization: Api-Key <key>'. It is not stored: copy it now."
        )
        self.stdout.write(key)
