"""/api/v1/: the partner banks' API, its OpenAPI schema and its Swagger UI (own static files)."""

from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from cards.api import functions, platform, sandbox, views

app_name = "api"

urlpatterns = [
    path("applications", views.ApplicationsView.as_view(), name="applications"),
    path("cards", views.CardListView.as_view(), name="cards"),
    path("cards/ready", views.CardsReadyBatchView.as_view(), name="cards-ready"),
    path("cards/hand-over", views.CardsHandOverBatchView.as_view(), name="cards-hand-over"),
    path("cards/withdraw", views.CardsWithdrawBatchView.as_view(), name="cards-withdraw"),
    path("cards/<str:card_id>", views.CardDetailView.as_view(), name="card"),
    path("cards/<str:card_id>/ready", views.CardReadyView.as_view(), name="card-ready"),
    path("cards/<str:card_id>/hand-over", views.CardHandOverView.as_view(), name="card-hand-over"),
    path("cards/<str:card_id>/withdraw", views.CardWithdrawView.as_view(), name="card-withdraw"),
    path(
        "cards/<str:card_id>/financial/activate",
        functions.FinancialActivateView.as_view(),
        name="card-financial-activate",
    ),
    path(
        "cards/<str:card_id>/financial/freeze",
        functions.FinancialFreezeView.as_view(),
        name="card-financial-freeze",
    ),
    path(
        "cards/<str:card_id>/financial/unfreeze",
        functions.FinancialUnfreezeView.as_view(),
        name="card-financial-unfreeze",
    ),
    path(
        "cards/<str:card_id>/financial/report-lost",
        functions.FinancialReportLostView.as_view(),
        name="card-financial-report-lost",
    ),
    path("cards/<str:card_id>/fee/paid", functions.FeePaidView.as_view(), name="card-fee-paid"),
    path("events", views.EventListView.as_view(), name="events"),
    # The city's online service platform (cards/api/platform.py)
    path(
        "platform/applications",
        platform.PlatformApplicationsView.as_view(),
        name="platform-applications",
    ),
    path("platform/cards/<str:card_id>", platform.PlatformCardView.as_view(), name="platform-card"),
    # A bank's sandbox (cards/api/sandbox.py)
    path("sandbox/cards", sandbox.SandboxCardsView.as_view(), name="sandbox-cards"),
    path("sandbox/cards/<str:card_id>", sandbox.SandboxCardView.as_view(), name="sandbox-card"),
    path(
        "sandbox/cards/<str:card_id>/advance",
        sandbox.SandboxAdvanceView.as_view(),
        name="sandbox-card-advance",
    ),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    re_path(r"^(?P<path>.*)$", views.unknown_path),
]
