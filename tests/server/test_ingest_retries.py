"""Idempotent retries across kill -9, and concurrent stratified writers without deadlocks."""

from __future__ import annotations

import json
import random
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest
from server_helpers import AUTH, Daemon, records, running_daemon
from support import postgres_schema_url

JSON = {**AUTH, "Content-Type": "application/json"}


def test_a_retried_batch_is_answered_again_and_stored_once(daemon: Daemon) -> None:
    body = json.dumps(records(30)).encode()
    first = httpx.post(
        daemon.url + "/v1/queries", content=body, headers={**JSON, "Idempotency-Key": "b-1"}
    )
    assert first.status_code == 202 and first.json()["accepted"] == 30
    again = httpx.post(
        daemon.url + "/v1/queries", content=body, headers={**JSON, "Idempotency-Key": "b-1"}
    )
    assert again.status_code == 202 and again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert daemon.samples() == 30 and daemon.counter("read") == 30
    daemon.stop()
    daemon.start()  # the key outlives a restart
    third = httpx.post(
        daemon.url + "/v1/queries", content=body, headers={**JSON, "Idempotency-Key": "b-1"}
    )
    assert third.json() == first.json() and daemon.samples() == 30
    other = httpx.post(
        daemon.url + "/v1/queries", content=body, headers={**JSON, "Idempotency-Key": "b-2"}
    )
    assert other.status_code == 202 and daemon.samples() == 60
    bad = httpx.post(
        daemon.url + "/v1/queries", content=body, headers={**JSON, "Idempotency-Key": "k" * 201}
    )
    assert bad.status_code == 400 and daemon.samples() == 60


def _client(url: str, batches: list[tuple[str, bytes]], acked: dict[str, int], stop: float) -> None:
    """Send each batch until it is acknowledged, retrying with its key through restarts."""
    with httpx.Client(timeout=10) as client:
        for key, body in batches:
            while time.monotonic() < stop:
                try:
                    resp = client.post(url, content=body, headers={**JSON, "Idempotency-Key": key})
                except httpx.TransportError:
                    time.sleep(0.05)  # the daemon is down: retry until it is back
                    continue
                if resp.status_code == 202:
                    acked[key] = int(resp.json()["accepted"])
                    break
                assert resp.status_code == 503, resp.text
                time.sleep(0.05)


@pytest.mark.slow
def test_kill_9_with_retrying_clients_stores_every_acknowledged_record_once(
    backend_url: str, tmp_path: Path
) -> None:
    with running_daemon(tmp_path, backend_url) as daemon:
        acked: dict[str, int] = {}
        plan = [
            [
                (f"c{c}-b{b}", json.dumps(records(50, prefix=f"c{c} b{b}")).encode())
                for b in range(30)
            ]
            for c in range(3)
        ]
        stop = time.monotonic() + 240
        clients = [
            threading.Thread(target=_client, args=(daemon.url + "/v1/queries", p, acked, stop))
            for p in plan
        ]
        for t in clients:
            t.start()
        for _ in range(3):
            deadline = time.monotonic() + 60
            before = len(acked)
            while len(acked) < before + 8 and time.monotonic() < deadline:
                time.sleep(0.05)  # polling the clients' progress, not waiting for the daemon
            daemon.stop(signal.SIGKILL)
            daemon.start()
        for t in clients:
            t.join(240)
        assert len(acked) == 90 and sum(acked.values()) == 90 * 50
        assert daemon.samples() == 90 * 50
        assert daemon.scalar("SELECT count(DISTINCT text) FROM query_samples") == 90 * 50
        assert "Traceback" not in daemon.log_text()


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.parametrize("clients", [2, 8])
def test_concurrent_stratified_clients_never_deadlock(clients: int, tmp_path: Path) -> None:
    for url in postgres_schema_url():  # a fresh schema, dropped after the loop's one turn
        _stratified_clients(clients, tmp_path, url)


def _stratified_clients(clients: int, tmp_path: Path, url: str) -> None:
    source = 'stratify_by = "tenant"\nmax_per_stratum = 50\nmax_strata = 40'
    with running_daemon(tmp_path, url, source=source) as daemon:
        codes: list[int] = []

        def send(seed: int) -> None:
            rng = random.Random(seed)
            with httpx.Client(timeout=60) as client:
                for b in range(8):
                    batch = [
                        {
                            "query": f"q {seed} {b} {i}",
                            "ts": "2026-03-02T11:30:00Z",
                            "tenant": f"t{rng.randrange(20)}",
                        }
                        for i in range(500)
                    ]
                    resp = client.post(
                        daemon.url + "/v1/queries", content=json.dumps(batch), headers=JSON
                    )
                    codes.append(resp.status_code)

        threads = [threading.Thread(target=send, args=(s,)) for s in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
        assert codes == [202] * (clients * 8)
        assert "deadlock" not in daemon.log_text().lower()
