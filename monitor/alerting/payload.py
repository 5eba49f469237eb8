"""The generic, versioned JSON body of one notification; sink formats are rendered from it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Literal, NotRequired, TypedDict

from monitor import __version__
from monitor.alerting.rules import Transition
from monitor.domain import AlertRecord

__all__ = ["PAYLOAD_VERSION", "AlertBody", "AlertPayload", "Event", "alert_payload", "test_payload"]

PAYLOAD_VERSION: Literal[1] = 1

#: why a notification is sent
Event = Literal["firing", "resolved", "test"]


class AlertBody(TypedDict):
    name: str
    fingerprint: str
    status: Literal["firing", "resolved"]
    severity: str
    labels: dict[str, str]
    summary: str
    description: str
    value: float | None
    examples: list[str]
    starts_at: str
    ends_at: str | None
    runbook_url: str


class AlertPayload(TypedDict):
    """Schema version ``PAYLOAD_VERSION``; stored in the outbox as JSON."""

    version: Literal[1]
    event: str
    sent_by: str
    sent_at: str
    alert: AlertBody
    test: NotRequired[bool]


def alert_payload(
    t: Transition | AlertRecord,
    event: str,
    now: datetime,
    *,
    description: str = "",
    runbook_url: str = "",
    evidence: Mapping[str, Any] | None = None,
) -> AlertPayload:
    """The generic JSON body (schema version ``PAYLOAD_VERSION``) of one notification."""
    existing = t.existing if isinstance(t, Transition) else t
    started = existing.started_at if existing else now
    ev = evidence if evidence is not None else (t.evidence if isinstance(t, Transition) else {})
    if isinstance(t, Transition):
        description = description or t.description
        runbook_url = runbook_url or t.runbook_url
    return {
        "version": PAYLOAD_VERSION,
        "event": event,
        "sent_by": f"driftmon/{__version__}",
        "sent_at": now.isoformat(),
        "alert": {
            "name": t.rule,
            "fingerprint": t.fingerprint,
            "status": "resolved" if event == "resolved" else "firing",
            "severity": t.severity,
            "labels": dict(t.labels),
            "summary": t.summary,
            "description": description,
            "value": t.value,
            "examples": list(ev.get("examples", [])),
            "starts_at": started.isoformat(),
            "ends_at": now.isoformat() if event == "resolved" else None,
            "runbook_url": runbook_url,
        },
    }


def test_payload(now: datetime) -> AlertPayload:
    """A clearly marked test notification (``driftmon alerts test``)."""
    return {
        "version": PAYLOAD_VERSION,
        "event": "test",
        "sent_by": "driftmon",
        "test": True,
        "sent_at": now.isoformat(),
        "alert": {
            "name": "DriftmonTestNotification",
            "fingerprint": "test",
            "status": "firing",
            "severity": "info",
            "labels": {"alertname": "DriftmonTestNotification", "severity": "info", "test": "true"},
            "summary": "TEST notification from driftmon: delivery to this sink works",
            "description": "Sent by 'driftmon alerts test'; no action needed.",
            "value": None,
            "examples": [],
            "starts_at": now.isoformat(),
            "ends_at": (now + timedelta(minutes=5)).isoformat(),
            "runbook_url": "",
        },
    }
