"""The delivery outbox as a work queue: due sinks, and claiming one delivery at a time."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from monitor.clock import as_utc
from monitor.domain import DeliveryRecord
from monitor.storage.schema import AlertDelivery

__all__ = ["claim_delivery", "due_sinks"]


def claim_delivery(
    session: Session, sink: str, now: datetime, lease_until: datetime
) -> DeliveryRecord | None:
    """Claim the sink's oldest due delivery until ``lease_until``, or None when none is due.

    The claim moves ``next_attempt_at`` to the lease's end with a compare-and-set
    on the due conditions, so of two workers (a daemon and ``run-once``) only one
    sends it; on PostgreSQL the pick skips rows another worker is claiming. A
    worker that dies after claiming leaves the row due again once the lease ends.
    """
    due = (
        AlertDelivery.sink == sink,
        AlertDelivery.delivered_at.is_(None),
        AlertDelivery.dead.is_(False),
        AlertDelivery.next_attempt_at <= now,
    )
    pick = select(AlertDelivery.id).where(*due).order_by(AlertDelivery.id).limit(1)
    if session.get_bind().dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    claimed = session.scalar(
        update(AlertDelivery)
        .where(AlertDelivery.id == pick.scalar_subquery(), *due)
        .values(next_attempt_at=lease_until)
        .returning(AlertDelivery.id)
        .execution_options(synchronize_session=False)
    )
    if claimed is None:
        return None
    d = session.get_one(AlertDelivery, claimed)
    return DeliveryRecord(
        id=d.id,
        sink=d.sink,
        event=d.event,
        idempotency_key=d.idempotency_key,
        payload=dict(d.payload),
        created_at=as_utc(d.created_at),
        attempts=d.attempts,
    )


def due_sinks(session: Session, now: datetime) -> list[str]:
    """Sinks with at least one delivery due at ``now``."""
    return list(
        session.scalars(
            select(AlertDelivery.sink)
            .where(
                AlertDelivery.delivered_at.is_(None),
                AlertDelivery.dead.is_(False),
                AlertDelivery.next_attempt_at <= now,
            )
            .distinct()
            .order_by(AlertDelivery.sink)
        )
    )
