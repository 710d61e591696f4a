"""Settings for the load benchmarks (bench/harness.py): the production settings, plus one trivial
view beside the real URLs (bench/urls.py) to measure the ceiling of the same stack."""

from config.settings.production import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
