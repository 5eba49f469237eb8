"""The read model of /metrics, /api/v1/status and ``driftmon status``: one short read."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.domain import ModelVersionInfo, Snapshot
from monitor.storage.alerts import active_alerts, delivery_counts
from monitor.storage.canaries import latest_canary_runs
from monitor.storage.drift import latest_drift_runs
from monitor.storage.engine import Database
from monitor.storage.job_runs import job_summaries
from monitor.storage.schema import SourceCounter
from monitor.storage.versions import active_model_versions

__all__ = ["load_snapshot", "source_counters"]


def source_counters(session: Session) -> list[tuple[str, str, int]]:
    """(source, counter, value) of every source, in a stable order."""
    rows = session.execute(
        select(SourceCounter.source, SourceCounter.counter, SourceCounter.value).order_by(
            SourceCounter.source, SourceCounter.counter
        )
    ).all()
    return [(source, counter, int(value)) for source, counter, value in rows]


def load_snapshot(db: Database) -> Snapshot:
    """Everything /metrics and the status document show, in one short read."""
    with db.read() as s:
        versions = tuple(
            ModelVersionInfo(
                model=m.model,
                version=m.version,
                provider=m.provider,
                model_id=m.model_id,
                dimensions=m.dimensions,
                fingerprint=m.fingerprint or "",
            )
            for m in active_model_versions(s)
        )
        return Snapshot(
            model_versions=versions,
            drift_runs=tuple(latest_drift_runs(s)),
            canary_runs=tuple(latest_canary_runs(s)),
            jobs=tuple(job_summaries(s)),
            alerts=tuple(active_alerts(s)),
            deliveries=tuple(delivery_counts(s)),
            source_counters=tuple(source_counters(s)),
        )
