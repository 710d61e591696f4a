"""The Celery application: the worker and beat of the expiry jobs and partner events."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("shebao")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
