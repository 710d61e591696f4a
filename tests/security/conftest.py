"""Security tests share the lifecycle world (tests/cards/conftest.py) and the API's clients, and
read the pages in English."""

import pytest

from tests.api.conftest import _api_settings, api, bank_key  # noqa: F401 - fixtures
from tests.cards.conftest import world  # noqa: F401 - fixtures


@pytest.fixture(autouse=True)
def _pages_in_english(settings):
    settings.LANGUAGE_CODE = "en"
