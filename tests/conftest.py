import pytest


@pytest.fixture(autouse=True)
def _english(settings):
    """Tests read messages in English unless a test switches language itself."""
    from django.utils import translation

    with translation.override("en"):
        yield
