"""The real URLs, plus /bench/trivial/: a view that does nothing, through the same middleware."""

from django.http import HttpResponse
from django.urls import path

from config.urls import urlpatterns as real_urlpatterns


def trivial(request):
    return HttpResponse(b"ok", content_type="text/plain")


urlpatterns = [*real_urlpatterns, path("bench/trivial/", trivial)]
