"""The real URLs, plus the benchmarks' yardsticks, through the same middleware:

  /bench/trivial/           a view that does nothing: the framework's ceiling
  /bench/floor/status/      the I/O a status lookup cannot avoid, and nothing else: the rate
                            limiter's Redis round trip (the real limits) and one indexed read of
                            the card by receipt number in PostgreSQL (POST, CSRF-checked)
  /bench/floor/api/<id>/    the I/O a bank's card detail cannot avoid: the API key's row, the
                            per-key limiter in Redis and one indexed read of the card

A floor phase next to the ceiling shows how much of the gap to a trivial view is the round
trips the issues require (every lookup counted in Redis, every card read from PostgreSQL) rather
than code, on the machine the benchmark runs on.
"""

from django.http import HttpResponse, JsonResponse
from django.urls import path

from agencies.selectors import bank_api_key_find
from cards.api.throttling import api_key_limit
from cards.public.views import lookup_limits
from common import ratelimit
from common.prepared import PreparedStatement
from config.urls import urlpatterns as real_urlpatterns

_CARD_BY_RECEIPT = PreparedStatement("SELECT id FROM cards_card WHERE receipt_number = %s")
_CARD_OF_BANK = PreparedStatement(
    "SELECT id FROM cards_card WHERE public_id = %s::uuid AND bank_id = %s"
)


def trivial(request):
    return HttpResponse(b"ok", content_type="text/plain")


def status_floor(request):
    receipt = request.POST.get("receipt_number", "")
    by_address, by_receipt = lookup_limits()
    ratelimit.hit([(by_address, ratelimit.client_address(request)), (by_receipt, receipt)])
    row = _CARD_BY_RECEIPT.fetchone([receipt])
    return HttpResponse(b"floor" if row else b"none", content_type="text/plain")


def api_floor(request, card_id):
    key = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")[2]
    api_key = bank_api_key_find(key=key)
    if api_key is None:
        return JsonResponse({"error": "key"}, status=401)
    ratelimit.hit([(api_key_limit(), api_key.prefix)])
    row = _CARD_OF_BANK.fetchone([str(card_id), api_key.bank_id])
    return JsonResponse({"id": str(card_id)} if row else {}, status=200 if row else 404)


urlpatterns = [
    *real_urlpatterns,
    path("bench/trivial/", trivial),
    path("bench/floor/status/", status_floor),
    path("bench/floor/api/<uuid:card_id>/", api_floor),
]
