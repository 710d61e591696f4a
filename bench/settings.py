"""Settings for the load benchmarks (bench/harness.py): the production settings, plus one trivial
view beside the real URLs (bench/urls.py) to measure the ceiling of the same stack."""

import os

from config.settings.production import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
STATUS_PAGE_BASE_URL = os.environ.get("STATUS_PAGE_BASE_URL", "http://127.0.0.1:8000")

if os.environ.get("BENCH_COUNT_QUERIES"):  # bench/admin_pages.py: each page's query count
    MIDDLEWARE = ["bench.querycount.QueryCountMiddleware", *MIDDLEWARE]  # noqa: F405
