"""The shipped webhook verifier answers False to any malformed input and never raises."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.alerting.webhook import sign, verify_signature

NOW = 1_700_000_000
SECRET = "whsec_" + base64.b64encode(b"k" * 24).decode()


def _headers(sig: str, ts: str = str(NOW), msg_id: str = "m1") -> dict[str, str]:
    return {"webhook-id": msg_id, "webhook-timestamp": ts, "webhook-signature": sig}


@pytest.mark.parametrize(
    ("secret", "headers"),
    [
        pytest.param(SECRET, _headers("v1,é€ñ"), id="non-ASCII signature"),
        pytest.param("whsec_abc", _headers("v1,abc"), id="secret not base64"),
        pytest.param("whsec_@@@=", _headers("v1,abc"), id="secret with bad characters"),
        pytest.param(SECRET, _headers("v1,x", ts="9" * 400), id="timestamp beyond a float"),
        pytest.param(SECRET, _headers("v1,x", msg_id="\udc80"), id="lone surrogate id"),
        pytest.param(SECRET, _headers("v1,\udc80"), id="lone surrogate signature"),
    ],
)
def test_malformed_input_is_false(secret: str, headers: dict[str, str]) -> None:
    assert verify_signature(secret, headers, b"{}", now=NOW) is False


def test_one_valid_signature_among_non_ascii_ones_is_true() -> None:
    good = sign(SECRET, "m1", NOW, b"{}")
    assert verify_signature(SECRET, _headers(f"v1,ü {good}"), b"{}", now=NOW) is True


@settings(max_examples=300, deadline=None)
@given(
    secret=st.one_of(st.text(max_size=40), st.text(max_size=40).map(lambda t: "whsec_" + t)),
    msg_id=st.text(max_size=20),
    ts=st.one_of(st.text(max_size=30), st.integers().map(str)),
    sig=st.text(max_size=60),
    body=st.binary(max_size=64),
    extra=st.dictionaries(st.text(max_size=10), st.text(max_size=10), max_size=3),
)
def test_fuzzed_input_gives_a_bool(
    secret: str, msg_id: str, ts: str, sig: str, body: bytes, extra: dict[str, str]
) -> None:
    headers = {**extra, **_headers(sig, ts=ts, msg_id=msg_id)}
    assert verify_signature(secret, headers, body, now=NOW) in (True, False)
    try:
        good = sign(secret, msg_id, NOW, body)
    except (ValueError, UnicodeError):
        return  # a secret or id nothing can be signed with
    assert verify_signature(secret, _headers(good, msg_id=msg_id), body, now=NOW) is bool(msg_id)
