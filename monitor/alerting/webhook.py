"""Webhook delivery signed per the Standard Webhooks convention, and its verifier.

Headers sent with every delivery:

- ``webhook-id``: the delivery's idempotency key (the same on every retry);
- ``webhook-timestamp``: Unix seconds of this attempt;
- ``webhook-signature``: ``v1,<base64 HMAC-SHA256(key, f"{id}.{timestamp}.{body}")>``.

The key is the secret from the sink's ``secret_env``: a ``whsec_``-prefixed secret
is base64-decoded, any other string is used as its UTF-8 bytes. Receivers verify
with :func:`verify_signature`, which also rejects stale timestamps.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import httpx

from monitor.errors import AlertDeliveryError

__all__ = ["WebhookSender", "parse_retry_after", "sign", "verify_signature"]

TOLERANCE_SECONDS = 300


def _key(secret: str) -> bytes:
    if secret.startswith("whsec_"):
        return base64.b64decode(secret[len("whsec_") :])
    return secret.encode()


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(_key(secret), f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256)
    return "v1," + base64.b64encode(mac.digest()).decode()


def verify_signature(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    now: float,
    tolerance: int = TOLERANCE_SECONDS,
) -> bool:
    """True when ``body`` was signed with ``secret`` within ``tolerance`` seconds of ``now``.

    Any malformed input (a secret that is not base64 after ``whsec_``, a header
    that is not text or not ASCII, a timestamp beyond any clock) is False.
    """
    try:
        return _verify(secret, headers, body, now, tolerance)
    except (ValueError, TypeError, OverflowError, AttributeError):  # binascii/Unicode errors too
        return False


def _verify(
    secret: str, headers: Mapping[str, str], body: bytes, now: float, tolerance: int
) -> bool:
    lower = {k.lower(): v for k, v in headers.items()}
    msg_id = lower.get("webhook-id", "")
    ts = int(lower.get("webhook-timestamp", ""))
    if not msg_id or abs(now - ts) > tolerance:
        return False
    expected = sign(secret, msg_id, ts, body).encode()
    return any(
        hmac.compare_digest(expected, candidate.encode("utf-8", "replace"))
        for candidate in lower.get("webhook-signature", "").split()
    )


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds from a Retry-After header (delta seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        from email.utils import parsedate_to_datetime

        return max(0.0, (parsedate_to_datetime(value) - now).total_seconds())
    except (TypeError, ValueError):
        return None


class WebhookSender:
    """Posts signed JSON to a URL; raises AlertDeliveryError on anything but 2xx."""

    def __init__(
        self, client: httpx.Client | None = None, wallclock: Callable[[], float] = time.time
    ) -> None:
        # no idle keep-alive: deliveries are rare and go to many sinks, so a pooled
        # connection would mostly sit open between runs
        self._client = client or httpx.Client(limits=httpx.Limits(max_keepalive_connections=0))
        self._own = client is None
        self._wallclock = wallclock  # the signature's timestamp is real time, always

    def send(
        self,
        url: str,
        payload: Any,
        *,
        msg_id: str,
        secret: str | None,
        now: datetime,
        timeout: float,
    ) -> int:
        body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
        ts = int(self._wallclock())
        headers = {
            "content-type": "application/json",
            "webhook-id": msg_id,
            "webhook-timestamp": str(ts),
            "user-agent": "driftmon",
        }
        if secret:
            headers["webhook-signature"] = sign(secret, msg_id, ts, body)
        try:
            resp = self._client.post(
                url, content=body, headers=headers, timeout=httpx.Timeout(timeout)
            )
        except httpx.TimeoutException:
            raise AlertDeliveryError("timed out") from None
        except httpx.HTTPError as exc:
            raise AlertDeliveryError(f"connection failed ({type(exc).__name__})") from None
        if 200 <= resp.status_code < 300:
            return resp.status_code
        retry = parse_retry_after(resp.headers.get("retry-after"), now)
        raise AlertDeliveryError(
            f"HTTP {resp.status_code}", retry_after=retry, status_code=resp.status_code
        )

    def close(self) -> None:
        if self._own:
            self._client.close()
