"""gunicorn's settings (`gunicorn -c config/gunicorn.py config.wsgi`), each from the environment.

- A worker that has not answered within GUNICORN_TIMEOUT seconds is killed and replaced: no request
  holds a worker longer. PostgreSQL stops a statement after DATABASE_STATEMENT_TIMEOUT_MS and a
  lock wait after DATABASE_LOCK_TIMEOUT_MS (config/settings/base.py), well before that.
- Prometheus' multi-process mode: every worker writes its samples under PROMETHEUS_MULTIPROC_DIR,
  emptied when the server starts; a worker that exits is marked dead (common/metrics.py).
- The access log names the path without its query string (a QR code's receipt number travels in
  it) and the request id.
"""

import os
import shutil

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "4"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
keepalive = 5
max_requests = 5000
max_requests_jitter = 500
accesslog = "-"
access_log_format = "%(h)s %(m)s %(U)s %(s)s %(B)s %(M)sms request_id=%({x-request-id}o)s"


def on_starting(server):
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        shutil.rmtree(directory, ignore_errors=True)
        os.makedirs(directory, exist_ok=True)


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
