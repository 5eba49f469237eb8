"""Between storage and alerting: stored results become signals; transitions become rows.

Alert state changes and their outbox rows are written in the caller's session,
i.e. in the same transaction as the result that caused them.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from monitor import __version__
from monitor.alerting.rules import SEVERITY_RANK, Transition
from monitor.config import SinkSettings
from monitor.domain import AlertRecord, Signal
from monitor.storage import operations as ops
from monitor.storage import repository as repo

__all__ = [
    "PAYLOAD_VERSION",
    "alert_payload",
    "collect_signals",
    "queue_resends",
    "sink_accepts",
    "write_transitions",
]

PAYLOAD_VERSION = 1


def _examples(explanation: dict[str, Any] | None) -> list[str]:
    """Example queries of the largest emerging group, else of the most-grown cluster."""
    if not explanation:
        return []
    for group in explanation.get("emerging") or []:
        if group.get("examples"):
            return list(group["examples"])[:5]
    for cluster in explanation.get("clusters") or []:
        if cluster.get("status") == "grew" and cluster.get("examples"):
            return list(cluster["examples"])[:5]
    return []


#: canary runs before the latest whose mean is the trailing baseline of retrieval_drop
TRAILING_RUNS = 6


def _retrieval_drops(labels: dict[str, str], runs: list[Any]) -> list[Signal]:
    """Per retrieval measure: trailing mean of the previous runs minus the latest value."""
    if len(runs) < 2:
        return []
    out: list[Signal] = []
    for metric, value in runs[0].retrieval.items():
        if "@" not in metric and metric != "map":
            continue
        previous = [
            r.retrieval[metric] for r in runs[1 : TRAILING_RUNS + 1] if metric in r.retrieval
        ]
        if previous:
            drop = sum(previous) / len(previous) - value
            out.append(
                Signal(
                    "retrieval_drop",
                    {**labels, "test": metric},
                    drop,
                    runs[0].id,
                    (drop,),
                    {"latest": value, "trailing_runs": len(previous)},
                )
            )
    return out


def _breaking(run: Any) -> bool:
    return bool(run.verdict == "changed" and run.impact != "benign")


def _canary_change_signals(labels: dict[str, str], runs: list[Any]) -> list[Signal]:
    """A change that breaks retrieval, a benign one, and a change of reported identity."""
    latest = runs[0]
    evidence = {
        "min_cosine": latest.min_cosine,
        "norm_ratio": latest.norm_ratio,
        "impact": latest.impact,
    }
    benign = [float(r.verdict == "changed" and not _breaking(r)) for r in runs]
    changed_identity = [float(bool(r.identity_changed)) for r in runs]
    return [
        Signal(
            "canary_changed",
            labels,
            float(_breaking(latest)),
            latest.id,
            tuple(float(_breaking(r)) for r in runs),
            evidence,
        ),
        Signal("canary_benign_change", labels, benign[0], latest.id, tuple(benign), evidence),
        Signal(
            "model_identity_changed",
            labels,
            changed_identity[0],
            latest.id,
            tuple(changed_identity),
            {"changed": latest.identity_changed, "identity": latest.identity},
        ),
    ]


def collect_signals(
    s: Session, history: int, job_intervals: Mapping[str, timedelta], now: datetime
) -> list[Signal]:
    """The alertable signals of every active model version and job."""
    out: list[Signal] = []
    canary: dict[tuple[str, str, str], list[Any]] = defaultdict(list)
    for run in repo.latest_canary_runs(s, limit_per_key=max(history, TRAILING_RUNS + 1)):
        canary[(run.model, run.version, run.canary_set)].append(run)
    for (model, version, cset), runs in canary.items():
        labels = {"model": model, "model_version": version, "canary_set": cset}
        out += _canary_change_signals(labels, runs)
        out.append(
            Signal(
                "canary_min_cosine",
                labels,
                runs[0].min_cosine,
                runs[0].id,
                tuple(r.min_cosine for r in runs[:history]),
            )
        )
        out += _retrieval_drops(labels, runs)
    drift: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for run in repo.latest_drift_runs(s, limit_per_version=history):
        drift[(run.model, run.version)].append(run)
    for (model, version), runs in drift.items():
        labels = {"model": model, "model_version": version}
        latest = runs[0]
        evidence = {"examples": _examples(latest.explanation), "n_cur": latest.n_cur}
        out.append(
            Signal(
                "drift",
                labels,
                float(latest.verdict == "drift"),
                latest.id,
                tuple(float(r.verdict == "drift") for r in runs),
                evidence,
            )
        )
        for test, values in latest.tests.items():
            if values.get("p_value") is not None:
                hist = tuple(r.tests.get(test, {}).get("p_value") for r in runs)
                out.append(
                    Signal(
                        "drift_p_value",
                        {**labels, "test": test},
                        float(values["p_value"]),
                        latest.id,
                        tuple(h for h in hist if h is not None),
                    )
                )
        novelty = latest.tests.get("novelty", {}).get("statistic")
        if novelty is not None:
            hist = tuple(r.tests.get("novelty", {}).get("statistic") for r in runs)
            out.append(
                Signal(
                    "novelty_rate",
                    labels,
                    float(novelty),
                    latest.id,
                    tuple(h for h in hist if h is not None),
                    evidence,
                )
            )
    for job in ops.job_summaries(s):
        interval = job_intervals.get(job.job)
        if interval is None:
            continue
        labels = {"job": job.job}
        out.append(Signal("job_failures", labels, float(job.consecutive_failures), job.last_run_id))
        since = job.last_success_at or job.last_started_at
        if since is not None:
            stale = (now - since) / interval
            out.append(Signal("job_staleness", labels, stale, job.last_run_id))
    return out


def alert_payload(
    t: Transition | AlertRecord,
    event: str,
    now: datetime,
    *,
    description: str = "",
    runbook_url: str = "",
    evidence: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The generic JSON body (schema version ``PAYLOAD_VERSION``) of one notification."""
    existing = t.existing if isinstance(t, Transition) else t
    name = t.rule
    started = existing.started_at if existing else now
    ev = evidence if evidence is not None else (t.evidence if isinstance(t, Transition) else {})
    return {
        "version": PAYLOAD_VERSION,
        "event": event,
        "sent_by": f"driftmon/{__version__}",
        "sent_at": now.isoformat(),
        "alert": {
            "name": name,
            "fingerprint": t.fingerprint,
            "status": "resolved" if event == "resolved" else "firing",
            "severity": t.severity,
            "labels": dict(t.labels),
            "summary": t.summary,
            "description": description or (t.description if isinstance(t, Transition) else ""),
            "value": t.value,
            "examples": list(ev.get("examples", [])),
            "starts_at": started.isoformat(),
            "ends_at": now.isoformat() if event == "resolved" else None,
            "runbook_url": runbook_url or (t.runbook_url if isinstance(t, Transition) else ""),
        },
    }


def sink_accepts(sink: SinkSettings, severity: str, labels: Mapping[str, str]) -> bool:
    """Routing: the sink's minimum severity and label matchers."""
    if SEVERITY_RANK[severity] < SEVERITY_RANK[sink.min_severity]:
        return False
    return all(labels.get(k) == v for k, v in sink.match.items())


def _queue(
    s: Session,
    alert_id: int,
    fingerprint: str,
    event: str,
    payload: dict[str, Any],
    sink: SinkSettings,
    now: datetime,
) -> None:
    key = hashlib.sha256(
        f"{fingerprint}|{event}|{now.isoformat()}|{sink.name}".encode()
    ).hexdigest()[:32]
    ops.add_delivery(
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
    silences = ops.active_silences(s, now)
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
        alert_id = ops.save_alert(s, t.existing, now, **values)
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
    from monitor.config import parse_duration

    silences = ops.active_silences(s, now)
    firing = [
        a
        for a in ops.active_alerts(s)
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
        last = ops.last_delivery_times(s, sink.name)
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
