from django.urls import path

from cards.public.views import status_lookup_view

app_name = "status"
urlpatterns = [path("", status_lookup_view, name="lookup")]
