"""A small threaded HTTP server on the standard library: routes are callables.

The app mounts /metrics, /healthz, /readyz and the API on it; the server knows
nothing of what they do.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

__all__ = ["HttpServer", "Request", "Response"]

log = logging.getLogger("driftmon.server")


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: str
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    content_type: str = "text/plain; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Request], Response]


class HttpServer:
    """Serves ``routes`` (path -> handler) on ``host:port`` in a background thread."""

    def __init__(self, listen: str, routes: Mapping[str, Handler], max_body: int = 1 << 20) -> None:
        host, _, port = listen.rpartition(":")
        self._routes = dict(routes)
        self._max_body = max_body
        self._httpd = ThreadingHTTPServer((host.strip("[]"), int(port)), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    def _prefix_route(self, path: str) -> Handler | None:
        """The handler of the longest route ending in "/" that ``path`` starts with."""
        trees = [r for r in self._routes if r.endswith("/") and path.startswith(r)]
        return self._routes[max(trees, key=len)] if trees else None

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._httpd.server_address[:2]
        return str(host), int(port)

    @property
    def url(self) -> str:
        host, port = self.address
        return f"http://{host}:{port}"

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                handler = server._routes.get(parts.path) or server._prefix_route(parts.path)
                length = int(self.headers.get("content-length") or 0)
                if length > server._max_body:
                    self._send(Response(413, b"request body too large\n"))
                    self.close_connection = True
                    return
                body = self.rfile.read(length) if length else b""
                if handler is None:
                    self._send(Response(404, b"not found\n"))
                    return
                try:
                    resp = handler(
                        Request(
                            self.command, parts.path, parts.query, dict(self.headers.items()), body
                        )
                    )
                except Exception:
                    log.exception("handler for %s failed", parts.path)
                    resp = Response(500, b"internal error\n")
                self._send(resp)

            def _send(self, resp: Response) -> None:
                self.send_response(resp.status)
                self.send_header("Content-Type", resp.content_type)
                self.send_header("Content-Length", str(len(resp.body)))
                for k, v in resp.headers.items():
                    self.send_header(k, v)
                self.send_header("Connection", "close")  # no idle keep-alive outlives stop()
                self.close_connection = True
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(resp.body)

            do_GET = do_POST = do_HEAD = _serve

            def log_message(self, format: str, *args: object) -> None:
                log.debug("http %s", format % args)

        return _Handler

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="driftmon-http", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
