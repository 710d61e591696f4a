"""Django's admin autodiscovery imports `<app>.admin`; the clerk screens live in cards/counter/."""

from cards.counter import (
    admin,  # noqa: F401
    functions,  # noqa: F401 - issue #17's counter screens
)
