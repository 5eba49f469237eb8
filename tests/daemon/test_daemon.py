"""The daemon as a process: one per SQLite file, SIGHUP reload, status, replicas, readiness."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from support import POSTGRES_URL, SERVICE_MISSING, free_port, postgres_schema_url

from monitor.app import Agent
from monitor.config import load_settings
from monitor.storage.engine import Database
from monitor.storage.migrate import upgrade
from monitor.storage.schema import DriftRun, JobRun

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _wait(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except (httpx.TransportError, OSError):
            pass
        time.sleep(0.2)  # another process is working; there is no clock to inject across it
    raise AssertionError(f"timed out waiting for {what}")


def _spawn(cfg: Path, log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    with log.open("wb") as err:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "monitor", "run", "-c", str(cfg), "--log-format", "json"],
            stdout=subprocess.DEVNULL,
            stderr=err,
            env={**os.environ, **(env or {})},
        )


def _stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> int:
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        return proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait(timeout=10)


@pytest.fixture
def quickstart(tmp_path: Path) -> Path:
    shutil.copytree(EXAMPLES, tmp_path / "ex", ignore=shutil.ignore_patterns("*.db*"))
    cfg = tmp_path / "ex" / "quickstart.toml"
    cfg.write_text(
        cfg.read_text().replace('listen = "127.0.0.1:9108"', f'listen = "127.0.0.1:{free_port()}"')
    )
    subprocess.run(
        [sys.executable, "-m", "monitor", "db", "upgrade", "-c", str(cfg)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cfg


def _url(cfg: Path) -> str:
    return "http://" + re.search(r'listen = "([^"]+)"', cfg.read_text()).group(1)  # type: ignore[union-attr]


def test_sqlite_allows_one_daemon_and_sighup_reloads(quickstart: Path, tmp_path: Path) -> None:
    proc = _spawn(quickstart, tmp_path / "a.log")
    try:
        _wait(
            lambda: httpx.get(_url(quickstart) + "/healthz", timeout=2).status_code == 200,
            60,
            "the first daemon",
        )
        second = subprocess.run(
            [sys.executable, "-m", "monitor", "run", "-c", str(quickstart)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == 2
        assert "another driftmon daemon is running" in second.stderr
        assert "Traceback" not in second.stderr

        good = quickstart.read_text()
        quickstart.write_text(good + "\n[bogus]\nkey = 1\n")
        proc.send_signal(signal.SIGHUP)
        _wait(lambda: "reload failed" in (tmp_path / "a.log").read_text(), 30, "reload failure")
        assert proc.poll() is None, "a bad config must not stop the daemon"
        quickstart.write_text(good.replace('sample = "30s"', 'sample = "cron:* * * * *"'))
        proc.send_signal(signal.SIGHUP)
        _wait(lambda: "configuration reloaded" in (tmp_path / "a.log").read_text(), 30, "reload")

        status = httpx.get(_url(quickstart) + "/api/v1/status", timeout=10).json()
        _wait(
            lambda: (
                httpx.get(_url(quickstart) + "/api/v1/status", timeout=10).json()["model_versions"][
                    0
                ]["drift"]
                is not None
            ),
            60,
            "a drift run",
        )
        status = httpx.get(_url(quickstart) + "/api/v1/status", timeout=10).json()
        (mv,) = status["model_versions"]
        assert mv["model"] == "prod" and mv["canary"]["core"]["verdict"] == "unchanged"
        assert {j["job"] for j in status["jobs"]} >= {"sample", "canary", "drift"}
        table = subprocess.run(
            [sys.executable, "-m", "monitor", "status", "-c", str(quickstart)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert table.returncode == 0 and "prod" in table.stdout and "unchanged" in table.stdout
    finally:
        assert _stop(proc) == 0
    lines = [json.loads(x) for x in (tmp_path / "a.log").read_text().splitlines()]
    job_lines = [x for x in lines if x.get("logger") == "driftmon.jobs"]
    assert job_lines and all("job" in x and "run_id" in x for x in job_lines)


@pytest.mark.slow
def test_three_replicas_share_postgresql(tmp_path: Path) -> None:
    gen = postgres_schema_url()
    url = next(gen)
    try:
        shutil.copytree(EXAMPLES, tmp_path / "ex", ignore=shutil.ignore_patterns("*.db*"))
        cfg = tmp_path / "ex" / "quickstart.toml"
        text = cfg.read_text()
        text = re.sub(
            r"\[schedule\].*?(?=\n#|\Z)",
            '[schedule]\nsample = "2s"\ncanary = "3s"\n'
            'drift = "4s"\nalerts = "2s"\ndeliver = "2s"\njitter = "1s"\n',
            text,
            flags=re.S,
        )
        cfg.write_text(text + '\n[agent]\nlease = "3s"\n')
        env = {"DRIFTMON_DATABASE_URL": url, "DRIFTMON_SERVER_ENABLED": "false"}
        subprocess.run(
            [sys.executable, "-m", "monitor", "db", "upgrade", "-c", str(cfg)],
            check=True,
            capture_output=True,
            timeout=60,
            env={**os.environ, **env},
        )
        procs = [
            _spawn(
                cfg, tmp_path / f"r{i}.log", {**env, "DRIFTMON_AGENT_REPLICA_ID": f"replica-{i}"}
            )
            for i in range(3)
        ]
        db = Database(url)
        victim = -1
        try:

            def replicas_with(job: str) -> set[str]:
                with db.read() as s:
                    return set(
                        s.scalars(
                            select(JobRun.replica).where(JobRun.job == job, JobRun.status == "ok")
                        )
                    )

            # jitter interleaves the replicas, so work lands on each of them
            _wait(lambda: len(replicas_with("sample")) >= 2, 60, "runs on several replicas")
            # kill -9 whichever replica ran the latest canary; the job must go on elsewhere
            with db.read() as s:
                holder = s.scalars(
                    select(JobRun.replica).where(JobRun.job == "canary").order_by(JobRun.id.desc())
                ).first()
            assert holder is not None
            victim = int(holder.rsplit("-", 1)[1])
            procs[victim].kill()
            procs[victim].wait(timeout=10)
            with db.read() as s:
                before = s.scalar(select(func.max(JobRun.id))) or 0

            def canary_ran_elsewhere() -> bool:
                with db.read() as s:
                    return bool(
                        s.scalars(
                            select(JobRun).where(
                                JobRun.job == "canary",
                                JobRun.id > before,
                                JobRun.status == "ok",
                                JobRun.replica != holder,
                            )
                        ).first()
                    )

            _wait(canary_ran_elsewhere, 30, "the canary job on a survivor")
        finally:
            for i, p in enumerate(procs):
                if i != victim:
                    assert _stop(p) == 0
            with db.read() as s:
                slots = s.execute(
                    select(JobRun.job, JobRun.slot_start, func.count())
                    .where(JobRun.slot_start.is_not(None))
                    .group_by(JobRun.job, JobRun.slot_start)
                ).all()
                drift_dupes = s.execute(
                    select(
                        DriftRun.model_version_id,
                        DriftRun.window_start,
                        DriftRun.n_cur,
                        func.count(),
                    )
                    .group_by(DriftRun.model_version_id, DriftRun.window_start, DriftRun.n_cur)
                    .having(func.count() > 1)
                ).all()
                replicas = set(s.scalars(select(JobRun.replica)))
            db.dispose()
        assert slots and all(n == 1 for _, _, n in slots), "each execution ran exactly once"
        assert drift_dupes == []
        assert replicas == {"replica-0", "replica-1", "replica-2"}
    finally:
        next(gen, None)


def _pg_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    return found[-1].parent if found else None


@pytest.fixture
def own_postgres() -> Iterator[tuple[str, list[str]]]:
    """A PostgreSQL instance this test starts and stops itself (as the postgres user)."""
    binaries = _pg_bin()
    if binaries is None or shutil.which("runuser") is None or not POSTGRES_URL:
        pytest.skip(
            f"{SERVICE_MISSING} PostgreSQL server binaries (and DRIFTMON_TEST_"
            "POSTGRES_URL) for a private instance"
        )
    # pytest's temp folders are private to root; the server runs as the postgres user
    top = Path(tempfile.mkdtemp(prefix="driftmon-pg-"))
    os.chmod(top, 0o755)
    data = top / "pgdata"
    data.mkdir()
    shutil.chown(data, "postgres")
    port = free_port()

    def as_pg(*args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            ["runuser", "-u", "postgres", "--", *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=120,
            check=True,
        )

    as_pg(str(binaries / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres")
    ctl = [
        str(binaries / "pg_ctl"),
        "-D",
        str(data),
        "-w",
        "-t",
        "60",
        "-l",
        str(data / "server.log"),
        "-o",
        f"-p {port} -k {data} -c listen_addresses=127.0.0.1",
    ]
    as_pg(*ctl, "start")
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres", ctl
    finally:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", *ctl, "-m", "immediate", "stop"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=120,
        )
        shutil.rmtree(top, ignore_errors=True)


def test_readyz_follows_the_database_without_a_restart(
    own_postgres: tuple[str, list[str]], tmp_path: Path
) -> None:
    url, ctl = own_postgres
    (tmp_path / "c.toml").write_text(
        f'[database]\nurl = "{url}"\n[server]\nlisten = "127.0.0.1:{free_port()}"\n'
    )
    settings = load_settings(tmp_path / "c.toml")
    agent = Agent(settings)
    upgrade(agent.db)
    agent.start()
    ready = agent.server.url + "/readyz"  # type: ignore[union-attr]
    try:
        _wait(lambda: httpx.get(ready, timeout=5).status_code == 200, 30, "ready")
        subprocess.run(
            ["runuser", "-u", "postgres", "--", *ctl, "-m", "fast", "stop"],
            check=True,
            stdout=subprocess.DEVNULL,
            timeout=120,
        )
        _wait(lambda: httpx.get(ready, timeout=15).status_code == 503, 30, "not ready")
        body = httpx.get(ready, timeout=15).json()
        assert "unreachable" in body["checks"]["database"]
        subprocess.run(
            ["runuser", "-u", "postgres", "--", *ctl, "start"],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=120,
        )
        _wait(lambda: httpx.get(ready, timeout=15).status_code == 200, 60, "ready again")
    finally:
        agent.stop()
