"""Signed webhook delivery over real sockets, and the receiver-side verifier."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from monitor.alerting.webhook import WebhookSender, parse_retry_after, sign, verify_signature
from monitor.errors import AlertDeliveryError

NOW = datetime(2026, 3, 2, tzinfo=UTC)
SECRET = "whsec_c2VjcmV0LWtleS1mb3ItdGVzdHM="


def test_signature_known_answer_and_verification() -> None:
    sig = sign("key", "msg_1", 1700000000, b'{"a":1}')
    # HMAC-SHA256("key", "msg_1.1700000000.{"a":1}") in base64, computed independently
    import base64
    import hashlib
    import hmac

    expected = base64.b64encode(
        hmac.new(b"key", b'msg_1.1700000000.{"a":1}', hashlib.sha256).digest()
    ).decode()
    assert sig == "v1," + expected
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": "1700000000",
        "webhook-signature": "v1,bogus " + sig,
    }
    assert verify_signature("key", headers, b'{"a":1}', now=1700000100)
    assert not verify_signature("key", headers, b'{"a":2}', now=1700000100)
    assert not verify_signature("other", headers, b'{"a":1}', now=1700000100)
    assert not verify_signature("key", headers, b'{"a":1}', now=1700000000 + 301), "stale"
    assert not verify_signature("key", {**headers, "webhook-timestamp": "x"}, b'{"a":1}', 0)


def test_sender_signs_what_it_sends(receiver) -> None:  # type: ignore[no-untyped-def]
    sender = WebhookSender()
    try:
        status = sender.send(
            receiver.url, {"hello": "world"}, msg_id="msg_abc", secret=SECRET, now=NOW, timeout=5
        )
    finally:
        sender.close()
    assert status == 204
    (req,) = receiver.requests
    assert req.headers["webhook-id"] == "msg_abc"
    assert verify_signature(SECRET, req.headers, req.body, time.time())


def test_sender_errors_carry_status_and_retry_after(receiver) -> None:  # type: ignore[no-untyped-def]
    receiver.script = [(429, {"Retry-After": "120"}), (500, {})]
    sender = WebhookSender()
    try:
        with pytest.raises(AlertDeliveryError) as first:
            sender.send(receiver.url, {}, msg_id="m", secret=None, now=NOW, timeout=5)
        assert (first.value.status_code, first.value.retry_after) == (429, 120.0)
        with pytest.raises(AlertDeliveryError, match="HTTP 500"):
            sender.send(receiver.url, {}, msg_id="m", secret=None, now=NOW, timeout=5)
        receiver.server.stop()
        with pytest.raises(AlertDeliveryError, match="connection failed"):
            sender.send(receiver.url, {}, msg_id="m", secret=None, now=NOW, timeout=2)
    finally:
        sender.close()


def test_parse_retry_after_forms() -> None:
    assert parse_retry_after("30", NOW) == 30.0
    later = NOW + timedelta(seconds=90)
    assert parse_retry_after(later.strftime("%a, %d %b %Y %H:%M:%S GMT"), NOW) == 90.0
    assert parse_retry_after("soon", NOW) is None
    assert parse_retry_after(None, NOW) is None
