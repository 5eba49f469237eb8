"""``[retention]``: how long each kind of stored row is kept before the prune job deletes it."""

from __future__ import annotations

from dataclasses import dataclass

from monitor.config.values import Duration, doc

__all__ = ["RetentionSettings"]

_d = Duration.parse


@dataclass(frozen=True)
class RetentionSettings:
    drift_runs: Duration = doc(
        "keep drift runs (and their test results) this long; '0s' keeps them forever",
        _d("90d"),
        zero_ok=True,
    )
    canary_runs: Duration = doc(
        "keep canary runs (and their retrieval metrics) this long; '0s' = forever",
        _d("90d"),
        zero_ok=True,
    )
    samples: Duration = doc(
        "keep query samples and their embeddings this long, counted from their window; "
        "the drift reference window is always kept; '0s' = forever",
        _d("14d"),
        zero_ok=True,
    )
    job_runs: Duration = doc(
        "keep job run records this long; '0s' = forever", _d("14d"), zero_ok=True
    )
    deliveries: Duration = doc(
        "keep delivered and dead outbox rows this long; '0s' = forever", _d("30d"), zero_ok=True
    )
    resolved_alerts: Duration = doc(
        "keep resolved alerts this long after they resolved; '0s' = forever",
        _d("90d"),
        zero_ok=True,
    )
    batch_size: int = doc("rows deleted per transaction by the prune job", 1000, lo=1, hi=100_000)
    max_rows_per_run: int = doc(
        "rows the prune job deletes at most per run", 100_000, lo=1, hi=1_000_000_000
    )
