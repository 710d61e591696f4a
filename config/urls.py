"""The four surfaces: clerk admin, the partner-bank API, the public status page (and i18n)."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/v1/", include("cards.api.urls")),
    path("status/", include("cards.public.urls")),
]
