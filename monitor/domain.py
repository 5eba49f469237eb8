"""Frozen records that cross layers: storage returns them, jobs, metrics and alerting read them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = [
    "AlertRecord",
    "CanaryItemRecord",
    "CanaryRunRecord",
    "CanaryRunView",
    "DeliveryRecord",
    "DriftHistoryView",
    "DriftRunRecord",
    "DriftRunView",
    "DriftTestView",
    "JobRecord",
    "MigrateCheckView",
    "ModelVersionInfo",
    "ModelVersionRef",
    "QueryRecord",
    "RetrievalPoint",
    "RunLink",
    "Signal",
    "SilenceRecord",
    "Snapshot",
    "VersionOverview",
]


@dataclass(frozen=True)
class ModelVersionRef:
    id: int
    model: str
    version: str
    provider: str
    model_id: str
    dimensions: int
    fingerprint: str | None = None
    reported_identity: dict[str, str] | None = None


@dataclass(frozen=True)
class QueryRecord:
    """One production query as read from a source (text is raw here, never stored raw)."""

    text: str
    event_time: datetime


@dataclass(frozen=True)
class CanaryItemRecord:
    id: int
    key: str
    kind: str
    text: str


@dataclass(frozen=True)
class CanaryRunRecord:
    id: int
    model: str
    version: str
    canary_set: str
    created_at: datetime
    verdict: str
    min_cosine: float
    mean_cosine: float
    p01_cosine: float
    share_below: float
    norm_ratio: float
    tolerance: float
    retrieval: dict[str, float] = field(default_factory=dict)
    impact: str | None = None  # benign | breaking, for a changed verdict
    identity: dict[str, str] = field(default_factory=dict)
    identity_changed: dict[str, list[str | None]] = field(default_factory=dict)


@dataclass(frozen=True)
class DriftRunRecord:
    id: int
    model: str
    version: str
    created_at: datetime
    window_start: datetime
    verdict: str
    n_ref: int
    n_cur: int
    tests: dict[str, dict[str, Any]] = field(default_factory=dict)
    explanation: dict[str, Any] | None = None


@dataclass(frozen=True)
class Signal:
    """The latest value of one alertable signal for one model version."""

    name: str
    labels: dict[str, str]
    value: float
    result_id: int  # the stored run the value came from; a rule counts each run once
    history: tuple[float, ...] = ()  # latest first, for `for_runs`
    evidence: dict[str, Any] = field(default_factory=dict)  # e.g. example queries


@dataclass(frozen=True)
class AlertRecord:
    id: int
    rule: str
    fingerprint: str
    labels: dict[str, str]
    severity: str
    state: str
    streak: int
    value: float | None
    summary: str
    started_at: datetime
    fired_at: datetime | None
    resolved_at: datetime | None
    last_notified_at: datetime | None
    last_result_id: int | None
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None


@dataclass(frozen=True)
class DeliveryRecord:
    id: int
    sink: str
    event: str
    idempotency_key: str
    payload: dict[str, Any]
    created_at: datetime
    attempts: int


@dataclass(frozen=True)
class SilenceRecord:
    id: int
    matchers: dict[str, str]
    starts_at: datetime
    ends_at: datetime
    created_by: str
    comment: str

    def matches(self, labels: dict[str, str]) -> bool:
        return all(labels.get(k) == v for k, v in self.matchers.items())


@dataclass(frozen=True)
class JobRecord:
    job: str
    last_status: str
    last_started_at: datetime | None
    last_success_at: datetime | None
    last_duration_seconds: float | None
    failures: int
    consecutive_failures: int = 0
    last_run_id: int = 0


@dataclass(frozen=True)
class ModelVersionInfo:
    model: str
    version: str
    provider: str
    model_id: str
    dimensions: int
    fingerprint: str
    reported_identity: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Snapshot:
    """Everything /metrics shows, read from the database at scrape time."""

    model_versions: tuple[ModelVersionInfo, ...] = ()
    drift_runs: tuple[DriftRunRecord, ...] = ()
    canary_runs: tuple[CanaryRunRecord, ...] = ()
    jobs: tuple[JobRecord, ...] = ()
    alerts: tuple[AlertRecord, ...] = ()
    deliveries: tuple[tuple[str, str, int], ...] = ()  # (sink, state, count)
    source_counters: tuple[tuple[str, str, int], ...] = ()  # (source, counter, value)


# --------------------------------------------------------------------------- report views


@dataclass(frozen=True)
class DriftTestView:
    """One test of a stored drift run."""

    test: str
    statistic: float | None
    p_value: float | None
    threshold: float | None
    effect: float | None
    drift: bool


@dataclass(frozen=True)
class DriftHistoryView:
    """One earlier window of the same model version, for the history chart."""

    id: int
    window_start: datetime
    verdict: str
    p_values: dict[str, float | None]


@dataclass(frozen=True)
class DriftRunView:
    """Everything the drift report shows: the run, its tests, map texts and history."""

    id: int
    model: str
    model_version: str
    created_at: datetime
    window_start: datetime
    window_end: datetime
    reference_start: datetime
    reference_end: datetime
    n_ref: int
    n_cur: int
    verdict: str
    alpha: float
    seed: int
    policy: str
    explanation: dict[str, Any] | None
    tests: tuple[DriftTestView, ...]
    texts: dict[int, str | None]  # sample id -> redacted text, for the map's points
    history: tuple[DriftHistoryView, ...]


@dataclass(frozen=True)
class RetrievalPoint:
    """One retrieval measure of one canary run, for the over-time chart."""

    model_version: str
    run_id: int
    created_at: datetime
    metric: str
    value: float


@dataclass(frozen=True)
class CanaryRunView:
    """Everything the canary report shows."""

    id: int
    canary_set: str
    model: str
    model_version: str
    created_at: datetime
    verdict: str
    n_items: int
    min_cosine: float
    p01_cosine: float
    mean_cosine: float
    share_below: float
    norm_ratio: float
    dim_baseline: int
    dim_current: int
    tolerance: float
    details: dict[str, Any]
    items: dict[int, tuple[str, str]]  # canary item id -> (item key, text)
    retrieval: tuple[RetrievalPoint, ...]


@dataclass(frozen=True)
class MigrateCheckView:
    """A stored migration check with its result document."""

    id: int
    canary_set: str
    created_at: datetime
    verdict: str
    result: dict[str, Any]


@dataclass(frozen=True)
class RunLink:
    """A run listed on the overview page."""

    kind: str  # drift | canary | migrate
    id: int
    created_at: datetime
    verdict: str
    label: str


@dataclass(frozen=True)
class VersionOverview:
    """One model version on the overview page, with its latest runs."""

    model: str
    model_version: str
    provider: str
    model_id: str
    dimensions: int
    active: bool
    runs: tuple[RunLink, ...]
