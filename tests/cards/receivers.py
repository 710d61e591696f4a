"""A real HTTP receiver for deliveries (the card center, a bank's webhook endpoint): a threaded
server on 127.0.0.1 on a port of this branch's range (7500-7599), that can be down for a while
and come back on the same port, answer given statuses, or hang."""

from __future__ import annotations

import contextlib
import http.server
import json
import socket
import threading
import time

PORTS = range(7500, 7600)


def free_port(start: int = 7500) -> int:
    """A port of the range nobody listens on now."""
    for port in range(start, PORTS.stop):
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 7500-7599")


class Receiver:
    """Keeps every request it answered (path, headers, JSON body, when); `statuses` (a list, or
    lists per path prefix) are answered in turn, then 200; a path in `hang` gets no answer for
    `hang_seconds`."""

    def __init__(self, port: int | None = None, statuses=(), hang=(), hang_seconds=30.0):
        self.port = port or free_port()
        self.statuses = statuses if isinstance(statuses, dict) else list(statuses)
        self.hang = tuple(hang)
        self.hang_seconds = hang_seconds
        self.received: list[dict] = []
        self.hanging = 0  # requests given no answer
        self.lock = threading.Lock()
        self.server: http.server.ThreadingHTTPServer | None = None
        self.thread: threading.Thread | None = None
        self.stopping = threading.Event()

    def url(self, path: str = "/notices") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _handler(self):
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if any(self.path.startswith(prefix) for prefix in receiver.hang):
                    with receiver.lock:
                        receiver.hanging += 1
                    receiver.stopping.wait(receiver.hang_seconds)
                    return  # no answer at all
                with receiver.lock:
                    statuses = receiver.statuses
                    if isinstance(statuses, dict):  # per path prefix
                        statuses = next(
                            (v for k, v in statuses.items() if self.path.startswith(k)), []
                        )
                    status = statuses.pop(0) if statuses else 200
                    if 200 <= status < 300:
                        receiver.received.append(
                            {
                                "path": self.path,
                                "headers": dict(self.headers),
                                "raw": body,
                                "body": json.loads(body),
                                "at": time.monotonic(),
                            }
                        )
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        return Handler

    def start(self) -> Receiver:
        self.stopping.clear()
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        if self.server is None:
            return
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)
        self.server = None

    @contextlib.contextmanager
    def running(self):
        self.start()
        try:
            yield self
        finally:
            self.stop()

    def bodies(self, path: str = "") -> list[dict]:
        with self.lock:
            return [r["body"] for r in self.received if r["path"].startswith(path)]


def clear_breakers(destinations=("cardcenter", "bank:BOSC", "bank:ICBC")) -> None:
    """Close the circuit breakers of the test destinations (their state is in Redis, which
    outlives a test)."""
    from django.core.cache import cache

    parts = ("failures", "open-until", "probe")
    cache.delete_many([f"shebao:breaker:{d}:{p}" for d in destinations for p in parts])
