from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ApplicantsConfig(AppConfig):
    name = "applicants"
    verbose_name = _("Applicants and employers")
