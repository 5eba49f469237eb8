"""Reading a response body within a byte budget: raw bytes and decompressed bytes both counted.

httpx decodes ``Content-Encoding`` chunk by chunk without a bound on the output of
one chunk, so a small gzip bomb can still expand by three orders of magnitude in a
single call. Here the raw stream is read and decompressed by ``zlib`` with
``max_length``, so neither side ever holds more than the cap (plus one chunk).
"""

from __future__ import annotations

import zlib
from typing import Protocol

import httpx

__all__ = ["ACCEPT_ENCODING", "BodyTooLarge", "UnknownEncoding", "body_cap", "read_capped"]

#: the encodings read_capped can decode (sent as Accept-Encoding)
ACCEPT_ENCODING = "gzip, deflate"
#: fixed allowance above the expected size of an embedding response
_SLACK = 1 << 20
#: JSON characters allowed per float of the expected response (``-0.012345678901234567,``)
_BYTES_PER_FLOAT = 26
#: a response may hold this many times the configured dimension (a dimension change)
_DIM_FACTOR = 4


class BodyTooLarge(Exception):
    """The body (raw or decompressed) grew beyond the cap; the message says which."""


class UnknownEncoding(Exception):
    """The server used a Content-Encoding that was not offered."""


class _Decoder(Protocol):
    def decompress(self, data: bytes, max_length: int = ...) -> bytes: ...

    @property
    def unconsumed_tail(self) -> bytes: ...


def body_cap(n_inputs: int, dimension: int) -> int:
    """Largest plausible body for ``n_inputs`` embeddings of ``dimension`` as JSON numbers."""
    per_row = max(dimension * _DIM_FACTOR, 4096) * _BYTES_PER_FLOAT
    return _SLACK + max(n_inputs, 1) * per_row


def _decoder(encoding: str) -> _Decoder | None:
    codings = [c.strip().lower() for c in encoding.split(",") if c.strip()]
    codings = [c for c in codings if c != "identity"]
    if not codings:
        return None
    if len(codings) > 1:
        raise UnknownEncoding(f"stacked content encodings {encoding!r}")
    if codings[0] in ("gzip", "x-gzip"):
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if codings[0] == "deflate":
        return zlib.decompressobj()
    raise UnknownEncoding(f"content encoding {codings[0]!r} was not offered")


def _expand(decoder: _Decoder, chunk: bytes, out: bytearray, cap: int) -> None:
    data = chunk
    while data:
        room = cap - len(out) + 1  # one byte over the cap proves the overflow
        try:
            piece = decoder.decompress(data, room)
        except zlib.error:
            raise UnknownEncoding("the compressed body is corrupt") from None
        out += piece
        if len(out) > cap:
            raise BodyTooLarge(f"the decompressed body is larger than {cap} bytes")
        data = decoder.unconsumed_tail
        if not piece and data:
            break  # no progress possible with this input


async def read_capped(response: httpx.Response, cap: int) -> bytes:
    """The decoded body of a streamed ``response``, refusing more than ``cap`` bytes."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        raise BodyTooLarge(f"the body announces {declared} bytes, more than {cap}")
    decoder = _decoder(response.headers.get("content-encoding", ""))
    raw = 0
    out = bytearray()
    async for chunk in response.aiter_raw():
        raw += len(chunk)
        if raw > cap:
            raise BodyTooLarge(f"the body is larger than {cap} bytes")
        if decoder is None:
            out += chunk
        else:
            _expand(decoder, chunk, out, cap)
    return bytes(out)
