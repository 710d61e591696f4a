from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CardsConfig(AppConfig):
    name = "cards"
    verbose_name = _("Cards")

    def ready(self) -> None:
        from cards import metrics
        from cards.public import checks  # noqa: F401 - registers the status page's checks
        from common.metrics import register_collector

        register_collector(metrics.collect)  # the domain's gauges, read at scrape time
