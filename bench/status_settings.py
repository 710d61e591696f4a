"""Settings for bench/status_lookup.py: the production settings, plus one trivial view beside the
real ones (bench/status_urls.py) to measure the ceiling of the same stack."""

from config.settings.production import *  # noqa: F403

ROOT_URLCONF = "bench.status_urls"
