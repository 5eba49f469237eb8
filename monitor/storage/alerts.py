"""Query functions for the agent's own operation: job runs, alerts and the delivery outbox."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from monitor.clock import as_utc, as_utc_or_none
from monitor.domain import AlertRecord, DeliveryRecord, SilenceRecord
from monitor.storage.schema import Alert, AlertDelivery, Silence

__all__ = [
    "acknowledge",
    "active_alerts",
    "active_silences",
    "add_delivery",
    "add_silence",
    "delivery_counts",
    "due_deliveries",
    "expire_silence",
    "find_alert",
    "last_delivery_times",
    "mark_delivery",
    "recent_alerts",
    "save_alert",
]


def _alert(a: Alert) -> AlertRecord:
    return AlertRecord(
        id=a.id,
        rule=a.rule,
        fingerprint=a.fingerprint,
        labels=dict(a.labels),
        severity=a.severity,
        state=a.state,
        streak=a.streak,
        value=a.value,
        summary=a.summary,
        started_at=as_utc(a.started_at),
        fired_at=as_utc_or_none(a.fired_at),
        resolved_at=as_utc_or_none(a.resolved_at),
        last_notified_at=as_utc_or_none(a.last_notified_at),
        last_result_id=a.last_result_id,
        acknowledged_at=as_utc_or_none(a.acknowledged_at),
        acknowledged_by=a.acknowledged_by,
    )


def active_alerts(session: Session) -> list[AlertRecord]:
    """Pending and firing alerts."""
    rows = session.scalars(
        select(Alert).where(Alert.state.in_(("pending", "firing"))).order_by(Alert.id)
    )
    return [_alert(a) for a in rows]


def recent_alerts(session: Session, limit: int = 50) -> list[AlertRecord]:
    return [
        _alert(a) for a in session.scalars(select(Alert).order_by(Alert.id.desc()).limit(limit))
    ]


def save_alert(session: Session, record: AlertRecord | None, now: datetime, **values: Any) -> int:
    """Insert a new alert (``record`` None) or update an existing one; returns its id."""
    if record is None:
        alert = Alert(last_evaluated_at=now, **values)
        session.add(alert)
    else:
        alert = session.get_one(Alert, record.id)
        for key, value in values.items():
            setattr(alert, key, value)
        alert.last_evaluated_at = now
    session.flush()
    return alert.id


def add_delivery(
    session: Session,
    *,
    alert_id: int,
    sink: str,
    event: str,
    idempotency_key: str,
    payload: Mapping[str, Any],
    now: datetime,
) -> None:
    session.add(
        AlertDelivery(
            alert_id=alert_id,
            sink=sink,
            event=event,
            idempotency_key=idempotency_key,
            payload=payload,
            created_at=now,
            attempts=0,
            next_attempt_at=now,
            dead=False,
        )
    )
    session.flush()


def due_deliveries(session: Session, now: datetime, limit: int = 100) -> list[DeliveryRecord]:
    rows = session.scalars(
        select(AlertDelivery)
        .where(
            AlertDelivery.delivered_at.is_(None),
            AlertDelivery.dead.is_(False),
            AlertDelivery.next_attempt_at <= now,
        )
        .order_by(AlertDelivery.id)
        .limit(limit)
    )
    return [
        DeliveryRecord(
            id=d.id,
            sink=d.sink,
            event=d.event,
            idempotency_key=d.idempotency_key,
            payload=dict(d.payload),
            created_at=as_utc(d.created_at),
            attempts=d.attempts,
        )
        for d in rows
    ]


def mark_delivery(
    session: Session,
    delivery_id: int,
    now: datetime,
    *,
    ok: bool,
    status: int | None,
    error: str | None,
    retry_in: timedelta | None,
    dead: bool = False,
) -> None:
    d = session.get_one(AlertDelivery, delivery_id)
    d.attempts += 1
    d.last_status, d.last_error = status, error
    if ok:
        d.delivered_at = now
    elif dead:
        d.dead = True
    elif retry_in is not None:
        d.next_attempt_at = now + retry_in


def delivery_counts(session: Session) -> list[tuple[str, str, int]]:
    """(sink, state, count) with state in delivered | pending | dead."""
    out: list[tuple[str, str, int]] = []
    rows = session.execute(
        select(
            AlertDelivery.sink,
            AlertDelivery.delivered_at.is_not(None),
            AlertDelivery.dead,
            func.count(),
        ).group_by(AlertDelivery.sink, AlertDelivery.delivered_at.is_not(None), AlertDelivery.dead)
    ).all()
    for sink, delivered, dead, n in rows:
        state = "delivered" if delivered else ("dead" if dead else "pending")
        out.append((sink, state, int(n)))
    return out


def find_alert(session: Session, ref: str) -> AlertRecord | None:
    """An alert by id or by (a prefix of) its fingerprint; the newest if several."""
    q = select(Alert).order_by(Alert.id.desc())
    q = (
        q.where(Alert.id == int(ref))
        if ref.isdigit()
        else q.where(Alert.fingerprint.startswith(ref))
    )
    alert = session.scalars(q.limit(1)).first()
    return _alert(alert) if alert is not None else None


def acknowledge(session: Session, alert_id: int, who: str, now: datetime) -> None:
    alert = session.get_one(Alert, alert_id)
    alert.acknowledged_at, alert.acknowledged_by = now, who


def add_silence(
    session: Session,
    matchers: dict[str, str],
    starts_at: datetime,
    ends_at: datetime,
    created_by: str,
    comment: str,
) -> int:
    silence = Silence(
        matchers=matchers,
        starts_at=starts_at,
        ends_at=ends_at,
        created_by=created_by,
        comment=comment,
    )
    session.add(silence)
    session.flush()
    return silence.id


def expire_silence(session: Session, silence_id: int, now: datetime) -> bool:
    silence = session.get(Silence, silence_id)
    if silence is None or as_utc(silence.ends_at) <= now:
        return False
    silence.ends_at = now
    return True


def active_silences(session: Session, now: datetime) -> list[SilenceRecord]:
    rows = session.scalars(
        select(Silence).where(Silence.starts_at <= now, Silence.ends_at > now).order_by(Silence.id)
    )
    return [
        SilenceRecord(
            id=r.id,
            matchers=dict(r.matchers),
            starts_at=as_utc(r.starts_at),
            ends_at=as_utc(r.ends_at),
            created_by=r.created_by,
            comment=r.comment,
        )
        for r in rows
    ]


def last_delivery_times(session: Session, sink: str) -> dict[int, datetime]:
    """alert id -> when its newest delivery to ``sink`` was queued."""
    rows = session.execute(
        select(AlertDelivery.alert_id, func.max(AlertDelivery.created_at))
        .where(AlertDelivery.sink == sink)
        .group_by(AlertDelivery.alert_id)
    ).all()
    return {a: as_utc(t) for a, t in rows}
