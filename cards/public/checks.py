"""System checks of the public status page's settings."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, register


@register()
def status_page_base_url(app_configs, **kwargs) -> list[Error]:
    """Every QR code and printed link points at STATUS_PAGE_BASE_URL: without it (DEBUG off) a
    receipt would carry whatever host the clerk's browser used, which a citizen's phone may not
    reach. Refuse to start."""
    url = getattr(settings, "STATUS_PAGE_BASE_URL", "")
    if not url:
        if settings.DEBUG:
            return []
        return [
            Error(
                "STATUS_PAGE_BASE_URL is not set.",
                hint="Set it to the public address of the status page, e.g. "
                "https://shebao.example.gov.cn (every QR code and printed link uses it).",
                id="cards.E001",
            )
        ]
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return [
            Error(
                f"STATUS_PAGE_BASE_URL is not an absolute http(s) address: {url!r}.",
                hint="Write it as https://host[:port][/prefix].",
                id="cards.E002",
            )
        ]
    return []
