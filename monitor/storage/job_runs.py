"""Job runs: slot claims, leases and outcomes; the job summaries.

Callers own the transaction; functions return domain records, never ORM rows.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import and_, func, or_, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from monitor.clock import as_utc, as_utc_or_none
from monitor.domain import JobRecord
from monitor.storage.engine import Database
from monitor.storage.schema import JobRun

__all__ = [
    "advisory_key",
    "claim_job_run",
    "claim_slot",
    "extend_lease",
    "finish_job_run",
    "job_summaries",
    "start_job_run",
]


def start_job_run(session: Session, job: str, replica: str, now: datetime) -> int:
    run = JobRun(job=job, replica=replica, started_at=now, status="running", items=0)
    session.add(run)
    session.flush()
    return run.id


def advisory_key(name: str) -> int:
    """A stable signed 64-bit key for PostgreSQL advisory locks (not hashtext())."""
    digest = hashlib.sha256(f"driftmon:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def claim_job_run(
    session: Session,
    job: str,
    replica: str,
    now: datetime,
    slot_start: datetime,
    lease_until: datetime,
) -> int | None:
    """Claim the scheduled execution (job, slot) for this replica, or None.

    None when another replica already ran or claimed this slot, or still holds an
    unexpired lease on the job. On PostgreSQL the check and the insert run under a
    transaction-level advisory lock, which also works behind PgBouncer in
    transaction-pooling mode; the unique (job, slot_start) constraint backs it up.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": advisory_key(job)})
    session.execute(
        update(JobRun)
        .where(  # a replica that stopped renewing its lease died
            JobRun.job == job, JobRun.status == "running", JobRun.lease_until <= now
        )
        .values(
            status="abandoned",
            finished_at=now,
            lease_until=None,
            error="its replica stopped renewing the lease",
        )
    )
    taken = session.scalar(
        select(JobRun.id)
        .where(
            JobRun.job == job,
            or_(
                JobRun.slot_start == slot_start,
                and_(JobRun.status == "running", JobRun.lease_until > now),
            ),
        )
        .limit(1)
    )
    if taken is not None:
        return None
    run = JobRun(
        job=job,
        replica=replica,
        started_at=now,
        status="running",
        items=0,
        slot_start=slot_start,
        lease_until=lease_until,
    )
    session.add(run)
    session.flush()
    return run.id


def claim_slot(
    db: Database, job: str, replica: str, now: datetime, slot_start: datetime, lease_until: datetime
) -> int | None:
    """:func:`claim_job_run` in its own transaction; None also when another replica
    inserted the same (job, slot) first and the unique constraint refused this one."""
    try:
        with db.transaction() as s:
            return claim_job_run(s, job, replica, now, slot_start, lease_until)
    except IntegrityError:
        return None


def extend_lease(session: Session, run_id: int, until: datetime) -> None:
    session.execute(
        update(JobRun)
        .where(JobRun.id == run_id, JobRun.status == "running")
        .values(lease_until=until)
    )


def finish_job_run(
    session: Session,
    run_id: int,
    status: str,
    now: datetime,
    *,
    items: int = 0,
    error: str | None = None,
) -> None:
    run = session.get(JobRun, run_id)
    if run is None:
        return
    run.status, run.finished_at, run.items, run.error = status, now, items, error
    run.lease_until = None


def job_summaries(session: Session) -> list[JobRecord]:
    """Per job: last status, last start, last success, last duration and failure count."""
    out: list[JobRecord] = []
    jobs = session.scalars(select(JobRun.job).distinct().order_by(JobRun.job)).all()
    for job in jobs:
        last = session.scalars(
            select(JobRun)
            .where(JobRun.job == job)
            .order_by(JobRun.started_at.desc(), JobRun.id.desc())
            .limit(1)
        ).first()
        ok = session.scalars(
            select(JobRun)
            .where(JobRun.job == job, JobRun.status == "ok")
            .order_by(JobRun.started_at.desc(), JobRun.id.desc())
            .limit(1)
        ).first()
        failures = (
            session.scalar(
                select(func.count())
                .select_from(JobRun)
                .where(JobRun.job == job, JobRun.status == "failed")
            )
            or 0
        )
        recent = session.scalars(
            select(JobRun.status)
            .where(JobRun.job == job, JobRun.status != "running")
            .order_by(JobRun.started_at.desc(), JobRun.id.desc())
            .limit(50)
        ).all()
        streak = next((i for i, st in enumerate(recent) if st != "failed"), len(recent))
        duration = None
        if ok is not None and ok.finished_at is not None:
            duration = (as_utc(ok.finished_at) - as_utc(ok.started_at)).total_seconds()
        assert last is not None
        out.append(
            JobRecord(
                job=job,
                last_status=last.status,
                last_started_at=as_utc(last.started_at),
                last_success_at=as_utc_or_none(ok.finished_at) if ok is not None else None,
                last_duration_seconds=duration,
                failures=int(failures),
                consecutive_failures=streak,
                last_run_id=last.id,
            )
        )
    return out
