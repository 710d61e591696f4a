"""Log formats: plain text on a laptop, one JSON object per line in production (LOG_FORMAT).

Every line carries the request id (common/requestid.py) and, in a worker, the task's name. Only
the message and a few whitelisted fields are written: personal data is never passed to a logger
in the first place (services log ids, never ID numbers, names or phones).
"""

from __future__ import annotations

import datetime
import json
import logging

# Fields a caller may add with `extra=` that the JSON line keeps.
EXTRA_FIELDS = ("http_method", "path", "view", "status", "duration_ms")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        document = {
            "ts": datetime.datetime.fromtimestamp(record.created, datetime.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        task = getattr(record, "task", "")
        if task:
            document["task"] = task
        for field in EXTRA_FIELDS:
            if hasattr(record, field):
                document[field] = getattr(record, field)
        if record.exc_info:
            document["exc"] = self.formatException(record.exc_info)
        return json.dumps(document, ensure_ascii=False, default=str)
