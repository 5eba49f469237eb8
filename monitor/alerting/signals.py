"""Stored results become alertable signals (pure: records in, ``Signal`` values out)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from monitor.domain import CanaryRunRecord, DriftRunRecord, JobRecord, Signal

__all__ = ["TRAILING_RUNS", "build_signals", "canary_signals", "drift_signals", "job_signals"]

#: canary runs before the latest whose mean is the trailing baseline of retrieval_drop
TRAILING_RUNS = 6


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


def _retrieval_drops(labels: dict[str, str], runs: list[CanaryRunRecord]) -> list[Signal]:
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


def canary_signals(runs_newest_first: Iterable[CanaryRunRecord], history: int) -> list[Signal]:
    """canary_changed, canary_min_cosine and retrieval_drop per (model, version, canary set)."""
    canary: dict[tuple[str, str, str], list[CanaryRunRecord]] = defaultdict(list)
    for run in runs_newest_first:
        canary[(run.model, run.version, run.canary_set)].append(run)
    out: list[Signal] = []
    for (model, version, cset), runs in canary.items():
        labels = {"model": model, "model_version": version, "canary_set": cset}
        out.append(
            Signal(
                "canary_changed",
                labels,
                float(runs[0].verdict == "changed"),
                runs[0].id,
                tuple(float(r.verdict == "changed") for r in runs),
                {"min_cosine": runs[0].min_cosine, "norm_ratio": runs[0].norm_ratio},
            )
        )
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
    return out


def _test_history(runs: list[DriftRunRecord], test: str, field: str) -> tuple[float, ...]:
    values = (r.tests.get(test, {}).get(field) for r in runs)
    return tuple(float(v) for v in values if v is not None)


def drift_signals(runs_newest_first: Iterable[DriftRunRecord]) -> list[Signal]:
    """drift, drift_p_value (per test) and novelty_rate per (model, version)."""
    drift: dict[tuple[str, str], list[DriftRunRecord]] = defaultdict(list)
    for run in runs_newest_first:
        drift[(run.model, run.version)].append(run)
    out: list[Signal] = []
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
                out.append(
                    Signal(
                        "drift_p_value",
                        {**labels, "test": test},
                        float(values["p_value"]),
                        latest.id,
                        _test_history(runs, test, "p_value"),
                    )
                )
        novelty = latest.tests.get("novelty", {}).get("statistic")
        if novelty is not None:
            out.append(
                Signal(
                    "novelty_rate",
                    labels,
                    float(novelty),
                    latest.id,
                    _test_history(runs, "novelty", "statistic"),
                    evidence,
                )
            )
    return out


def job_signals(
    jobs: Iterable[JobRecord], job_intervals: Mapping[str, timedelta], now: datetime
) -> list[Signal]:
    """job_failures and job_staleness (time since the last success, in intervals) per job."""
    out: list[Signal] = []
    for job in jobs:
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


def build_signals(
    canary_runs: Iterable[CanaryRunRecord],
    drift_runs: Iterable[DriftRunRecord],
    jobs: Iterable[JobRecord],
    *,
    history: int,
    job_intervals: Mapping[str, timedelta],
    now: datetime,
) -> list[Signal]:
    """Every alertable signal, from the latest stored runs (newest first) and job summaries."""
    return (
        canary_signals(canary_runs, history)
        + drift_signals(drift_runs)
        + job_signals(jobs, job_intervals, now)
    )
