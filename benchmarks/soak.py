"""Soak: a daemon on PostgreSQL under steady HTTP ingest with the drift job every few seconds.

    python benchmarks/soak.py --db postgresql://postgres@127.0.0.1:5432/test --seconds 300

Starts ``driftmon run`` on a fresh schema with a small reservoir (so every batch
replaces samples) and drift every 5 s, posts batches from two threads for
``--seconds``, samples the daemon's RSS, threads, open files and PostgreSQL
connections every 10 s, and prints one JSON document: the samples, the ingest
answers by status, and the job runs by (job, status). The schema is dropped.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text

DRIFTMON = str(Path(sys.executable).with_name("driftmon"))
APP = "driftmon_soak"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _proc(pid: int) -> dict[str, float]:
    status = Path(f"/proc/{pid}/status").read_text()
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return {
        "rss_mb": int(fields["VmRSS"].split()[0]) / 1024,
        "threads": int(fields["Threads"]),
        "fds": len(os.listdir(f"/proc/{pid}/fd")),
    }


def _sender(base: str, stop: threading.Event, answers: Counter[int], seed: int) -> None:
    n = 0
    with httpx.Client(timeout=30) as client:
        while not stop.is_set():
            now = datetime.now(UTC).isoformat()
            batch = [
                {
                    "query": f"how do I {['reset', 'renew', 'cancel'][i % 3]} plan {seed}-{n}-{i}",
                    "tenant": f"t{i % 20}",
                    "ts": now,
                }
                for i in range(200)
            ]
            n += 1
            try:
                r = client.post(
                    f"{base}/v1/queries", json=batch, headers={"authorization": "Bearer soak"}
                )
                answers[r.status_code] += 1
            except httpx.HTTPError:
                answers[0] += 1


def soak(db: str, seconds: float) -> dict[str, Any]:
    admin = create_engine(db.replace("postgresql://", "postgresql+psycopg://", 1))
    schema = "soak_" + uuid.uuid4().hex[:10]
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in db else "?"
    url = f"{db}{sep}options=-csearch_path%3D{schema}&application_name={APP}_{schema}"
    port = _port()
    work = Path(tempfile.mkdtemp(prefix="driftmon-soak-"))
    cfg = work / "soak.toml"
    cfg.write_text(f"""
[database]
url = "{url}"
[server]
listen = "127.0.0.1:{port}"
[[models]]
name = "prod"
dimensions = 64
[[sources]]
name = "api"
kind = "http"
token_env = "SOAK_TOKEN"
metadata_fields = ["tenant"]
[sampling]
window = "1m"
max_per_window = 300
[drift]
reference = "rolling:3m"
permutations = 50
[schedule]
sample = "1h"
canary = "1h"
drift = "5s"
alerts = "10s"
deliver = "15s"
""")
    env = {**os.environ, "SOAK_TOKEN": "soak"}
    subprocess.run([DRIFTMON, "db", "upgrade", "-c", str(cfg)], check=True, capture_output=True)
    log = (work / "daemon.log").open("wb")
    proc = subprocess.Popen([DRIFTMON, "run", "-c", str(cfg)], stderr=log, stdout=log, env=env)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    answers: Counter[int] = Counter()
    stop = threading.Event()
    senders = [
        threading.Thread(target=_sender, args=(base, stop, answers, k), daemon=True)
        for k in range(2)
    ]
    for t in senders:
        t.start()
    samples: list[dict[str, float]] = []
    started = time.monotonic()
    try:
        while time.monotonic() - started < seconds:
            with admin.connect() as conn:
                pg = conn.scalar(
                    text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :a"),
                    {"a": f"{APP}_{schema}"},
                )
            samples.append({"t": round(time.monotonic() - started), **_proc(proc.pid), "pg": pg})
            time.sleep(min(10.0, max(0.0, seconds - (time.monotonic() - started))))
        stop.set()
        for t in senders:
            t.join(timeout=60)
        with admin.connect() as conn:
            runs = conn.execute(
                text(f'SELECT job, status, count(*) FROM "{schema}".job_runs GROUP BY job, status')
            ).all()
            errors = (
                conn.execute(
                    text(
                        f'SELECT DISTINCT error FROM "{schema}".job_runs '
                        "WHERE status = 'failed' LIMIT 5"
                    )
                )
                .scalars()
                .all()
            )
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=120)
        log.close()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
    daemon_log = (work / "daemon.log").read_text(errors="replace")
    return {
        "seconds": seconds,
        "samples": samples,
        "ingest": {str(k): v for k, v in sorted(answers.items())},
        "job_runs": {f"{job}:{status}": int(n) for job, status, n in runs},
        "failed_errors": list(errors),
        "tracebacks": daemon_log.count("Traceback"),
        "exit_code": proc.returncode,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", required=True, help="PostgreSQL URL (a schema is made and dropped)")
    ap.add_argument("--seconds", type=float, default=300)
    args = ap.parse_args()
    print(json.dumps(soak(args.db, args.seconds), indent=1))


if __name__ == "__main__":
    main()
