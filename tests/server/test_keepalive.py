"""Keep-alive answers go out at once: Nagle is off on every accepted connection."""

from __future__ import annotations

import socket

import httpx

from monitor.server import HttpServer, Request, Response


def _ok(_req: Request) -> Response:
    return Response(200, b"ok\n")


def test_accepted_connections_have_nagle_off() -> None:
    """uvicorn writes a response's head and body in two writes; with Nagle on the
    body waited for the client's delayed ACK (~40 ms per keep-alive request)."""
    server = HttpServer("127.0.0.1:0", {"/healthz": _ok})
    server.start()
    try:
        with httpx.Client() as client:
            assert client.get(server.url + "/healthz").text == "ok\n"
            conns = list(server._server.server_state.connections)
            assert conns, "the keep-alive connection is open"
            for conn in conns:
                sock = conn.transport.get_extra_info("socket")
                assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
            assert [client.get(server.url + "/healthz").status_code for _ in range(5)] == [200] * 5
    finally:
        server.stop()
