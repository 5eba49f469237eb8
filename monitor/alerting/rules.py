"""Pure alert evaluation: signals and current alert state in, transitions out.

A rule's condition is checked on each of the latest stored runs of a signal
(``Signal.history``, newest first). The streak is the number of consecutive
newest runs that meet it, so the outcome depends only on stored results: a
restart or a second replica evaluates to the same state.

Lifecycle: no alert -> pending (condition met, streak < for_runs) -> firing
(streak >= for_runs) -> resolved (condition no longer met). A pending alert
whose condition clears is dropped without notifying anyone.
"""

from __future__ import annotations

import hashlib
import json
import operator
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from monitor.config import RuleSettings
from monitor.domain import AlertRecord, Signal

__all__ = ["SEVERITY_RANK", "AlertState", "Notify", "Transition", "evaluate", "fingerprint"]

_OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}
SEVERITY_RANK = {"info": 0, "warning": 1, "critical": 2}

#: the life of an alert: pending until its streak is long enough, then firing
AlertState = Literal["pending", "firing", "resolved", "dropped"]
#: what a transition tells the sinks
Notify = Literal["firing", "resolved"]


@dataclass(frozen=True)
class Transition:
    """What to write for one (rule, labels): the new state and whom to tell."""

    rule: str
    fingerprint: str
    labels: dict[str, str]
    severity: str
    state: AlertState
    streak: int
    value: float
    summary: str
    result_id: int
    existing: AlertRecord | None
    notify: Notify | None
    description: str = ""
    runbook_url: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)


def fingerprint(rule: str, labels: Mapping[str, str]) -> str:
    """Stable id of an alert: the rule and its sorted label set."""
    blob = json.dumps([rule, sorted(labels.items())], separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _streak(rule: RuleSettings, history: Iterable[float]) -> int:
    test = _OPS[rule.op]
    n = 0
    for value in history:
        if not test(value, rule.threshold):
            break
        n += 1
    return n


def _render(template: str, rule: RuleSettings, signal: Signal) -> str:
    fields = {
        "model": "",
        "model_version": "",
        "canary_set": "",
        "test": "",
        "job": "",
        **signal.labels,
        "value": signal.value,
    }
    try:
        return template.format(**fields)
    except (KeyError, IndexError, ValueError):
        return f"{rule.name}: {signal.value:.4g}"


def _summary(rule: RuleSettings, signal: Signal) -> str:
    return _render(
        rule.summary or f"{rule.name} on {{model}} ({{model_version}}): {{value:.4g}}", rule, signal
    )


def _matches(rule: RuleSettings, sig: Signal) -> bool:
    if sig.name != rule.signal:
        return False
    if rule.test and rule.test not in (sig.labels.get("test"), sig.labels.get("job")):
        return False
    return not rule.model or sig.labels.get("model") == rule.model


def evaluate(
    rules: Iterable[RuleSettings],
    signals: Iterable[Signal],
    active: Iterable[AlertRecord],
    now: datetime,
    renotify: timedelta,
) -> list[Transition]:
    """Transitions for every rule over the signals it reads.

    ``active`` are the pending and firing alerts. An alert whose signal disappeared
    (its model version retired) is resolved.
    """
    by_fp = {a.fingerprint: a for a in active}
    signal_list = list(signals)
    seen: set[str] = set()
    out: list[Transition] = []
    for rule in rules:
        for sig in signal_list:
            if not _matches(rule, sig):
                continue
            fp = fingerprint(rule.name, sig.labels)
            seen.add(fp)
            t = _step(rule, sig, fp, by_fp.get(fp), now, renotify)
            if t is not None:
                out.append(t)
    out += [_vanished(fp, alert) for fp, alert in by_fp.items() if fp not in seen]
    return out


def _step(
    rule: RuleSettings,
    sig: Signal,
    fp: str,
    existing: AlertRecord | None,
    now: datetime,
    renotify: timedelta,
) -> Transition | None:
    """The transition of one (rule, signal), or None when nothing changes."""
    streak = _streak(rule, sig.history or (sig.value,))
    pending = Transition(
        rule=rule.name,
        fingerprint=fp,
        labels={**sig.labels, **rule.labels, "alertname": rule.name, "severity": rule.severity},
        severity=rule.severity,
        state="pending",
        streak=streak,
        value=sig.value,
        summary=_summary(rule, sig),
        result_id=sig.result_id,
        existing=existing,
        notify=None,
        description=_render(rule.description, rule, sig) if rule.description else "",
        runbook_url=rule.runbook_url,
        evidence=sig.evidence,
    )
    if streak >= max(rule.for_runs, 1):
        if existing is None or existing.state == "pending":
            return replace(pending, state="firing", notify="firing")
        last = existing.last_notified_at
        due = last is None or (now - last >= renotify and existing.acknowledged_at is None)
        if due or existing.last_result_id != sig.result_id:
            return replace(pending, state="firing", notify="firing" if due else None)
        return None
    if streak > 0:
        return pending if existing is None or existing.streak != streak else None
    if existing is None:
        return None
    if existing.state == "firing":
        return replace(pending, state="resolved", notify="resolved")
    return replace(pending, state="dropped")


def _vanished(fp: str, alert: AlertRecord) -> Transition:
    """An active alert whose signal is gone: resolved if it fired, else dropped."""
    firing = alert.state == "firing"
    return Transition(
        rule=alert.rule,
        fingerprint=fp,
        labels=alert.labels,
        severity=alert.severity,
        state="resolved" if firing else "dropped",
        streak=0,
        value=alert.value or 0.0,
        summary=alert.summary,
        result_id=alert.last_result_id or 0,
        existing=alert,
        notify="resolved" if firing else None,
    )
