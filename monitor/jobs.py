"""The agent's jobs: plain functions the scheduler runs on a timer and the CLI runs once.

Each job does its network I/O (embedding calls) before it opens its write
transaction, and writes all it learned in that one transaction, so a failure
leaves nothing half-written. Alerts caused by a result are evaluated and queued
for delivery in the same transaction as the result.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from monitor import stats
from monitor.alerting.webhook import WebhookSender
from monitor.clock import Clock, SystemClock
from monitor.config import (
    ModelSettings,
    Settings,
    parse_duration,
    parse_reference,
    parse_schedule,
)
from monitor.errors import InsufficientDataError, MonitorError, ProviderError
from monitor.logctx import CURRENT_JOB
from monitor.stats.drift_map import map_document
from monitor.providers import EmbeddingProvider, EmbeddingResult, build_provider
from monitor.storage import operations as ops
from monitor.storage import repository as repo
from monitor.storage.engine import Database

__all__ = ["JOBS", "JobContext", "JobOutcome", "run_job"]

log = logging.getLogger("driftmon.jobs")


def default_replica() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


@dataclass
class JobContext:
    """What every job needs, built once by the app and passed in."""

    settings: Settings
    db: Database
    clock: Clock = field(default_factory=SystemClock)
    replica: str = field(default_factory=default_replica)
    providers: dict[str, EmbeddingProvider] = field(default_factory=dict)
    sender: WebhookSender | None = None
    environ: dict[str, str] | None = None
    cron_periods: dict[str, timedelta] = field(default_factory=dict)
    meter: Any = None  # metrics.ProviderMeter when the app exports provider metrics

    def provider(self, model: ModelSettings) -> EmbeddingProvider:
        if model.name not in self.providers:
            self.providers[model.name] = build_provider(model)
        return self.providers[model.name]

    def embed(self, model: ModelSettings, texts: list[str], kind: str) -> EmbeddingResult:
        """Embed through the model's provider, counting the call in the provider metrics."""
        started = time.perf_counter()
        try:
            result = self.provider(model).embed(texts, kind)  # type: ignore[arg-type]
        except ProviderError:
            if self.meter is not None:
                self.meter.observe(
                    model.name,
                    requests=0,
                    retries=0,
                    errors=1,
                    tokens=0,
                    cost=0.0,
                    seconds=time.perf_counter() - started,
                    outcome="error",
                )
            raise
        if self.meter is not None:
            u = result.usage
            self.meter.observe(
                model.name,
                requests=u.requests,
                retries=u.retries,
                errors=u.errors,
                tokens=u.input_tokens,
                cost=u.cost,
                seconds=time.perf_counter() - started,
                outcome="partial" if result.failed else "ok",
            )
        return result

    def models(self, only: str | None = None) -> list[ModelSettings]:
        chosen = [m for m in self.settings.models if m.active]
        if only is not None:
            chosen = [self.settings.model(only)]
        return chosen

    def close(self) -> None:
        for p in self.providers.values():
            p.close()
        self.providers.clear()
        if self.sender is not None:
            self.sender.close()


@dataclass(frozen=True)
class JobOutcome:
    job: str
    status: str  # ok | failed | skipped
    items: int
    message: str = ""
    details: dict[str, Any] = field(default_factory=dict)


class Skip(Exception):
    """A job found nothing to do; recorded as ``skipped``, not a failure."""


def run_job(
    ctx: JobContext, job: str, *, model: str | None = None, slot: datetime | None = None
) -> JobOutcome:
    """Run one job, recording it in ``job_runs``; never raises for a job's own failure.

    A scheduled run passes its ``slot`` (the start of its interval): it runs only if
    it can claim (job, slot) — so among replicas sharing PostgreSQL each scheduled
    execution runs once — and it renews its lease while it runs, so a replica that
    dies mid-job frees the job within one lease.
    """
    fn = JOBS[job]
    lease = parse_duration(ctx.settings.agent.lease)
    stop_heartbeat = threading.Event()
    try:
        if slot is None:
            with ctx.db.transaction() as s:
                claimed = ops.start_job_run(s, job, ctx.replica, ctx.clock.now())
        else:
            with ctx.db.transaction() as s:
                now = ctx.clock.now()
                claimed = ops.claim_job_run(s, job, ctx.replica, now, slot, now + lease)
    except IntegrityError:
        claimed = None  # another replica inserted the same slot first
    except MonitorError as exc:  # no database, no run: /readyz says why
        log.error("job %s not started: %s", job, exc)
        return JobOutcome(job=job, status="failed", items=0, message=str(exc))
    if slot is not None:
        if claimed is None:
            log.debug("job %s: slot %s already claimed", job, slot.isoformat())
            return JobOutcome(job=job, status="claimed_elsewhere", items=0)
        threading.Thread(
            target=_heartbeat,
            args=(ctx, claimed, lease, stop_heartbeat),
            name=f"driftmon-lease-{job}",
            daemon=True,
        ).start()
    assert claimed is not None
    run_id = claimed
    token = CURRENT_JOB.set((job, run_id))
    started = time.perf_counter()
    status, message, items, details = "ok", "", 0, {}
    try:
        items, details = fn(ctx, model)
    except (Skip, InsufficientDataError) as exc:
        status, message = "skipped", str(exc)
    except MonitorError as exc:
        status, message = "failed", str(exc)
    except Exception as exc:  # a job's bug must not stop the other jobs
        status, message = "failed", f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"
        log.exception("job %s crashed", job)
    finally:
        stop_heartbeat.set()
    try:
        try:
            with ctx.db.transaction() as s:
                ops.finish_job_run(
                    s, run_id, status, ctx.clock.now(), items=items, error=message or None
                )
        except MonitorError as exc:  # the row stays 'running' until its lease lapses
            log.error("job %s: could not record its outcome: %s", job, exc)
        log.info(
            "job %s %s in %.2fs (%d items)%s",
            job,
            status,
            time.perf_counter() - started,
            items,
            f": {message}" if message else "",
        )
    finally:
        CURRENT_JOB.reset(token)
    return JobOutcome(job=job, status=status, items=items, message=message, details=details)


def _heartbeat(ctx: JobContext, run_id: int, lease: timedelta, stop: threading.Event) -> None:
    while not stop.wait(lease.total_seconds() / 3):
        try:
            with ctx.db.transaction() as s:
                ops.extend_lease(s, run_id, ctx.clock.now() + lease)
        except MonitorError as exc:  # the database is away; the lease will lapse
            log.warning("could not renew the lease of run %d: %s", run_id, exc)


def canary_job(ctx: JobContext, only: str | None) -> tuple[int, dict[str, Any]]:
    from monitor.canary_runs import run_canaries

    return run_canaries(ctx, only)


# --------------------------------------------------------------------------- drift


def drift_job(ctx: JobContext, only: str | None) -> tuple[int, dict[str, Any]]:
    """Test the latest sampling window against the reference, per model version."""
    cfg = ctx.settings.drift
    window = parse_duration(ctx.settings.sampling.window)
    kind, arg = parse_reference(cfg.reference)
    now = ctx.clock.now()
    with ctx.db.read() as s:
        cur_start = repo.latest_window_start(s)
    if cur_start is None:
        raise Skip("no query samples yet")
    cur_end = cur_start + window
    ref_start, ref_end = (cur_start - arg, cur_start) if kind == "rolling" else arg
    done = 0
    details: dict[str, Any] = {}
    for model in ctx.models(only):
        with ctx.db.transaction() as s:
            mv = repo.ensure_model_version(s, model.name, dataclasses.asdict(model), now)
            changed = repo.changed_canary_sets(s, mv.id)
        if changed:
            # vectors from before and after a silent change are not comparable: no drift
            # run (and no caching of the new vectors) until someone re-baselines
            details[model.name] = {
                "verdict": "suspended",
                "reason": f"the canary set(s) {', '.join(changed)} say the model changed under "
                f"its name; run 'driftmon canary rebaseline' once the index is "
                "rebuilt",
            }
            log.warning("drift run for %s suspended: %s", model.name, details[model.name]["reason"])
            continue
        _embed_missing(ctx, model, mv.id, [(ref_start, ref_end), (cur_start, cur_end)])
        with ctx.db.read() as s:
            ref_ids, _, ref = repo.window_embeddings(s, mv.id, ref_start, ref_end)
            cur_ids, cur_texts, cur = repo.window_embeddings(s, mv.id, cur_start, cur_end)
            if repo.drift_run_exists(s, mv.id, cur_start, len(cur)):
                details[model.name] = {"verdict": "unchanged input, not re-run"}
                continue
        seed = (cfg.seed * 1_000_003 + int(cur_start.timestamp()) + mv.id) % (2**31)
        rng = np.random.default_rng(seed)
        if len(ref) > cfg.max_reference:
            keep = np.sort(rng.choice(len(ref), cfg.max_reference, replace=False))
            ref, ref_ids = ref[keep], [ref_ids[i] for i in keep]
        if len(ref) == 0 or len(cur) == 0:
            result = None
        else:
            result = stats.run_suite(
                ref,
                cur,
                alpha=cfg.alpha,
                n_permutations=cfg.permutations,
                seed=seed,
                tests=cfg.tests or None,
                min_samples=cfg.min_samples,
            )
        verdict = result.verdict if result is not None else "insufficient_data"
        explanation = _explain(result, cur_texts) if result is not None else None
        if result is not None and len(ref) >= 2:
            explanation = _with_map(explanation, ref, cur, ref_ids, cur_ids, rng)
        with ctx.db.transaction() as s:
            run_id = repo.save_drift_run(
                s,
                model_version_id=mv.id,
                created_at=now,
                window_start=cur_start,
                window_end=cur_end,
                reference_start=ref_start,
                reference_end=ref_end,
                n_ref=len(ref),
                n_cur=len(cur),
                verdict=verdict,
                alpha=cfg.alpha,
                seed=seed,
                policy=result.policy if result is not None else "",
                explanation=explanation,
                metrics=[_metric_row(t) for t in (result.tests.values() if result else [])],
            )
            evaluate_alerts(ctx, s)
        details[model.name] = {
            "verdict": verdict,
            "run_id": run_id,
            "n_ref": len(ref),
            "n_cur": len(cur),
            "tests": {k: v.to_dict() for k, v in (result.tests.items() if result else [])},
            "explanation": {k: v for k, v in (explanation or {}).items() if k != "map"} or None,
        }
        done += 1
    return done, details


def _metric_row(t: Any) -> dict[str, Any]:
    def f(x: float | None) -> float | None:
        return None if x is None or not np.isfinite(x) else float(x)

    return {
        "test": t.name,
        "statistic": f(t.statistic),
        "p_value": f(t.p_value),
        "threshold": f(t.threshold),
        "effect": f(t.effect),
        "drift": bool(t.drift),
    }


def _explain(result: Any, cur_texts: list[str | None]) -> dict[str, Any] | None:
    """The stats explanation with the (redacted) example queries it points at."""
    if result.explanation is None:
        return None
    data: dict[str, Any] = result.explanation.to_dict()

    def examples(indices: list[int]) -> list[str]:
        seen: dict[str, None] = {}  # distinct texts, most central first
        for i in indices:
            text = cur_texts[i]
            if text is not None:
                seen.setdefault(text)
        return list(seen)[:5]

    for cluster in data.get("clusters", []):
        if cluster.get("status") == "grew":
            cluster["examples"] = examples(cluster.get("cur_examples", []))
    for group in data.get("emerging", []):
        group["examples"] = examples(group.get("cur_examples", []))
    return data


def _with_map(
    explanation: dict[str, Any] | None,
    ref: np.ndarray,
    cur: np.ndarray,
    ref_ids: list[int],
    cur_ids: list[int],
    rng: np.random.Generator,
) -> dict[str, Any]:
    """The explanation with the run's 2-D map added (the report draws it); members dropped."""
    data = dict(explanation or {})
    groups: list[tuple[str, str, list[int]]] = []
    for n, group in enumerate(data.get("emerging", []), start=1):
        label = f"new group {n}: " + "; ".join(group.get("examples", [])[:2])
        groups.append(("emerging", label, list(group.pop("members", []))))
    for cluster in data.get("clusters", []):
        if cluster.get("status") == "grew":
            label = f"grew x{cluster.get('ratio', 0):.1f}: " + "; ".join(
                cluster.get("examples", [])[:2]
            )
            groups.append(("grew", label, list(cluster.get("cur_examples", []))))
    data["map"] = map_document(ref, cur, ref_ids, cur_ids, groups, rng)
    return data


def _embed_missing(
    ctx: JobContext, model: ModelSettings, mv_id: int, ranges: list[tuple[datetime, datetime]]
) -> int:
    """Embed the samples in ``ranges`` this version has no vector for.

    Each distinct text is embedded once per model version: a repeated query reuses
    the vector already stored for its hash (the query-embedding cache).
    """
    n = 0
    for since, until in ranges:
        with ctx.db.read() as s:
            missing = [
                m
                for m in repo.samples_missing_embeddings(s, mv_id, since, until)
                if m[2] is not None
            ]
            cached = repo.embeddings_by_hash(s, mv_id, sorted({h for _, h, _ in missing}))
        texts: dict[str, str] = {}
        for _, h, text in missing:
            if h not in cached and text is not None:
                texts.setdefault(h, text)
        todo = list(texts.items())
        for start in range(0, len(todo), 512):
            chunk = todo[start : start + 512]
            result = ctx.embed(model, [t for _, t in chunk], "query")
            for i in result.ok_indices:
                cached[chunk[i][0]] = result.vectors[i]
        with ctx.db.transaction() as s:
            n += repo.save_query_embeddings(
                s, mv_id, ((sid, cached[h]) for sid, h, _ in missing if h in cached)
            )
    return n


# --------------------------------------------------------------------------- alerts


def evaluate_alerts(ctx: JobContext, s: Session) -> int:
    """Evaluate the rules on stored results; write state and outbox rows in ``s``."""
    from monitor.alerting.rules import evaluate
    from monitor.signals import collect_signals, write_transitions

    now = ctx.clock.now()
    longest = max((r.for_runs for r in ctx.settings.alerts.rules), default=1)
    intervals = {name: job_interval(ctx.settings, name, ctx.cron_periods) for name in JOB_INTERVALS}
    signals = collect_signals(s, max(longest, 1), intervals, now)
    transitions = evaluate(
        ctx.settings.alerts.rules,
        signals,
        ops.active_alerts(s),
        now,
        parse_duration(ctx.settings.alerts.renotify),
    )
    return write_transitions(s, transitions, ctx.settings.alerts.sinks, now)


def alerts_job(ctx: JobContext, _model: str | None) -> tuple[int, dict[str, Any]]:
    """Evaluate rules (time-based ones too) and queue re-sends for sinks that want them."""
    from monitor.signals import queue_resends

    with ctx.db.transaction() as s:
        n = evaluate_alerts(ctx, s)
        resent = queue_resends(
            s,
            ctx.settings.alerts.sinks,
            parse_duration(ctx.settings.alerts.renotify),
            ctx.clock.now(),
        )
    return n, {"transitions": n, "resends": resent}


def deliver_job(ctx: JobContext, _model: str | None) -> tuple[int, dict[str, Any]]:
    from monitor.delivery import deliver_due

    return deliver_due(ctx)


def sample_job(ctx: JobContext, model: str | None) -> tuple[int, dict[str, Any]]:
    from monitor.sampling import sample_sources

    return sample_sources(ctx)


JOBS: dict[str, Callable[[JobContext, str | None], tuple[int, dict[str, Any]]]] = {
    "sample": sample_job,
    "canary": canary_job,
    "drift": drift_job,
    "alerts": alerts_job,
    "deliver": deliver_job,
}

#: which schedule setting drives each job
JOB_INTERVALS = {
    "sample": "sample",
    "canary": "canary",
    "drift": "drift",
    "alerts": "alerts",
    "deliver": "deliver",
}


def job_interval(
    settings: Settings, job: str, cron_periods: dict[str, timedelta] | None = None
) -> timedelta:
    """The job's interval; for a cron schedule, the period the scheduler measured (else a day)."""
    kind, arg = parse_schedule(getattr(settings.schedule, JOB_INTERVALS[job]))
    if kind == "interval":
        return arg  # type: ignore[no-any-return]
    return (cron_periods or {}).get(job, timedelta(days=1))
