"""Composition root: builds the pieces from Settings and runs the daemon's lifecycle."""

from __future__ import annotations

import json
import logging
import signal
import threading
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from monitor import metrics
from monitor.clock import Clock, SystemClock
from monitor.config import Settings, parse_duration
from monitor.domain import ModelVersionInfo, Snapshot
from monitor.errors import MonitorError
from monitor.jobs import JOBS, JobContext, default_replica, job_interval, run_job
from monitor.scheduler import build_scheduler
from monitor.server import HttpServer, Request, Response
from monitor.storage import operations as ops
from monitor.storage import repository as repo
from monitor.storage.engine import Database
from monitor.storage.migrate import check_revision

__all__ = ["CYCLE", "Agent", "load_snapshot"]

log = logging.getLogger("driftmon.app")

#: the order of one full cycle
CYCLE = ("sample", "canary", "drift", "alerts", "deliver")


def load_snapshot(db: Database) -> Snapshot:
    """Everything /metrics shows, in one short read."""
    with db.read() as s:
        versions = tuple(ModelVersionInfo(model=m.model, version=m.version, provider=m.provider,
                                          model_id=m.model_id, dimensions=m.dimensions,
                                          fingerprint=m.fingerprint or "")
                         for m in repo.active_model_versions(s))
        return Snapshot(
            model_versions=versions,
            drift_runs=tuple(repo.latest_drift_runs(s)),
            canary_runs=tuple(repo.latest_canary_runs(s)),
            jobs=tuple(ops.job_summaries(s)),
            alerts=tuple(ops.active_alerts(s)),
            deliveries=tuple(ops.delivery_counts(s)),
            source_counters=tuple(repo.source_counters(s)),
        )


class Agent:
    """The daemon: HTTP server, scheduler and job context around one database."""

    def __init__(self, settings: Settings, *, clock: Clock | None = None,
                 environ: Mapping[str, str] | None = None) -> None:
        self.settings = settings
        self.db = Database(settings.database.url, pool_size=settings.database.pool_size)
        self.ctx = JobContext(settings=settings, db=self.db, clock=clock or SystemClock(),
                              replica=settings.agent.replica_id or default_replica(),
                              environ=dict(environ) if environ is not None else None)
        self.registry = metrics.build_registry(lambda: load_snapshot(self.db))
        self.server: HttpServer | None = None
        self._scheduler: Any = None
        self._stop = threading.Event()
        self._cycle_lock = threading.Lock()

    # ------------------------------------------------------------------ HTTP

    def routes(self) -> dict[str, Any]:
        def metrics_route(_req: Request) -> Response:
            return Response(200, metrics.render(self.registry), metrics.CONTENT_TYPE)

        def healthz(_req: Request) -> Response:
            return Response(200, b"ok\n")

        def readyz(_req: Request) -> Response:
            ok, checks = self.readiness()
            body = json.dumps({"ready": ok, "checks": checks}, indent=1).encode()
            return Response(200 if ok else 503, body, "application/json")

        return {"/metrics": metrics_route, "/healthz": healthz, "/readyz": readyz}

    def readiness(self) -> tuple[bool, dict[str, str]]:
        checks: dict[str, str] = {}
        try:
            check_revision(self.db)
            checks["database"] = "ok"
        except MonitorError as exc:
            checks["database"] = str(exc)
        running = self._scheduler is not None and self._scheduler.running
        checks["scheduler"] = "ok" if running else "not running"
        if checks["database"] == "ok":
            now = self.ctx.clock.now()
            with self.db.read() as s:
                jobs = {j.job: j for j in ops.job_summaries(s)}
            for name in JOBS:
                j = jobs.get(name)
                limit = 2 * job_interval(self.settings, name) + timedelta(minutes=1)
                if j is None or j.last_started_at is None:
                    checks[f"job:{name}"] = "not run yet"
                elif now - j.last_started_at > limit:
                    checks[f"job:{name}"] = f"overdue: last ran {j.last_started_at.isoformat()}"
                else:
                    checks[f"job:{name}"] = "ok"
        ok = all(v in ("ok", "not run yet") for v in checks.values())
        return ok, checks

    # ------------------------------------------------------------------ jobs

    def run_cycle(self) -> list[Any]:
        """Every job once, in order (what the daemon does at start)."""
        with self._cycle_lock:
            return [run_job(self.ctx, name) for name in CYCLE if not self._stop.is_set()]

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Check the schema, start serving and scheduling; returns at once."""
        check_revision(self.db)
        if self.settings.server.enabled:
            self.server = HttpServer(self.settings.server.listen, self.routes())
            self.server.start()
            log.info("serving /metrics, /healthz, /readyz on %s", self.server.url)
        sched = self.settings.schedule
        self._scheduler = build_scheduler(
            [(name, job_interval(self.settings, name)) for name in CYCLE],
            lambda name: run_job(self.ctx, name),
            misfire_grace=parse_duration(sched.misfire_grace),
            jitter=parse_duration(sched.jitter), first_run=self.ctx.clock.now())
        self._scheduler.start()
        threading.Thread(target=self.run_cycle, name="driftmon-first-cycle", daemon=True).start()

    def stop(self) -> None:
        """Stop scheduling; give running jobs the grace period; close everything."""
        self._stop.set()
        grace = parse_duration(self.settings.agent.shutdown_grace).total_seconds()
        if self._scheduler is not None and self._scheduler.running:
            waiter = threading.Thread(target=self._scheduler.shutdown, kwargs={"wait": True},
                                      daemon=True)
            waiter.start()
            waiter.join(timeout=grace)
            if waiter.is_alive():
                log.warning("jobs still running after %.0fs; their transactions roll back", grace)
        if self._cycle_lock.acquire(timeout=grace):
            self._cycle_lock.release()
        if self.server is not None:
            self.server.stop()
        self.ctx.close()
        self.db.dispose()

    def run_forever(self) -> int:
        """Run until SIGTERM or SIGINT; exit code 0 on a clean stop."""
        stop = threading.Event()

        def on_signal(signum: int, _frame: object) -> None:
            log.info("received %s, stopping", signal.Signals(signum).name)
            stop.set()

        previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            self.start()
            while not stop.wait(1.0):
                pass
        finally:
            self.stop()
            for s, handler in previous.items():
                signal.signal(s, handler)
        return 0
