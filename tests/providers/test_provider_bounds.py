"""Provider calls are bounded: a wall-clock deadline per attempt, capped body sizes, and any
malformed JSON a counted ProviderResponseError; over real loopback sockets."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from hostile_server import HostileServer, endless_body, fixed, gzip_bomb, trickle
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.errors import ProviderResponseError, ProviderTimeout

TEXTS = ["alpha", "beta"]


@pytest.fixture
def hostile():
    servers: list[HostileServer] = []

    def start(behaviour):
        srv = HostileServer(behaviour)
        servers.append(srv)
        return srv

    yield start
    for srv in servers:
        srv.close()


def test_a_trickling_server_is_cut_at_the_deadline_of_each_attempt(hostile, make_provider):
    # 60 bytes at one per 0.25 s: 15 s per attempt without a deadline
    srv = hostile(trickle(0.25, 60))
    p = make_provider("openai", base_url=srv.url, timeout="1s", max_retries=1)
    with pytest.raises(ProviderTimeout, match="did not answer in time .the deadline."):
        p.embed(TEXTS, "query")
    assert srv.wait_endings(2) == ["cut", "cut"]  # both attempts abandoned mid-body
    assert p._breaker.failures == 2  # every attempt counted by the circuit breaker


CHILD = """
import json, resource, sys
from monitor.config import Duration, ModelSettings
from monitor.errors import ProviderResponseError
from monitor.providers import build_provider

def peak():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

out = {}
for name, url in json.loads(sys.argv[1]).items():
    p = build_provider(ModelSettings(name="m", provider="openai", model="x", base_url=url,
                                     dimensions=8, max_retries=0,
                                     timeout=Duration.parse("60s")))
    try:
        p.embed(["one", "two"], "query")
        out[name] = ["ok", peak()]
    except ProviderResponseError as exc:
        out[name] = [str(exc), peak()]
    p.close()
print(json.dumps(out))
"""


@pytest.mark.slow
def test_oversized_bodies_are_refused_without_growing_memory(hostile):
    """One child process: a normal answer, then 300 MiB bodies and a 256 MiB gzip bomb."""
    urls = {
        "normal": hostile(fixed(json.dumps({"data": [{"embedding": [0.5] * 8}] * 2}).encode())),
        "declared": hostile(endless_body(300, declare=True)),
        "chunked": hostile(endless_body(300, declare=False)),
        "gzip-bomb": hostile(gzip_bomb(256)),
    }
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps({k: v.url for k, v in urls.items()})],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["normal"][0] == "ok"
    assert "announces 314572800 bytes" in out["declared"][0]
    assert "the body is larger than" in out["chunked"][0]
    assert "decompressed body is larger than" in out["gzip-bomb"][0]
    normal = out["normal"][1]
    # each body would need 256+ MiB held whole; the cap here is about 1.2 MiB
    assert out["gzip-bomb"][1] < normal + 40, out


def _nested(depth: int) -> bytes:
    return b'{"data": ' + b"[" * depth + b"]" * depth + b"}"


MALFORMED = {
    "nested-100000": _nested(100_000),
    "nested-in-embedding": (
        b'{"data": [{"index": 0, "embedding": ' + b"[" * 5000 + b"]" * 5000 + b"}]}"
    ),
    "10**400": json.dumps(
        {"data": [{"embedding": [10**400] + [0.5] * 7}, {"embedding": [0.1] * 8}]}
    ).encode(),
    "1e400": b'{"data": [{"embedding": [1e400, 1, 1, 1, 1, 1, 1, 1]}, '
    b'{"embedding": [1, 1, 1, 1, 1, 1, 1, 1]}]}',
    "string-in-vector": json.dumps(
        {"data": [{"embedding": ["0.5"] * 8}, {"embedding": [0.1] * 8}]}
    ).encode(),
    "bool-in-vector": json.dumps(
        {"data": [{"embedding": [True] * 8}, {"embedding": [0.1] * 8}]}
    ).encode(),
    "data-is-a-number": b'{"data": 7}',
    "rows-disagree": json.dumps(
        {"data": [{"embedding": [0.1] * 8}, {"embedding": [0.1] * 9}]}
    ).encode(),
    "empty-rows": json.dumps({"data": [{"embedding": []}, {"embedding": []}]}).encode(),
    "top-level-list": b"[1, 2, 3]",
    "error-excerpt-nested": b"[" * 4000,
}


@pytest.mark.parametrize("body", list(MALFORMED.values()), ids=list(MALFORMED))
def test_malformed_json_is_a_response_error_the_breaker_counts(hostile, make_provider, body):
    srv = hostile(fixed(body))
    p = make_provider("openai", base_url=srv.url, max_retries=2, encoding_format="float")
    with pytest.raises(ProviderResponseError) as info:
        p.embed(TEXTS, "query")
    assert len(str(info.value)) < 500
    assert p._breaker.failures == 1  # counted once, and not retried


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**500), 10**500)
    | st.floats(allow_nan=False)
    | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=30,
)
EMBEDDING = st.lists(
    st.one_of(st.floats(width=32, allow_nan=False), st.integers(-(10**50), 10**50), JSON),
    min_size=0,
    max_size=10,
)
PAYLOAD = st.one_of(
    JSON,
    st.fixed_dictionaries({"data": JSON}),
    st.fixed_dictionaries(
        {"data": st.lists(st.fixed_dictionaries({"embedding": EMBEDDING}), max_size=3)}
    ),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(payload=PAYLOAD)
def test_fuzzed_payloads_give_vectors_or_a_response_error(hostile, make_provider, payload):
    srv = hostile(fixed(json.dumps(payload).encode()))
    p = make_provider("openai", base_url=srv.url, max_retries=0, encoding_format="float")
    try:
        result = p.embed(TEXTS, "query")
    except ProviderResponseError:
        assert p._breaker.failures == 1
    else:
        assert result.vectors.shape[0] == 2 and p._breaker.failures == 0
    finally:
        p.close()
        srv.close()
