"""A loopback HTTP server that answers every request with one hostile behaviour.

Each behaviour writes raw bytes to the socket, so the tests see exactly what a real
misbehaving endpoint would send: headers then a trickle, an endless body, a gzip
bomb, or a fixed body. It records how each connection ended ("complete" or "cut").
"""

from __future__ import annotations

import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterator

__all__ = ["HostileServer", "endless_body", "fixed", "gzip_bomb", "trickle"]

Behaviour = Callable[[], Iterator[bytes]]


def _head(status: int = 200, extra: str = "") -> bytes:
    return (
        f"HTTP/1.1 {status} OK\r\nContent-Type: application/json\r\n{extra}"
        "Connection: close\r\n\r\n"
    ).encode()


def trickle(period: float, total: int) -> Behaviour:
    """Headers, then one byte of a never-finishing JSON body every ``period`` seconds."""

    def gen() -> Iterator[bytes]:
        yield _head(extra=f"Content-Length: {total}\r\n")
        for _ in range(total):
            time.sleep(period)
            yield b" "

    return gen


def endless_body(megabytes: int, declare: bool) -> Behaviour:
    """A JSON-looking body of ``megabytes`` MiB, with or without Content-Length."""

    def gen() -> Iterator[bytes]:
        size = megabytes << 20
        extra = f"Content-Length: {size}\r\n" if declare else ""
        yield _head(extra=extra)
        yield b'{"data": ['
        chunk = b"[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8], " * 1500
        sent = 10
        while sent < size:
            yield chunk
            sent += len(chunk)

    return gen


def gzip_bomb(megabytes: int) -> Behaviour:
    """A gzip body (a few hundred KiB) that decompresses to ``megabytes`` MiB of JSON."""
    comp = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    parts = [comp.compress(b'{"data": [')]
    block = b" " * (1 << 20)
    for _ in range(megabytes):
        parts.append(comp.compress(block))
    parts.append(comp.flush())
    payload = b"".join(parts)

    def gen() -> Iterator[bytes]:
        yield _head(extra=f"Content-Encoding: gzip\r\nContent-Length: {len(payload)}\r\n")
        yield payload

    return gen


def fixed(body: bytes, status: int = 200) -> Behaviour:
    def gen() -> Iterator[bytes]:
        yield _head(status, f"Content-Length: {len(body)}\r\n")
        yield body

    return gen


class HostileServer:
    """Accepts connections on 127.0.0.1; reads one request; plays ``behaviour``."""

    def __init__(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self.endings: list[str] = []
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(10)
            data = b""
            try:
                while b"\r\n\r\n" not in data:
                    got = conn.recv(65536)
                    if not got:
                        return
                    data += got
                head, _, body = data.partition(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                while len(body) < length:  # read the request body: no reset on close
                    got = conn.recv(65536)
                    if not got:
                        return
                    body += got
                for piece in self.behaviour():
                    if self._stop.is_set():
                        break
                    conn.sendall(piece)
                ending = "complete"
            except OSError:
                ending = "cut"  # the client hung up before the behaviour finished
            with self._lock:
                self.endings.append(ending)

    def wait_endings(self, n: int, timeout: float = 30.0) -> list[str]:
        """The endings of the first ``n`` connections (polls until they ended)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.endings) >= n:
                    return list(self.endings)
            time.sleep(0.02)
        raise AssertionError(f"only {len(self.endings)} of {n} connections ended")

    def close(self) -> None:
        self._stop.set()
        self._sock.close()
        self._thread.join(timeout=5)
