"""Composition root: builds the pieces from Settings and runs the daemon's lifecycle."""

from __future__ import annotations

import dataclasses
import fcntl
import json
import logging
import signal
import threading
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from monitor import metrics
from monitor.clock import Clock, SystemClock
from monitor.config import Interval, Schedule, Settings, load_settings, resolve_secret
from monitor.errors import MonitorError, StorageError
from monitor.jobs.context import ContextSwitch, JobContext, default_replica
from monitor.jobs.ingest import ingest_route
from monitor.jobs.registry import JOB_NAMES, job_interval, job_schedule
from monitor.jobs.runner import JobOutcome, run_job
from monitor.reports.service import ui_page
from monitor.scheduler import build_scheduler, reschedule, schedule_period
from monitor.server import Guard, HttpServer, Limits, Request, Response, Route
from monitor.sources.http import bearer_source
from monitor.status import status_document
from monitor.storage import job_runs as job_runs_store
from monitor.storage.engine import Database
from monitor.storage.migrate import check_revision
from monitor.storage.snapshot import load_snapshot

__all__ = ["CYCLE", "Agent"]

log = logging.getLogger("driftmon.app")

#: the order of one full cycle
CYCLE = JOB_NAMES


def lock_sqlite_file(url: str) -> Any:
    """The held lock of a SQLite database's one daemon (None for other databases).

    Raises StorageError naming the file when another daemon holds it.
    """
    if not url.startswith("sqlite:///") or ":memory:" in url:
        return None
    path = url[len("sqlite:///") :]
    fh = open(path + ".lock", "a+")  # held open for the daemon's lifetime
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.close()
        raise StorageError(
            f"another driftmon daemon is running on {path} "
            "(SQLite allows one; use PostgreSQL for several replicas)"
        ) from None
    return fh


class Agent:
    """The daemon: HTTP server, scheduler and job context around one database."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock | None = None,
        environ: Mapping[str, str] | None = None,
        config_path: str | None = None,
    ) -> None:
        self.config_path = config_path
        self._lock_file: Any = None
        self.db = Database(settings.database.url, pool_size=settings.database.pool_size)
        self.registry = metrics.build_registry(lambda: load_snapshot(self.db))
        self.live = ContextSwitch(
            JobContext(
                settings=settings,
                db=self.db,
                clock=clock or SystemClock(),
                replica=settings.agent.replica_id or default_replica(),
                environ=dict(environ) if environ is not None else None,
                meter=metrics.ProviderMeter(self.registry),
            )
        )
        self.server: HttpServer | None = None
        self._scheduler: Any = None
        self._stop = threading.Event()
        self._cycle_lock = threading.Lock()

    @property
    def ctx(self) -> JobContext:
        """The current context (a run keeps the one it started with; see ContextSwitch)."""
        return self.live.current

    @property
    def settings(self) -> Settings:
        return self.live.current.settings

    # ------------------------------------------------------------------ HTTP

    def routes(self) -> dict[str, Route]:
        """Every path the daemon serves; /metrics, /api/ and /ui/ behind the optional token."""

        def metrics_route(_req: Request) -> Response:
            return Response(200, metrics.render(self.registry), metrics.CONTENT_TYPE)

        def healthz(_req: Request) -> Response:
            return Response(200, b"ok\n")

        def readyz(_req: Request) -> Response:
            ok, checks = self.readiness()
            body = json.dumps({"ready": ok, "checks": checks}, indent=1).encode()
            return Response(200 if ok else 503, body, "application/json")

        def status(_req: Request) -> Response:
            doc = status_document(load_snapshot(self.db), self.ctx.clock.now())
            return Response(200, json.dumps(doc, indent=1).encode(), "application/json")

        def ui(req: Request) -> Response:
            page = ui_page(self.db, req.path, self.ctx.clock.now())
            return Response(page.status, page.body, page.content_type, page.headers)

        guard = self._token_guard()
        return {
            "/ui/{rest:path}": Route(ui, guard=guard),
            "/metrics": Route(metrics_route, guard=guard),
            "/healthz": Route(healthz),
            "/readyz": Route(readyz),
            "/api/v1/status": Route(status, guard=guard),
            "/v1/queries": ingest_route(self.live),
        }

    def _token_guard(self) -> Guard:
        """Refuses requests without ``Bearer <server.token_env>`` when that is set."""
        server = self.settings.server
        token = (
            resolve_secret(server.token_env, "server.token_env", self.ctx.environ)
            if server.token_env
            else ""
        )

        def guard(head: Request) -> Response | int:
            if token and bearer_source(head.headers.get("authorization"), {"": token}) is None:
                return Response(
                    401,
                    b"missing or wrong bearer token (server.token_env)\n",
                    headers={"WWW-Authenticate": 'Bearer realm="driftmon"'},
                )
            return 0

        return guard

    def server_limits(self) -> Limits:
        server = self.settings.server
        return Limits(
            max_connections=server.max_connections,
            idle_timeout=server.idle_timeout.total_seconds(),
            read_timeout=server.read_timeout.total_seconds(),
            request_deadline=server.request_deadline.total_seconds(),
            shutdown_grace=self.settings.agent.shutdown_grace.total_seconds(),
        )

    def start_server(self) -> None:
        """Bind and serve (a clash is a ConfigError naming server.listen)."""
        server = self.settings.server
        host = server.listen.rpartition(":")[0].strip("[]")
        if not server.token_env and host not in ("127.0.0.1", "localhost", "::1"):
            log.warning(
                "server.listen %s is reachable from other hosts and server.token_env is not "
                "set: /metrics and /api/v1/status are open to them",
                server.listen,
            )
        self.server = HttpServer(server.listen, self.routes(), self.server_limits())
        self.server.start()
        log.info("serving /metrics, /healthz, /readyz, /api/v1/status on %s", self.server.url)

    def readiness(self) -> tuple[bool, dict[str, str]]:
        checks: dict[str, str] = {}
        try:
            check_revision(self.db)
            checks["database"] = "ok"
        except MonitorError as exc:
            checks["database"] = str(exc)
        failed_write = self.db.last_write_error
        checks["writes"] = (
            "ok" if failed_write is None else f"the last write failed: {failed_write}"
        )
        running = self._scheduler is not None and self._scheduler.running
        checks["scheduler"] = "ok" if running else "not running"
        if checks["database"] == "ok":
            now = self.ctx.clock.now()
            with self.db.read() as s:
                jobs = {j.job: j for j in job_runs_store.job_summaries(s)}
            for name in JOB_NAMES:
                j = jobs.get(name)
                limit = 2 * job_interval(self.settings, name, self.ctx.cron_periods) + timedelta(
                    minutes=1
                )
                if j is None or j.last_started_at is None:
                    checks[f"job:{name}"] = "not run yet"
                elif now - j.last_started_at > limit:
                    checks[f"job:{name}"] = f"overdue: last ran {j.last_started_at.isoformat()}"
                else:
                    checks[f"job:{name}"] = "ok"
        ok = all(v in ("ok", "not run yet") for v in checks.values())
        return ok, checks

    # ------------------------------------------------------------------ jobs

    def run_cycle(self) -> list[JobOutcome]:
        """Every job once, in order (what the daemon does at start), each claiming its slot."""
        with self._cycle_lock:
            return [self.run_scheduled(name) for name in CYCLE if not self._stop.is_set()]

    def run_scheduled(self, name: str) -> JobOutcome:
        """Run one job as the scheduler does: claim its slot, on the current settings."""
        with self.live.use() as ctx:  # one settings snapshot for the whole run
            return run_job(ctx, name, slot=_slot(ctx, name))

    # ------------------------------------------------------------------ lifecycle

    def _specs(self) -> list[tuple[str, Schedule]]:
        return [(name, job_schedule(self.settings, name)) for name in CYCLE]

    def _lock_sqlite(self) -> None:
        """SQLite supports one daemon per file: hold an exclusive lock beside it."""
        self._lock_file = lock_sqlite_file(self.settings.database.url)

    def start(self) -> None:
        """Check the schema, start serving and scheduling; returns at once."""
        check_revision(self.db)
        self._lock_sqlite()
        now = self.ctx.clock.now()
        periods = {name: schedule_period(name, spec, now) for name, spec in self._specs()}
        self.live.swap(dataclasses.replace(self.ctx, cron_periods=periods))
        sched = self.settings.schedule
        self._scheduler = build_scheduler(
            self._specs(),
            self.run_scheduled,
            misfire_grace=sched.misfire_grace.delta,
            jitter=sched.jitter.delta,
            first_run=now,
        )
        if self.settings.server.enabled:
            self.start_server()
        self._scheduler.start()
        threading.Thread(target=self.run_cycle, name="driftmon-first-cycle", daemon=True).start()

    def reload(self) -> bool:
        """SIGHUP: re-read the config; a bad one keeps the running config and says why."""
        if self.config_path is None:
            log.warning("reload: the agent was started without a config file; nothing to do")
            return False
        try:
            new = load_settings(self.config_path)
            now = self.ctx.clock.now()
            periods: dict[str, timedelta] = {
                name: schedule_period(name, job_schedule(new, name), now) for name in CYCLE
            }
        except MonitorError as exc:
            log.error("reload failed, keeping the running config: %s", exc)
            return False
        for section in ("database", "server"):
            if getattr(new, section) != getattr(self.settings, section):
                log.warning("reload: [%s] changes need a restart; keeping the running one", section)
                new = dataclasses.replace(new, **{section: getattr(self.settings, section)})
        old = self.ctx
        # fresh providers for the new settings; the old ones close after the runs using them
        self.live.swap(
            JobContext(
                settings=new,
                db=self.db,
                clock=old.clock,
                replica=old.replica,
                environ=old.environ,
                cron_periods=periods,
                meter=old.meter,
            )
        )
        if self._scheduler is not None:
            reschedule(self._scheduler, self._specs(), jitter=new.schedule.jitter.delta, now=now)
        log.info("configuration reloaded from %s", self.config_path)
        return True

    def stop(self) -> None:
        """Stop scheduling; give running jobs the grace period; close everything."""
        self._stop.set()
        grace = self.settings.agent.shutdown_grace.total_seconds()
        if self.server is not None:  # in-flight requests finish within the grace period
            self.server.stop()
        if self._scheduler is not None and self._scheduler.running:
            waiter = threading.Thread(
                target=self._scheduler.shutdown, kwargs={"wait": True}, daemon=True
            )
            waiter.start()
            waiter.join(timeout=grace)
            if waiter.is_alive():
                log.warning("jobs still running after %.0fs; their transactions roll back", grace)
        if self._cycle_lock.acquire(timeout=grace):
            self._cycle_lock.release()
        self.ctx.close()
        self.db.dispose()
        if self._lock_file is not None:
            self._lock_file.close()

    def run_forever(self) -> int:
        """Run until SIGTERM or SIGINT; exit code 0 on a clean stop."""
        stop = threading.Event()

        def on_signal(signum: int, _frame: object) -> None:
            log.info("received %s, stopping", signal.Signals(signum).name)
            stop.set()

        reload = threading.Event()
        previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
        previous[signal.SIGHUP] = signal.signal(signal.SIGHUP, lambda *_: reload.set())
        try:
            self.start()
            while not stop.wait(0.5):
                if reload.is_set():
                    reload.clear()
                    self.reload()
        finally:
            self.stop()
            for s, handler in previous.items():
                signal.signal(s, handler)
        return 0


def _slot(ctx: JobContext, name: str) -> datetime:
    """The start of the scheduled execution this run belongs to (see run_job)."""
    now = ctx.clock.now()
    schedule = job_schedule(ctx.settings, name)
    if not isinstance(schedule, Interval):
        return now.replace(second=0, microsecond=0)
    step = schedule.every.total_seconds()
    return datetime.fromtimestamp((now.timestamp() // step) * step, UTC)
