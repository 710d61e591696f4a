from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CommonConfig(AppConfig):
    name = "common"
    verbose_name = _("Common settings")

    def ready(self) -> None:
        # Request ids into Celery tasks and log lines; metrics of the database, cache and tasks.
        from common import metrics, requestid  # noqa: F401

        metrics.install()
