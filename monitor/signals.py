"""Between storage and alerting: stored results become signals; transitions become rows.

Alert state changes and their outbox rows are written in the caller's session,
i.e. in the same transaction as the result that caused them.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from monitor import __version__
from monitor.alerting.rules import SEVERITY_RANK, Transition
from monitor.config import SinkSettings
from monitor.domain import Signal
from monitor.storage import operations as ops
from monitor.storage import repository as repo

__all__ = ["PAYLOAD_VERSION", "alert_payload", "collect_signals", "write_transitions"]

PAYLOAD_VERSION = 1


def collect_signals(s: Session, history: int) -> list[Signal]:
    """The alertable signals of every active model version, with ``history`` runs each."""
    out: list[Signal] = []
    canary: dict[tuple[str, str, str], list[Any]] = defaultdict(list)
    for run in repo.latest_canary_runs(s, limit_per_key=history):
        canary[(run.model, run.version, run.canary_set)].append(run)
    for (model, version, cset), runs in canary.items():
        labels = {"model": model, "model_version": version, "canary_set": cset}
        out.append(Signal("canary_changed", labels, float(runs[0].verdict == "changed"),
                          runs[0].id, tuple(float(r.verdict == "changed") for r in runs)))
        out.append(Signal("canary_min_cosine", labels, runs[0].min_cosine, runs[0].id,
                          tuple(r.min_cosine for r in runs)))
    drift: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for run in repo.latest_drift_runs(s, limit_per_version=history):
        drift[(run.model, run.version)].append(run)
    for (model, version), runs in drift.items():
        labels = {"model": model, "model_version": version}
        latest = runs[0]
        out.append(Signal("drift", labels, float(latest.verdict == "drift"), latest.id,
                          tuple(float(r.verdict == "drift") for r in runs)))
        for test, values in latest.tests.items():
            if values.get("p_value") is not None:
                hist = tuple(r.tests.get(test, {}).get("p_value") for r in runs)
                out.append(Signal("drift_p_value", {**labels, "test": test},
                                  float(values["p_value"]), latest.id,
                                  tuple(h for h in hist if h is not None)))
        novelty = latest.tests.get("novelty", {}).get("statistic")
        if novelty is not None:
            hist = tuple(r.tests.get("novelty", {}).get("statistic") for r in runs)
            out.append(Signal("novelty_rate", labels, float(novelty), latest.id,
                              tuple(h for h in hist if h is not None)))
    return out


def alert_payload(t: Transition, event: str, now: datetime,
                  runbook_url: str = "") -> dict[str, Any]:
    """The generic JSON body (schema version ``PAYLOAD_VERSION``) of one notification."""
    started = t.existing.started_at if t.existing else now
    return {
        "version": PAYLOAD_VERSION,
        "event": event,
        "sent_by": f"driftmon/{__version__}",
        "alert": {
            "name": t.rule,
            "fingerprint": t.fingerprint,
            "status": "resolved" if event == "resolved" else "firing",
            "severity": t.severity,
            "labels": t.labels,
            "summary": t.summary,
            "value": t.value,
            "starts_at": started.isoformat(),
            "ends_at": now.isoformat() if event == "resolved" else None,
            "runbook_url": runbook_url,
        },
    }


def write_transitions(s: Session, transitions: Iterable[Transition],
                      sinks: Iterable[SinkSettings], now: datetime,
                      runbooks: dict[str, str] | None = None) -> int:
    """Apply transitions to the alerts table and queue a delivery per matching sink."""
    sink_list = list(sinks)
    n = 0
    for t in transitions:
        values: dict[str, Any] = dict(state=t.state, streak=t.streak, value=t.value,
                                      summary=t.summary, last_result_id=t.result_id)
        if t.existing is None:
            values.update(rule=t.rule, fingerprint=t.fingerprint, labels=t.labels,
                          severity=t.severity, started_at=now)
        if t.state == "firing" and (t.existing is None or t.existing.fired_at is None):
            values["fired_at"] = now
        if t.state in ("resolved", "dropped"):
            values["resolved_at"] = now
        if t.notify:
            values["last_notified_at"] = now
        alert_id = ops.save_alert(s, t.existing, now, **values)
        n += 1
        if not t.notify:
            continue
        payload = alert_payload(t, t.notify, now, (runbooks or {}).get(t.rule, ""))
        for sink in sink_list:
            if SEVERITY_RANK[t.severity] < SEVERITY_RANK[sink.min_severity]:
                continue
            key = hashlib.sha256(f"{t.fingerprint}|{t.notify}|{now.isoformat()}|{sink.name}"
                                 .encode()).hexdigest()[:32]
            ops.add_delivery(s, alert_id=alert_id, sink=sink.name, event=t.notify,
                             idempotency_key="msg_" + key, payload=payload, now=now)
    return n
