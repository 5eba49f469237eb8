"""A running daemon on PostgreSQL under database faults, over real sockets.

- a failing write path (PostgreSQL answers ``disk_full`` to sample inserts):
  ingest is refused with 503 and ``/readyz`` says 503 until a write succeeds;
- the database unreachable (a proxy between daemon and PostgreSQL is cut):
  ``/metrics`` keeps serving the last known stored-result series.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from fault_helpers import DRIFTMON, driftmon, write_config
from sqlalchemy import create_engine, text
from support import POSTGRES_URL, free_port, fresh_postgres_schema, require_postgres, wait_for
from tcp_proxy import Proxy

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

ITEMS = [
    {"id": "q1", "kind": "query", "text": "reset my password"},
    {"id": "q2", "kind": "query", "text": "refund an order"},
    {"id": "d1", "kind": "document", "text": "Resetting a password: open settings."},
    {"id": "d2", "kind": "document", "text": "Refunds: open the order and choose refund."},
]


@pytest.fixture
def schema_url() -> Iterator[str]:
    require_postgres()
    with fresh_postgres_schema("faults_") as url:
        yield url


def _engine(url: str):  # type: ignore[no-untyped-def]
    return create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))


def _stored_series(body: str) -> set[str]:
    return {
        line.split("{")[0]
        for line in body.splitlines()
        if line.startswith(("driftmon_canary", "driftmon_retrieval", "driftmon_model_version"))
    }


def _cycle_done(status: dict[str, object]) -> bool:
    jobs = {j["job"]: j for j in status["jobs"]}  # type: ignore[attr-defined]
    cycle = ("sample", "canary", "drift", "alerts", "deliver", "prune")
    return all(
        name in jobs and jobs[name]["last_status"] not in (None, "running") for name in cycle
    )


def test_readyz_and_metrics_follow_database_faults(tmp_path: Path, schema_url: str) -> None:
    target = urlsplit(POSTGRES_URL)
    proxy = Proxy((target.hostname or "127.0.0.1", target.port or 5432))
    proxied = schema_url.replace(
        f"{target.hostname}:{target.port or 5432}", f"127.0.0.1:{proxy.port}"
    )
    (tmp_path / "c.jsonl").write_text("".join(json.dumps(i) + "\n" for i in ITEMS))
    (tmp_path / "c.qrels").write_text("q1 0 d1 1\nq2 0 d2 1\n")
    port = free_port()
    body = f"""
        [server]
        listen = "127.0.0.1:{port}"
        [[models]]
        name = "prod"
        dimensions = 32
        [[canary_sets]]
        name = "core"
        path = "{tmp_path / "c.jsonl"}"
        qrels = "{tmp_path / "c.qrels"}"
        [[sources]]
        name = "api"
        kind = "http"
        token_env = "INGEST_TOKEN"
        [schedule]
        sample = "1h"
        canary = "1h"
        drift = "1h"
        alerts = "1h"
        deliver = "1h"
        """
    cfg = write_config(tmp_path, proxied, body)
    env = {"INGEST_TOKEN": "tok"}
    assert driftmon("db", "upgrade", "-c", str(cfg)).returncode == 0
    assert driftmon("canary", "import", "-c", str(cfg)).returncode == 0
    log = tmp_path / "daemon.log"
    with log.open("wb") as err:
        proc = subprocess.Popen(
            [DRIFTMON, "run", "-c", str(cfg)],
            stdout=subprocess.DEVNULL,
            stderr=err,
            env={**{k: v for k, v in os.environ.items() if not k.startswith("DRIFTMON_")}, **env},
        )
    base = f"http://127.0.0.1:{port}"
    client = httpx.Client(timeout=30)
    engine = _engine(schema_url)
    try:
        wait_for(
            lambda: (
                "driftmon_canary_min_cosine" in _stored_series(client.get(f"{base}/metrics").text)
            ),
            120,
            "a canary run",
        )
        # the first cycle's later jobs write too, and /readyz tracks the last write: let the
        # cycle finish before a fault is injected
        wait_for(lambda: _cycle_done(client.get(f"{base}/api/v1/status").json()), 120, "a cycle")
        before = _stored_series(client.get(f"{base}/metrics").text)
        assert before

        def post(text_: str) -> int:
            return client.post(
                f"{base}/v1/queries",
                json=[{"query": text_, "ts": datetime.now(UTC).isoformat()}],
                headers={"authorization": "Bearer tok"},
            ).status_code

        with engine.begin() as conn:  # every sample insert now fails as on a full disk
            conn.execute(
                text(
                    "CREATE FUNCTION full_disk() RETURNS trigger LANGUAGE plpgsql AS "
                    "$$ BEGIN RAISE EXCEPTION 'could not extend file' "
                    "USING ERRCODE = 'disk_full'; END $$"
                )
            )
            conn.execute(
                text(
                    "CREATE TRIGGER full_disk BEFORE INSERT ON query_samples "
                    "FOR EACH ROW EXECUTE FUNCTION full_disk()"
                )
            )
        assert post("first") == 503
        ready = client.get(f"{base}/readyz")
        assert ready.status_code == 503 and "last write failed" in ready.json()["checks"]["writes"]
        with engine.begin() as conn:
            conn.execute(text("DROP TRIGGER full_disk ON query_samples"))
        assert post("second") == 202
        assert client.get(f"{base}/readyz").json()["checks"]["writes"] == "ok"

        proxy.cut()  # the database is unreachable for the daemon
        during = client.get(f"{base}/metrics")
        assert during.status_code == 200
        assert _stored_series(during.text) == before
        assert client.get(f"{base}/readyz").status_code == 503
        proxy.restore()
        wait_for(
            lambda: client.get(f"{base}/readyz").json()["checks"]["database"] == "ok",
            60,
            "recovery",
        )
    finally:
        client.close()
        engine.dispose()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        proxy.close()
    assert "Traceback" not in log.read_text()
