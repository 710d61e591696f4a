"""The privacy tests share the lifecycle world, the API's clients and the admin's logins."""

from tests.admin.conftest import clients  # noqa: F401 - fixtures
from tests.api.conftest import _api_settings, api, bank_key  # noqa: F401 - fixtures
from tests.cards.conftest import card_in, person, world  # noqa: F401 - fixtures
