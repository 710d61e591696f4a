"""A stand-in for the municipal exchange platform over HTTP, on this engineer's own ports
(7600-7699): answering from a dict, hanging, or not listening at all."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HANGING_PORT = 7601
ANSWERING_PORT = 7602
CLOSED_PORT = 7603  # nothing ever listens here


@contextlib.contextmanager
def hanging_registry(on_request: Callable[[], None] | None = None) -> Iterator[str]:
    """Accepts connections and never answers; `on_request` runs while a caller waits."""
    listener = socket.create_server(("127.0.0.1", HANGING_PORT))
    listener.settimeout(0.2)
    stop = threading.Event()
    accepted: list[socket.socket] = []

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _address = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            accepted.append(conn)
            if on_request is not None:
                on_request()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{HANGING_PORT}"
    finally:
        stop.set()
        thread.join(timeout=5)
        for conn in accepted:
            conn.close()
        listener.close()


@contextlib.contextmanager
def answering_registry(records: dict[str, dict], status: int = 200) -> Iterator[str]:
    """Answers GET /persons/<type>/<number> from `records` (by number), else 404."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            number = self.path.rstrip("/").rsplit("/", 1)[-1]
            record = records.get(number)
            code = status if record is not None or status != 200 else 404
            body = json.dumps(record or {}).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", ANSWERING_PORT), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{ANSWERING_PORT}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
