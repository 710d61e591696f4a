"""Response headers for public pages that show personal information (the status page).

`public_page` sets, on every response of the view it wraps (form, answer, refusal):
  Content-Security-Policy  only our own stylesheet and images; no script at all; forms post only
                           to this site; no framing, no <base>, no plugins
  Referrer-Policy          same-origin: the page's address (a QR code puts a receipt number in
                           it) never travels to another site. Not `no-referrer`: under that
                           policy browsers send `Origin: null` with every form POST (Fetch spec,
                           "append a request Origin header"), which Django's CSRF check rightly
                           refuses, so the lookup form and the language switch would fail (403)
  X-Frame-Options          DENY, for browsers without CSP frame-ancestors
  Cache-Control            no-store (Django's never_cache): no copy on the device, in a proxy or
                           in the back-forward cache
"""

from __future__ import annotations

import functools

from django.utils.cache import add_never_cache_headers

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "style-src 'self'",
        "img-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
    ]
)
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=()"


def public_page(view):
    """Decorate a view of a public page that may show personal information."""

    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        response["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        response["Referrer-Policy"] = "same-origin"
        response["X-Frame-Options"] = "DENY"
        response["Permissions-Policy"] = PERMISSIONS_POLICY
        add_never_cache_headers(response)
        return response

    return wrapped
