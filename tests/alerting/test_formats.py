"""Sink formats: Slack, Alertmanager v2 and PagerDuty Events v2 bodies from one payload."""

from __future__ import annotations

from datetime import UTC, datetime

from monitor.alerting.formats import PAGERDUTY_URL, render

NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)


def _payload(event: str = "firing") -> dict[str, object]:
    return {
        "version": 1,
        "event": event,
        "sent_by": "driftmon/0.1.0",
        "sent_at": NOW.isoformat(),
        "alert": {
            "name": "EmbeddingQueryDrift",
            "fingerprint": "abc123",
            "status": event,
            "severity": "warning",
            "labels": {
                "model": "prod",
                "model_version": "v1",
                "alertname": "EmbeddingQueryDrift",
                "severity": "warning",
            },
            "summary": "Query drift on prod (v1)",
            "description": "two runs",
            "value": 1.0,
            "examples": ["ebike battery range", "ebike charger"],
            "starts_at": "2026-03-02T10:00:00+00:00",
            "ends_at": NOW.isoformat() if event == "resolved" else None,
            "runbook_url": "https://runbooks.example/drift",
        },
    }


def test_generic_is_the_payload_itself() -> None:
    p = _payload()
    assert render("webhook", p, "http://h/x") == ("http://h/x", p)


def test_slack_has_text_blocks_model_version_and_examples() -> None:
    url, body = render("slack", _payload(), "https://hooks.slack.example/T/B/C")
    assert url == "https://hooks.slack.example/T/B/C"
    assert body["text"].startswith(":warning: WARNING: Query drift on prod")
    text = str(body["blocks"])
    assert "`v1`" in text and "ebike battery range" in text and "Runbook" in text
    _, resolved = render("slack", _payload("resolved"), "u")
    assert resolved["text"].startswith(":white_check_mark: RESOLVED")


def test_alertmanager_firing_stays_open_and_resolved_sets_ends_at() -> None:
    url, body = render("alertmanager", _payload(), "http://am:9093/")
    assert url == "http://am:9093/api/v2/alerts"
    (alert,) = body
    assert alert["labels"]["alertname"] == "EmbeddingQueryDrift"
    assert alert["annotations"] == {
        "summary": "Query drift on prod (v1)",
        "description": "two runs",
        "runbook_url": "https://runbooks.example/drift",
    }
    assert alert["endsAt"] > NOW.isoformat(), "firing must outlive the next re-send"
    (resolved,) = render("alertmanager", _payload("resolved"), "http://am:9093")[1]
    assert resolved["endsAt"] == NOW.isoformat()


def test_pagerduty_trigger_and_resolve_share_the_dedup_key() -> None:
    url, trigger = render("pagerduty", _payload(), "", "R" * 32)
    assert url == PAGERDUTY_URL
    assert trigger["event_action"] == "trigger" and trigger["routing_key"] == "R" * 32
    assert trigger["payload"]["severity"] == "warning"
    assert trigger["payload"]["component"] == "v1"
    _, resolve = render("pagerduty", _payload("resolved"), "", "R" * 32)
    assert resolve == {
        "routing_key": "R" * 32,
        "event_action": "resolve",
        "dedup_key": trigger["dedup_key"],
    }
    assert trigger["dedup_key"] == "driftmon:abc123"
