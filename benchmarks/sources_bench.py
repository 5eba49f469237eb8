"""Query-source benchmark: HTTP ingest on loopback, JSON-lines read+parse, the full sample job.

# Run: python benchmarks/sources_bench.py [--quick] [--postgres URL] [--only ingest|file]
#      [--requests N] [--runs N]
#
# - ingest: the agent's HTTP server with POST /v1/queries in this process; a client in
#   a separate process posts batches of 100 records one after another (each a new
#   connection: the server closes after every answer). Reports records/s and this
#   process's RSS before, after a warm-up, and at the end (the sampler keeps its
#   reservoir in the database, so RSS should not grow with the records sent).
# - file read+parse: JsonlSource.chunks over a 1,000,000-line file, nothing stored.
# - file full job: run_job(ctx, "sample") on the same file into a fresh database:
#   read, parse, reservoir draws, redaction and hashing of the kept records, writes.
# Every figure is the median of the runs; the machine facts are printed first.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import sqlite3
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from monitor.clock import FixedClock
from monitor.config import load_settings
from monitor.jobs.context import ContextSwitch, JobContext
from monitor.jobs.ingest import ingest_route
from monitor.jobs.runner import run_job
from monitor.server import HttpServer
from monitor.sources import JsonlSource
from monitor.storage.engine import Database
from monitor.storage.migrate import upgrade

TOKEN = "bench-token"
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
WORDS = (
    "order refund shipping invoice password reset account delivery return size colour "
    "price discount warranty battery screen login email phone address cancel"
).split()


def rss_mib() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def machine() -> list[str]:
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next(
                line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")
            )
    except (OSError, StopIteration):
        pass
    return [
        f"CPU: {cpu}, {os.cpu_count()} logical CPUs",
        f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
        f"Python {platform.python_version()} on {platform.system()} {platform.release()}",
        f"SQLite {sqlite3.sqlite_version}",
    ]


def _query(rng: np.random.Generator) -> str:
    return " ".join(rng.choice(WORDS, size=int(rng.integers(2, 7))))


def _fresh_db(folder: Path, postgres: str | None) -> tuple[str, Any]:
    if not postgres:
        return f"sqlite:///{folder / 'driftmon.db'}", None
    import uuid

    from sqlalchemy import create_engine, text

    schema = "bench_" + uuid.uuid4().hex[:10]
    admin = create_engine(postgres.replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))

    def drop() -> None:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    sep = "&" if "?" in postgres else "?"
    return f"{postgres}{sep}options=-csearch_path%3D{schema}", drop


# --------------------------------------------------------------------------- ingest


def _client(url: str, batches: int, seed: int, out: Any) -> None:
    import httpx

    rng = np.random.default_rng(seed)
    bodies = [
        json.dumps(
            [
                {
                    "query": _query(rng),
                    "ts": NOW.isoformat(),
                    "tenant": f"t{int(rng.integers(0, 5))}",
                }
                for _ in range(100)
            ]
        ).encode()
        for _ in range(min(batches, 50))
    ]
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    with httpx.Client(timeout=30) as client:
        start = time.perf_counter()
        for i in range(batches):
            resp = client.post(url, content=bodies[i % len(bodies)], headers=headers)
            if resp.status_code != 202:
                out.put(("error", f"{resp.status_code} {resp.text}"))
                return
        out.put(("ok", time.perf_counter() - start))


def _post(url: str, batches: int, seed: int) -> float:
    q: Any = mp.get_context("spawn").Queue()
    proc = mp.get_context("spawn").Process(target=_client, args=(url, batches, seed, q))
    proc.start()
    status, value = q.get(timeout=600)
    proc.join()
    if status != "ok":
        raise SystemExit(f"ingest failed: {value}")
    return float(value)


def bench_ingest(batches: int, runs: int, postgres: str | None) -> list[str]:
    rates, rss = [], []
    for run in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            url, drop = _fresh_db(folder, postgres)
            (folder / "d.toml").write_text(f"""
[database]
url = "{url}"
[[models]]
name = "m"
dimensions = 256
[[sources]]
name = "app"
kind = "http"
token_env = "BENCH_TOKEN"
metadata_fields = ["tenant"]
[sampling]
window = "1h"
max_per_window = 2000
""")
            settings = load_settings(folder / "d.toml")
            db = Database(settings.database.url)
            upgrade(db)
            ctx = JobContext(
                settings=settings, db=db, clock=FixedClock(NOW), environ={"BENCH_TOKEN": TOKEN}
            )
            server = HttpServer("127.0.0.1:0", {"/v1/queries": ingest_route(ContextSwitch(ctx))})
            server.start()
            try:
                before = rss_mib()
                _post(server.url + "/v1/queries", 20, seed=run + 100)  # warm-up
                warm = rss_mib()
                seconds = _post(server.url + "/v1/queries", batches, seed=run)
                after = rss_mib()
            finally:
                server.stop()
                db.dispose()
                if drop is not None:
                    drop()
            rates.append(batches * 100 / seconds)
            rss.append((before, warm, after))
    before, warm, after = (statistics.median(x) for x in zip(*rss, strict=True))
    backend = "PostgreSQL" if postgres else "SQLite (WAL)"
    return [
        f"HTTP ingest, {backend}, {batches} requests x 100 records (cap 2000 per window), "
        f"{runs} runs: median {statistics.median(rates):,.0f} records/s "
        f"({statistics.median(rates) / 100:,.0f} requests/s); runs: "
        + ", ".join(f"{r:,.0f}" for r in rates),
        f"  server-process RSS: {before:.1f} MiB before, {warm:.1f} MiB after a 2,000-record "
        f"warm-up, {after:.1f} MiB after {batches * 100:,} records (medians)",
    ]


# --------------------------------------------------------------------------- files


def _write_log(path: Path, lines: int) -> None:
    rng = np.random.default_rng(7)
    start = int(NOW.timestamp()) - 24 * 3600
    with path.open("w") as fh:
        for i in range(lines):
            fh.write(
                json.dumps(
                    {"query": _query(rng), "ts": start + i * 86400 // lines, "tenant": f"t{i % 5}"}
                )
                + "\n"
            )


def bench_files(lines: int, runs: int, postgres: str | None) -> list[str]:
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        log = folder / "q.jsonl"
        _write_log(log, lines)
        size_mib = log.stat().st_size / 2**20
        settings_text = """
[[sources]]
name = "log"
path = "{log}"
metadata_fields = ["tenant"]
[sampling]
window = "1h"
max_per_window = 2000
"""
        (folder / "r.toml").write_text(settings_text.format(log=log))
        cfg = load_settings(folder / "r.toml").sources[0]
        parse = []
        for _ in range(runs):
            src = JsonlSource(cfg, FixedClock(NOW))
            start = time.perf_counter()
            n = sum(len(b.records) for b in src.chunks({}, chunk_size=5000))
            parse.append(time.perf_counter() - start)
            assert n == lines, n
        per_min = lines / statistics.median(parse) * 60
        out.append(
            f"JSON-lines read+parse, {lines:,} lines ({size_mib:.0f} MiB), {runs} runs: "
            f"median {per_min:,.0f} lines/min ({statistics.median(parse):.2f} s); "
            "runs: " + ", ".join(f"{s:.2f} s" for s in parse)
        )
        full, rss = [], []
        for run in range(runs):
            sub = folder / f"job{run}"
            sub.mkdir()
            url, drop = _fresh_db(sub, postgres)
            (sub / "d.toml").write_text(
                f'[database]\nurl = "{url}"\n' + settings_text.format(log=log)
            )
            settings = load_settings(sub / "d.toml")
            db = Database(settings.database.url)
            upgrade(db)
            ctx = JobContext(settings=settings, db=db, clock=FixedClock(NOW))
            before = rss_mib()
            start = time.perf_counter()
            outcome = run_job(ctx, "sample")
            full.append(time.perf_counter() - start)
            rss.append((before, rss_mib()))
            assert outcome.status == "ok" and outcome.items == lines, outcome
            db.dispose()
            if drop is not None:
                drop()
        backend = "PostgreSQL" if postgres else "SQLite (WAL)"
        per_min = lines / statistics.median(full) * 60
        out.append(
            f"JSON-lines full sample job into {backend} (chunks of 5,000, 24 hourly windows "
            f"x cap 2,000), {runs} runs: median {per_min:,.0f} lines/min "
            f"({statistics.median(full):.2f} s); runs: " + ", ".join(f"{s:.2f} s" for s in full)
        )
        out.append(
            f"  RSS of the job: {statistics.median(r[0] for r in rss):.1f} MiB before, "
            f"{statistics.median(r[1] for r in rss):.1f} MiB after (file: "
            f"{size_mib:.0f} MiB)"
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes, one run")
    ap.add_argument("--postgres", help="also store into this PostgreSQL URL (fresh schema)")
    ap.add_argument("--only", choices=["ingest", "file"])
    ap.add_argument("--requests", type=int, help="ingest requests per run (default 500)")
    ap.add_argument("--runs", type=int, help="runs per figure (default 3, --quick 1)")
    args = ap.parse_args()
    runs = args.runs or (1 if args.quick else 3)
    for line in machine():
        print(line)
    backends = [None] + ([args.postgres] if args.postgres else [])
    for backend in backends:
        if args.only in (None, "ingest"):
            requests = args.requests or (50 if args.quick else 500)
            for line in bench_ingest(requests, runs, backend):
                print(line, flush=True)
        if args.only in (None, "file"):
            for line in bench_files(50_000 if args.quick else 1_000_000, runs, backend):
                print(line, flush=True)


if __name__ == "__main__":
    main()
