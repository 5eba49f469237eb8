"""The daemon's HTTP server: uvicorn (h11) and Starlette behind one small, synchronous seam.

Routes are plain callables from :class:`Request` to :class:`Response`, run in a
worker thread; nothing outside this module imports the framework. Around them
the module adds what a server facing untrusted clients needs and uvicorn does
not give by itself:

- a cap on open connections, beyond which a new one is answered 503 and closed;
- an idle timeout (no request yet, or between keep-alive requests), a read
  timeout (no byte for a while inside a request) and a total deadline for
  reading each request, headers and body (a client trickling one byte a second
  is cut off with 408), enforced by one watchdog timer per server;
- a route's ``guard`` (the token check; cheap, no I/O: it runs on the event
  loop) sees the headers before any body byte is read. ``Content-Length`` is
  required for a body (400 when missing, negative or malformed: h11 refuses
  the last two itself), chunked bodies get 411, and a length over the cap
  gets 413 before the body is read. The unread body is then drained
  (discarded, a bounded amount) so the client sees the answer, not a reset;
- a half-closed request is answered when complete and refused (400) when
  its body was cut short.
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import h11
import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect
from starlette.requests import Request as _StarletteRequest
from starlette.responses import Response as _StarletteResponse
from starlette.routing import Route as _StarletteRoute
from uvicorn.protocols.http.h11_impl import H11Protocol

from monitor.errors import ConfigError

__all__ = ["Guard", "Handler", "HttpServer", "Limits", "Request", "Response", "Route"]

log = logging.getLogger("driftmon.server")

_METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: str
    headers: Mapping[str, str]  # names in lower case
    body: bytes


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    content_type: str = "text/plain; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Request], Response]
#: checks a request's head (``body`` empty): a refusal, or the body cap in bytes
Guard = Callable[[Request], Response | int]


@dataclass(frozen=True)
class Route:
    """A handler with the methods it answers and the check run before its body is read."""

    handler: Handler
    methods: tuple[str, ...] = ("GET", "HEAD")
    guard: Guard | None = None
    max_body: int = 0  # the body cap when there is no guard


@dataclass(frozen=True)
class Limits:
    """Connection limits and timeouts (seconds) of one server."""

    max_connections: int = 100
    idle_timeout: float = 30.0
    read_timeout: float = 10.0
    request_deadline: float = 30.0
    shutdown_grace: float = 30.0
    drain_bytes: int = 4 << 20  # body bytes discarded after an early answer, at most
    drain_seconds: float = 2.0


def _text(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    """A refusal made by the server itself: JSON, like the API's own errors."""
    body = json.dumps({"error": message}).encode() + b"\n"
    return Response(status, body, "application/json", headers or {})


def _raw_answer(status: int, reason: str) -> bytes:
    body = reason.lower().encode() + b"\n"
    return (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body


def _body_cap(route: Route, head: Request) -> Response | int:
    """The refusal of a request's head, or how many body bytes it may send."""
    if head.method not in route.methods:
        return _text(405, f"use {' or '.join(route.methods)}", {"Allow": ", ".join(route.methods)})
    cap = route.guard(head) if route.guard is not None else route.max_body
    if isinstance(cap, Response):
        return cap
    if "chunked" in head.headers.get("transfer-encoding", "").lower():
        return _text(411, "chunked bodies are not accepted: send Content-Length")
    length = head.headers.get("content-length")
    if length is None:
        return _text(400, "Content-Length is required") if head.method == "POST" else 0
    declared = int(length)  # h11 has refused anything but digits
    if declared > cap:
        return _text(413, f"body of {declared} bytes is over the limit of {cap}")
    return declared


async def _read_body(req: _StarletteRequest, length: int) -> bytes | None:
    """Exactly ``length`` bytes of body, or None when the client went away first."""
    if length == 0:
        return b""
    chunks: list[bytes] = []
    got = 0
    try:
        async for chunk in req.stream():
            chunks.append(chunk)
            got += len(chunk)
    except ClientDisconnect:
        return None
    return b"".join(chunks) if got == length else None


def _endpoint(path: str, route: Route) -> Callable[[_StarletteRequest], Any]:
    async def endpoint(req: _StarletteRequest) -> _StarletteResponse:
        head = Request(
            req.method,
            req.url.path,
            req.url.query,
            {k.lower(): v for k, v in req.headers.items()},
            b"",
        )
        try:
            cap = _body_cap(route, head)  # cheap (no I/O): slow clients hold no thread
            if isinstance(cap, Response):
                return _to_starlette(cap)
            body = await _read_body(req, cap)
            if body is None:  # incomplete: nothing is handled, nobody to answer
                return _to_starlette(_text(400, "incomplete body"))
            resp = await run_in_threadpool(route.handler, _replace_body(head, body))
        except Exception:
            log.exception("handler for %s failed", path)
            resp = _text(500, "internal error")
        return _to_starlette(resp)

    return endpoint


def _replace_body(head: Request, body: bytes) -> Request:
    return Request(head.method, head.path, head.query, head.headers, body)


def _to_starlette(resp: Response) -> _StarletteResponse:
    return _StarletteResponse(resp.body, resp.status, resp.headers, media_type=resp.content_type)


def build_app(routes: Mapping[str, Route]) -> Starlette:
    """The ASGI application of ``routes``; a path ending in ``/{rest:path}`` is a prefix."""
    return Starlette(
        routes=[
            _StarletteRoute(path, _endpoint(path, route), methods=_METHODS)
            for path, route in routes.items()
        ]
    )


class _Protocol(H11Protocol):
    """uvicorn's h11 protocol with a connection cap and per-request read deadlines."""

    limits: Limits = Limits()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self.phase, self.since, self.last_read, self.drained = "idle", time.monotonic(), 0.0, 0
        if len(self.connections) >= self.limits.max_connections:
            self.transport, self.phase = transport, "refused"
            transport.write(_raw_answer(503, "Service Unavailable"))
            transport.close()
            return
        super().connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self.phase == "refused":
            return
        now = time.monotonic()
        if self.phase == "idle":
            self.phase, self.since = "reading", now
        self.last_read = now
        if self.phase == "draining":
            self.drained += len(data)
            if self.drained > self.limits.drain_bytes:
                self.transport.close()
                return
        try:
            super().data_received(data)
        except Exception as exc:  # never a traceback for what a client sent
            log.info("closing a connection after a protocol error: %s", type(exc).__name__)
            self._abort(400, "Bad Request")
            return
        if self.phase == "reading" and self.conn.their_state in (h11.DONE, h11.MUST_CLOSE):
            self.phase = "handling"
        elif self.phase == "draining" and self.conn.their_state is h11.IDLE:
            self.phase, self.since = "idle", now

    def eof_received(self) -> bool | None:  # type: ignore[override]
        """A half-close: answer what was asked in full, refuse what was cut short."""
        if self.phase in ("refused", "idle", "draining"):
            return None  # nothing in progress: close
        if self.phase == "handling":
            self.phase = "closing"  # the answer is written, then the connection closed
            return True
        if self.conn.their_state is h11.SEND_BODY:
            try:
                self.conn.receive_data(b"")  # h11 refuses the short body: 400 from uvicorn
                self.handle_events()
            except Exception:
                self._abort(400, "Bad Request")
        else:
            self._abort(400, "Bad Request")
        return None

    def on_response_complete(self) -> None:
        body_unread = self.conn.their_state is h11.SEND_BODY
        closing = self.phase == "closing"
        super().on_response_complete()
        if closing:
            self.transport.close()
        self.phase = "draining" if body_unread else "idle"
        self.since, self.drained = time.monotonic(), 0

    def _abort(self, status: int, reason: str) -> None:
        if not self.transport.is_closing():
            if self.cycle is None or not self.cycle.response_started:
                self.transport.write(_raw_answer(status, reason))
            self.transport.close()

    def expire(self, now: float) -> None:
        """Close the connection if it outlived the timeout of its phase."""
        lim = self.limits
        if self.phase == "idle" and now - self.since > lim.idle_timeout:
            self.transport.close()
        elif self.phase == "reading" and (
            now - self.since > lim.request_deadline or now - self.last_read > lim.read_timeout
        ):
            self._abort(408, "Request Timeout")
        elif self.phase == "draining" and now - self.since > lim.drain_seconds:
            self.transport.close()


def _bind(listen: str) -> socket.socket:
    """A listening socket on ``host:port``; a clash is one line naming the setting."""
    host, _, port = listen.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        # proto IPPROTO_TCP: asyncio turns Nagle off only on sockets that say so, and
        # uvicorn writes a response's head and body separately; with Nagle on, every
        # keep-alive answer waited ~40 ms for the client's delayed ACK
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, int(port)))
        sock.listen(512)
    except OSError as exc:
        sock.close()
        reason = "address already in use" if exc.errno == errno.EADDRINUSE else exc.strerror
        raise ConfigError(f"server.listen {listen}: {reason or exc}") from None
    except ValueError:
        raise ConfigError(f"server.listen {listen}: expected HOST:PORT") from None
    sock.set_inheritable(True)
    return sock


class HttpServer:
    """Serves ``routes`` (path -> handler or Route) on ``host:port`` in a background thread."""

    def __init__(
        self,
        listen: str,
        routes: Mapping[str, Handler | Route],
        limits: Limits | None = None,
        max_body: int = 1 << 20,
    ) -> None:
        self.limits = limits or Limits()
        self._routes = {
            path: r if isinstance(r, Route) else Route(r, ("GET", "HEAD", "POST"), None, max_body)
            for path, r in routes.items()
        }
        self._sock = _bind(listen)
        protocol = type("DriftmonProtocol", (_Protocol,), {"limits": self.limits})
        self._config = uvicorn.Config(
            build_app(self._routes),
            http=protocol,
            lifespan="off",
            log_config=None,
            access_log=False,
            server_header=False,
            timeout_keep_alive=int(max(1, self.limits.idle_timeout)),
            timeout_graceful_shutdown=int(max(1, self.limits.shutdown_grace)),
        )
        self._server = uvicorn.Server(self._config)
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._sock.getsockname()[:2]
        return str(host), int(port)

    @property
    def url(self) -> str:
        host, port = self.address
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def connections(self) -> int:
        return len(self._server.server_state.connections)

    async def _serve(self) -> None:
        loop = asyncio.get_running_loop()

        def watchdog() -> None:
            now = time.monotonic()
            for conn in list(self._server.server_state.connections):
                if isinstance(conn, _Protocol):
                    conn.expire(now)
            loop.call_later(0.5, watchdog)

        loop.call_later(0.5, watchdog)
        await self._server.serve(sockets=[self._sock])

    def start(self) -> None:
        self._thread = threading.Thread(
            target=asyncio.run, args=(self._serve(),), name="driftmon-http", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started and self._thread.is_alive():
            if time.monotonic() > deadline:
                break
            time.sleep(0.01)

    def stop(self) -> None:
        """Stop accepting; requests in flight get ``limits.shutdown_grace`` to finish."""
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=self.limits.shutdown_grace + 5)
        self._sock.close()
