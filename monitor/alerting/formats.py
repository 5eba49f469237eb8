"""Wire formats of the sinks: one generic payload in, (URL, JSON body) out.

The outbox stores the generic payload (``monitor.alerting.payload.alert_payload``, schema
version 1); the format is chosen per sink at delivery time, so a sink's kind can
change without rewriting queued deliveries.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

__all__ = ["PAGERDUTY_URL", "RENDERERS", "render"]

PAGERDUTY_URL = "https://events.pagerduty.com/v2/enqueue"
_PD_SEVERITY = {"info": "info", "warning": "warning", "critical": "critical"}


def _generic(payload: Mapping[str, Any], url: str, _secret: str) -> tuple[str, Any]:
    return url, payload


def _slack(payload: Mapping[str, Any], url: str, _secret: str) -> tuple[str, Any]:
    alert = payload["alert"]
    labels = alert.get("labels", {})
    resolved = payload["event"] == "resolved"
    icon = (
        ":white_check_mark:"
        if resolved
        else (":rotating_light:" if alert["severity"] == "critical" else ":warning:")
    )
    head = f"{icon} {'RESOLVED' if resolved else alert['severity'].upper()}: {alert['summary']}"
    fields = [
        f"*{k}*: `{v}`"
        for k, v in sorted(labels.items())
        if k in ("model", "model_version", "canary_set", "test", "job")
    ]
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*{head}*"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "  ".join(fields) or " "}},
    ]
    evidence = [f"value: {alert['value']:.4g}"] if alert.get("value") is not None else []
    if alert.get("description"):
        evidence.insert(0, alert["description"])
    examples = alert.get("examples") or []
    if examples:
        evidence.append("example queries: " + "; ".join(f"`{e}`" for e in examples[:5]))
    if evidence:
        blocks.append(
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": "\n".join(evidence)[:2900]}],
            }
        )
    if alert.get("runbook_url"):
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": f"<{alert['runbook_url']}|Runbook>"},
            }
        )
    return url, {"text": head, "blocks": blocks}


def _alertmanager(payload: Mapping[str, Any], url: str, _secret: str) -> tuple[str, Any]:
    alert = payload["alert"]
    annotations = {"summary": alert["summary"]}
    if alert.get("description"):
        annotations["description"] = alert["description"]
    if alert.get("runbook_url"):
        annotations["runbook_url"] = alert["runbook_url"]
    item: dict[str, Any] = {
        "labels": {k: str(v) for k, v in alert["labels"].items()},
        "annotations": annotations,
        "startsAt": alert["starts_at"],
        "generatorURL": alert.get("generator_url", ""),
    }
    if payload["event"] == "resolved":
        item["endsAt"] = alert["ends_at"]
    else:  # firing: end well after the next re-send, so it never auto-resolves in between
        sent = datetime.fromisoformat(payload.get("sent_at", alert["starts_at"]))
        item["endsAt"] = (sent + timedelta(minutes=15)).isoformat()
    return url.rstrip("/") + "/api/v2/alerts", [item]


def _pagerduty(payload: Mapping[str, Any], url: str, secret: str) -> tuple[str, Any]:
    alert = payload["alert"]
    action = "resolve" if payload["event"] == "resolved" else "trigger"
    body: dict[str, Any] = {
        "routing_key": secret,
        "event_action": action,
        "dedup_key": f"driftmon:{alert['fingerprint']}",
    }
    if action == "trigger":
        labels = alert.get("labels", {})
        body["payload"] = {
            "summary": alert["summary"][:1024],
            "source": payload.get("sent_by", "driftmon"),
            "severity": _PD_SEVERITY.get(alert["severity"], "warning"),
            "timestamp": alert["starts_at"],
            "component": labels.get("model_version", labels.get("job", "")),
            "group": labels.get("model", ""),
            "class": alert["name"],
            "custom_details": {
                "labels": labels,
                "value": alert.get("value"),
                "description": alert.get("description", ""),
            },
        }
        if alert.get("runbook_url"):
            body["links"] = [{"href": alert["runbook_url"], "text": "Runbook"}]
        body["client"] = "driftmon"
    return url or PAGERDUTY_URL, body


RENDERERS: dict[str, Callable[[Mapping[str, Any], str, str], tuple[str, Any]]] = {
    "webhook": _generic,
    "slack": _slack,
    "alertmanager": _alertmanager,
    "pagerduty": _pagerduty,
}


def render(kind: str, payload: Mapping[str, Any], url: str, secret: str = "") -> tuple[str, Any]:
    """The request (URL, JSON body) that delivers ``payload`` to a sink of ``kind``.

    ``secret`` is the PagerDuty routing key for ``pagerduty`` and unused otherwise.
    """
    return RENDERERS[kind](payload, url, secret)
