"""Real headless Chromium (Debian's package) driven by Playwright, for the browser tests.

Use the `browser_page` fixture (tests/conftest.py): a fresh phone- or desktop-sized page against
pytest-django's `live_server`, with the reference data that migrations create restored (a
live-server test runs in a transactional database that is flushed afterwards).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts" / "screenshots"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}


def chromium_path() -> str:
    path = (
        os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    )
    if not path:
        raise RuntimeError(
            "Browser tests need Debian's chromium: apt-get install chromium (or set CHROMIUM)."
        )
    return path


def screenshot(page, name: str) -> Path:
    """Save a full-page screenshot under artifacts/screenshots/ and return its path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def restore_reference_data() -> None:
    """Groups of the staff roles and the holiday calendar, as the migrations create them."""
    from django.apps import apps

    from agencies.roles import sync_role_groups
    from common.workdays import seed_calendar_from_library

    sync_role_groups(apps)
    seed_calendar_from_library()
