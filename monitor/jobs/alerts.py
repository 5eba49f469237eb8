"""The alerts job and the database side of alerting.

Rules are evaluated on stored results; alert state changes and their outbox rows
are written in the caller's session, i.e. in the same transaction as the result
that caused them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from monitor.alerting.payload import AlertPayload, alert_payload
from monitor.alerting.routing import sink_accepts
from monitor.alerting.rules import Transition, evaluate
from monitor.alerting.signals import TRAILING_RUNS, build_signals
from monitor.config import SinkSettings, parse_duration
from monitor.domain import Signal
from monitor.jobs.context import JobContext
from monitor.jobs.registry import JOB_NAMES, job_interval
from monitor.storage import alerts as alerts_store
from monitor.storage import canaries as canaries_store
from monitor.storage import drift as drift_store
from monitor.storage import job_runs as job_runs_store
from monitor.storage.engine import Session

__all__ = [
    "alerts_job",
    "collect_signals",
    "evaluate_alerts",
    "queue_resends",
    "write_transitions",
]


def collect_signals(
    s: Session, history: int, job_intervals: Mapping[str, timedelta], now: datetime
) -> list[Signal]:
    """The alertable signals of every active model version and job."""
    return build_signals(
        canaries_store.latest_canary_runs(s, limit_per_key=max(history, TRAILING_RUNS + 1)),
        drift_store.latest_drift_runs(s, limit_per_version=history),
        job_runs_store.job_summaries(s),
        history=history,
        job_intervals=job_intervals,
        now=now,
    )


def evaluate_alerts(ctx: JobContext, s: Session) -> int:
    """Evaluate the rules on stored results; write state and outbox rows in ``s``."""
    now = ctx.clock.now()
    longest = max((r.for_runs for r in ctx.settings.alerts.rules), default=1)
    intervals: dict[str, timedelta] = {
        name: job_interval(ctx.settings, name, ctx.cron_periods) for name in JOB_NAMES
    }
    signals = collect_signals(s, max(longest, 1), intervals, now)
    transitions = evaluate(
        ctx.settings.alerts.rules,
        signals,
        alerts_store.active_alerts(s),
        now,
        parse_duration(ctx.settings.alerts.renotify),
    )
    return write_transitions(s, transitions, ctx.settings.alerts.sinks, now)


def alerts_job(ctx: JobContext, _model: str | None) -> tuple[int, dict[str, Any]]:
    """Evaluate rules (time-based ones too) and queue re-sends for sinks that want them."""
    with ctx.db.transaction() as s:
        n = evaluate_alerts(ctx, s)
        resent = queue_resends(
            s,
            ctx.settings.alerts.sinks,
            parse_duration(ctx.settings.alerts.renotify),
            ctx.clock.now(),
        )
    return n, {"transitions": n, "resends": resent}


def _queue(
    s: Session,
    alert_id: int,
    fingerprint: str,
    event: str,
    payload: AlertPayload,
    sink: SinkSettings,
    now: datetime,
) -> None:
    key = hashlib.sha256(
        f"{fingerprint}|{event}|{now.isoformat()}|{sink.name}".encode()
    ).hexdigest()[:32]
    alerts_store.add_delivery(
        s,
        alert_id=alert_id,
        sink=sink.name,
        event=event,
        idempotency_key="msg_" + key,
        payload=payload,
        now=now,
    )


def write_transitions(
    s: Session, transitions: Iterable[Transition], sinks: Iterable[SinkSettings], now: datetime
) -> int:
    """Apply transitions to the alerts table and queue deliveries to matching sinks.

    A silenced alert changes state but queues nothing, and its last notification
    time is not advanced, so it is sent once the silence ends.
    """
    sink_list = list(sinks)
    silences = alerts_store.active_silences(s, now)
    n = 0
    for t in transitions:
        values: dict[str, Any] = dict(
            state=t.state,
            streak=t.streak,
            value=t.value,
            summary=t.summary,
            last_result_id=t.result_id,
        )
        if t.existing is None:
            values.update(
                rule=t.rule,
                fingerprint=t.fingerprint,
                labels=t.labels,
                severity=t.severity,
                started_at=now,
            )
        if t.state == "firing" and (t.existing is None or t.existing.fired_at is None):
            values["fired_at"] = now
        if t.state in ("resolved", "dropped"):
            values["resolved_at"] = now
        silenced = any(x.matches(t.labels) for x in silences)
        notify = t.notify if not silenced or t.notify == "resolved" else None
        if notify:
            values["last_notified_at"] = now
        alert_id = alerts_store.save_alert(s, t.existing, now, **values)
        n += 1
        if not notify:
            continue
        payload = alert_payload(t, notify, now)
        for sink in sink_list:
            if sink_accepts(sink, t.severity, t.labels):
                _queue(s, alert_id, t.fingerprint, notify, payload, sink, now)
    return n


def queue_resends(
    s: Session, sinks: Iterable[SinkSettings], default_resend: timedelta, now: datetime
) -> int:
    """Re-queue firing alerts to sinks that want them repeated (``resend``).

    Alertmanager resolves an alert it has not heard of within its resolve_timeout
    (5 min by default), so its sinks re-send every minute unless told otherwise.
    """
    silences = alerts_store.active_silences(s, now)
    firing = [
        a
        for a in alerts_store.active_alerts(s)
        if a.state == "firing" and not any(x.matches(a.labels) for x in silences)
    ]
    n = 0
    for sink in sinks:
        every = (
            parse_duration(sink.resend)
            if sink.resend
            else (timedelta(minutes=1) if sink.kind == "alertmanager" else None)
        )
        if every is None or every >= default_resend or not firing:
            continue
        last = alerts_store.last_delivery_times(s, sink.name)
        for alert in firing:
            if not sink_accepts(sink, alert.severity, alert.labels):
                continue
            if alert.id in last and now - last[alert.id] < every:
                continue
            _queue(
                s,
                alert.id,
                alert.fingerprint,
                "firing",
                alert_payload(alert, "firing", now),
                sink,
                now,
            )
            n += 1
    return n
