"""The four surfaces: clerk admin, the partner-bank API, the public status page (and i18n)."""

from django.contrib import admin
from django.urls import include, path

from common import health, metrics

handler500 = "common.faults.server_error"  # a lost database answers 503, not a 500

urlpatterns = [
    path("health/", health.liveness, name="health"),
    path("health/ready/", health.readiness, name="health-ready"),
    path("metrics", metrics.metrics_view, name="metrics"),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/v1/", include("cards.api.urls")),
    path("status/", include("cards.public.urls")),
]
