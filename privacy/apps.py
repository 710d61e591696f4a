from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PrivacyConfig(AppConfig):
    name = "privacy"
    verbose_name = _("Personal data protection")

    def ready(self) -> None:
        # The per-person data keys of crypto-shredding (common/crypto.py) are kept here.
        from common import crypto
        from privacy.keys import PersonDataKeys

        crypto.register_subject_key_provider(PersonDataKeys())
