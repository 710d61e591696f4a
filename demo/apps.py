from django.apps import AppConfig


class DemoConfig(AppConfig):
    """Demo data for `make run` and the tests: above every app it fills (STYLE.md, habit 13)."""

    name = "demo"
    verbose_name = "Demo data"
