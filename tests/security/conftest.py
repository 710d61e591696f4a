"""Security tests share the lifecycle world (tests/cards/conftest.py) and the API's clients."""

from tests.api.conftest import _api_settings, api, bank_key  # noqa: F401 - fixtures
from tests.cards.conftest import world  # noqa: F401 - fixtures
