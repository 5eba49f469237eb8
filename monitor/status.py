"""The agent's status as JSON (``/api/v1/status``) and as a table (``driftmon status``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from monitor.domain import Snapshot

__all__ = ["format_status", "status_document"]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def status_document(snap: Snapshot, now: datetime) -> dict[str, Any]:
    """Model versions with their latest verdicts, firing alerts, and each job's health."""
    return {
        "generated_at": now.isoformat(),
        "model_versions": _model_versions(snap),
        "alerts": [
            {
                "id": a.id,
                "rule": a.rule,
                "state": a.state,
                "severity": a.severity,
                "summary": a.summary,
                "labels": a.labels,
                "since": _iso(a.started_at),
                "acknowledged": a.acknowledged_at is not None,
            }
            for a in snap.alerts
        ],
        "jobs": [
            {
                "job": j.job,
                "last_status": j.last_status,
                "last_started": _iso(j.last_started_at),
                "last_success": _iso(j.last_success_at),
                "last_duration_seconds": j.last_duration_seconds,
                "failures": j.failures,
                "consecutive_failures": j.consecutive_failures,
            }
            for j in snap.jobs
        ],
    }


def _model_versions(snap: Snapshot) -> list[dict[str, Any]]:
    """Each active model version with its latest canary runs (per set) and drift run."""
    versions: dict[tuple[str, str], dict[str, Any]] = {}
    for mv in snap.model_versions:
        versions[(mv.model, mv.version)] = {
            "model": mv.model,
            "model_version": mv.version,
            "provider": mv.provider,
            "model_id": mv.model_id,
            "dimensions": mv.dimensions,
            "fingerprint": mv.fingerprint,
            "canary": {},
            "drift": None,
        }
    for c in snap.canary_runs:
        entry = versions.get((c.model, c.version))
        if entry is not None:
            entry["canary"][c.canary_set] = {
                "verdict": c.verdict,
                "min_cosine": c.min_cosine,
                "mean_cosine": c.mean_cosine,
                "norm_ratio": c.norm_ratio,
                "at": _iso(c.created_at),
                "retrieval": c.retrieval,
            }
    for d in snap.drift_runs:
        entry = versions.get((d.model, d.version))
        if entry is not None:
            entry["drift"] = {
                "verdict": d.verdict,
                "at": _iso(d.created_at),
                "window_start": _iso(d.window_start),
                "n_ref": d.n_ref,
                "n_cur": d.n_cur,
                "p_values": {
                    t: v.get("p_value")
                    for t, v in sorted(d.tests.items())
                    if v.get("p_value") is not None
                },
            }
    return list(versions.values())


def _short(iso: str | None) -> str:
    """An ISO timestamp to the second, for tables ('2026-03-02 12:00:00Z')."""
    if not iso:
        return "-"
    return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M:%SZ")


def format_status(doc: dict[str, Any]) -> str:
    """A terminal table of :func:`status_document` (times in UTC, to the second)."""
    if not doc["model_versions"] and not doc["jobs"]:
        return (
            "no model versions yet: run 'driftmon run' or 'driftmon run-once cycle' "
            "with this config"
        )
    lines = [f"{'model':12} {'version':11} {'drift':18} {'canary (min cosine)':28} provider/model"]
    for mv in doc["model_versions"]:
        drift = mv["drift"]
        dv = drift["verdict"] if drift else "-"
        canaries = (
            ", ".join(
                f"{k}: {v['verdict']} ({v['min_cosine']:.4f})"
                for k, v in sorted(mv["canary"].items())
            )
            or "-"
        )
        lines.append(
            f"{mv['model']:12} {mv['model_version']:11} {dv:18} {canaries:28} "
            f"{mv['provider']}/{mv['model_id']} d={mv['dimensions']}"
        )
    lines.append("")
    lines.append(f"{'alert':30} {'state':9} {'severity':9} summary")
    for a in doc["alerts"]:
        ack = " (acknowledged)" if a["acknowledged"] else ""
        lines.append(f"{a['rule']:30} {a['state']:9} {a['severity']:9} {a['summary']}{ack}")
    if not doc["alerts"]:
        lines.append("(no pending or firing alerts)")
    lines.append("")
    lines.append(f"{'job':10} {'last':9} {'last success (UTC)':20} {'failures':>8}")
    for j in doc["jobs"]:
        lines.append(
            f"{j['job']:10} {j['last_status']:9} {_short(j['last_success']):20} {j['failures']:>8}"
        )
    return "\n".join(lines)
