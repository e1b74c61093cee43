"""HTTP handlers and server construction, kept free of process concerns so tests can run them."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Config:
    service_name: str
    version: str
    bucket_name: str | None = None


class State:
    """Readiness flag; cleared on shutdown so the readiness probe fails before the listener closes."""

    def __init__(self) -> None:
        self._ready = threading.Event()
        self._ready.set()

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    def mark_not_ready(self) -> None:
        self._ready.clear()

    def mark_ready(self) -> None:
        self._ready.set()


def make_handler(config: Config, state: State) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "${{ values.name }}"
        sys_version = ""

        def do_GET(self) -> None:  # noqa: N802 - name fixed by BaseHTTPRequestHandler
            self._route(send_body=True)

        def do_HEAD(self) -> None:  # noqa: N802
            self._route(send_body=False)

        def _not_allowed(self) -> None:
            self._send(HTTPStatus.METHOD_NOT_ALLOWED, {"error": "method not allowed"}, extra={"Allow": "GET, HEAD"})

        do_POST = do_PUT = do_PATCH = do_DELETE = _not_allowed  # noqa: N815

        def _route(self, send_body: bool) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/healthz":
                self._send(HTTPStatus.OK, {"status": "ok"}, send_body)
            elif path == "/readyz":
                if state.ready:
                    self._send(HTTPStatus.OK, {"status": "ready"}, send_body)
                else:
                    self._send(HTTPStatus.SERVICE_UNAVAILABLE, {"status": "shutting down"}, send_body)
            elif path == "/":
                body = {"service": config.service_name, "version": config.version, "bucket": config.bucket_name}
                self._send(HTTPStatus.OK, body, send_body)
            else:
                self._send(HTTPStatus.NOT_FOUND, {"error": "not found"}, send_body)

        def _send(
            self, status: HTTPStatus, body: Any, send_body: bool = True, extra: dict[str, str] | None = None
        ) -> None:
            payload = json.dumps(body).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("Cache-Control", "no-store")
            for name, value in (extra or {}).items():
                self.send_header(name, value)
            self.end_headers()
            if send_body:
                self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            # Probes hit every few seconds; access logs would drown everything else.
            pass

    return Handler


def create_server(config: Config, state: State, host: str = "0.0.0.0", port: int = ${{ values.port }}) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer((host, port), make_handler(config, state))
    server.daemon_threads = True
    return server
