"""The audit's tests use the lifecycle world and a bank's API client."""

from tests.api.conftest import _api_settings, api, bank_key  # noqa: F401 - fixtures
from tests.cards.conftest import world  # noqa: F401 - fixtures
