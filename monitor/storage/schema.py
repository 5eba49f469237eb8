"""SQLAlchemy 2 models: everything driftmon stores. The only metadata Alembic sees."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = """
Alert AlertDelivery Base CanaryBaseline CanaryBaselineVector CanaryItem CanaryQrel
CanaryRun CanarySet DriftMetric DriftRun JobRun MigrateCheck ModelVersion
QueryEmbedding QuerySample RetrievalMetric SampleWindow Silence SourceCounter
SourcePosition SourceWatermark
""".split()

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

TS = DateTime(timezone=True)
ID = BigInteger().with_variant(Integer, "sqlite")  # SQLite autoincrement needs INTEGER


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class ModelVersion(Base):
    """One concrete configuration of a named embedding endpoint."""

    __tablename__ = "model_versions"
    __table_args__ = (UniqueConstraint("model_name", "config_hash"),)

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    model_name: Mapped[str] = mapped_column(String(64))
    version: Mapped[str] = mapped_column(String(32))  # short label used in metrics
    provider: Mapped[str] = mapped_column(String(32))
    model_id: Mapped[str] = mapped_column(String(200))
    dimensions: Mapped[int] = mapped_column(Integer)
    config_hash: Mapped[str] = mapped_column(String(64))
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    fingerprint: Mapped[str | None] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(TS)
    last_seen_at: Mapped[datetime] = mapped_column(TS)


class CanarySet(Base):
    """One version (by content hash) of a named canary set."""

    __tablename__ = "canary_sets"
    __table_args__ = (UniqueConstraint("name", "content_hash"),)

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    content_hash: Mapped[str] = mapped_column(String(64))
    source_path: Mapped[str] = mapped_column(Text)
    n_items: Mapped[int] = mapped_column(Integer)
    imported_at: Mapped[datetime] = mapped_column(TS)


class CanaryItem(Base):
    __tablename__ = "canary_items"
    __table_args__ = (UniqueConstraint("set_id", "item_key"),)

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    set_id: Mapped[int] = mapped_column(ForeignKey("canary_sets.id", ondelete="CASCADE"))
    item_key: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    position: Mapped[int] = mapped_column(Integer)


class CanaryQrel(Base):
    __tablename__ = "canary_qrels"
    __table_args__ = (UniqueConstraint("set_id", "query_key", "doc_key"),)

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    set_id: Mapped[int] = mapped_column(ForeignKey("canary_sets.id", ondelete="CASCADE"))
    query_key: Mapped[str] = mapped_column(String(200))
    doc_key: Mapped[str] = mapped_column(String(200))
    relevance: Mapped[int] = mapped_column(Integer)


class CanaryBaseline(Base):
    """The reference embedding of a canary set by a model version."""

    __tablename__ = "canary_baselines"
    __table_args__ = (Index(None, "set_id", "model_version_id", "created_at"),)

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    set_id: Mapped[int] = mapped_column(ForeignKey("canary_sets.id", ondelete="CASCADE"))
    model_version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"))
    created_at: Mapped[datetime] = mapped_column(TS)
    current: Mapped[bool] = mapped_column(Boolean, default=True)
    noise_floor: Mapped[float] = mapped_column(Float)  # lowest per-item cosine across repeats
    fingerprint: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text, default="first embedding")
    created_by: Mapped[str] = mapped_column(String(200), default="agent")


class CanaryBaselineVector(Base):
    __tablename__ = "canary_baseline_vectors"

    baseline_id: Mapped[int] = mapped_column(
        ForeignKey("canary_baselines.id", ondelete="CASCADE"), primary_key=True
    )
    item_id: Mapped[int] = mapped_column(
        ForeignKey("canary_items.id", ondelete="CASCADE"), primary_key=True
    )
    dtype: Mapped[str] = mapped_column(String(8))
    dim: Mapped[int] = mapped_column(Integer)
    vector: Mapped[bytes] = mapped_column(LargeBinary)


class CanaryRun(Base):
    __tablename__ = "canary_runs"
    __table_args__ = (Index(None, "model_version_id", "set_id", "created_at"),)

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    set_id: Mapped[int] = mapped_column(ForeignKey("canary_sets.id", ondelete="CASCADE"))
    model_version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"))
    baseline_id: Mapped[int] = mapped_column(ForeignKey("canary_baselines.id"))
    created_at: Mapped[datetime] = mapped_column(TS)
    verdict: Mapped[str] = mapped_column(String(16))  # unchanged | noise | changed
    n_items: Mapped[int] = mapped_column(Integer)
    min_cosine: Mapped[float] = mapped_column(Float)
    p01_cosine: Mapped[float] = mapped_column(Float)
    mean_cosine: Mapped[float] = mapped_column(Float)
    share_below: Mapped[float] = mapped_column(Float)
    norm_ratio: Mapped[float] = mapped_column(Float)
    dim_baseline: Mapped[int] = mapped_column(Integer)
    dim_current: Mapped[int] = mapped_column(Integer)
    tolerance: Mapped[float] = mapped_column(Float)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class RetrievalMetric(Base):
    """One retrieval measure of a canary run (long format), at a vector prefix length."""

    __tablename__ = "retrieval_metrics"
    __table_args__ = (UniqueConstraint("canary_run_id", "metric", "dims"),)

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    canary_run_id: Mapped[int] = mapped_column(ForeignKey("canary_runs.id", ondelete="CASCADE"))
    metric: Mapped[str] = mapped_column(String(64))  # "ndcg@10", "map", "top1_median", ...
    dims: Mapped[int] = mapped_column(Integer)  # the full dimension, or a Matryoshka prefix
    value: Mapped[float] = mapped_column(Float)


class MigrateCheck(Base):
    """A blue-green comparison of two model versions on a canary set."""

    __tablename__ = "migrate_checks"
    __table_args__ = (Index(None, "from_version_id", "to_version_id", "created_at"),)

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    from_version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"))
    to_version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"))
    set_id: Mapped[int] = mapped_column(ForeignKey("canary_sets.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(TS)
    verdict: Mapped[str] = mapped_column(String(16))  # ready | not_ready
    result: Mapped[dict[str, Any]] = mapped_column(JSON)


class SourcePosition(Base):
    """Where a file source stopped reading, so a restart neither re-reads nor skips."""

    __tablename__ = "source_positions"
    __table_args__ = (UniqueConstraint("source", "path"),)

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    source: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(Text)
    inode: Mapped[int] = mapped_column(BigInteger)
    offset: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(TS)
    # "<n>:<sha256 of the file's first n bytes>": tells a reused inode from the file read
    fingerprint: Mapped[str | None] = mapped_column(String(80))


class SourceCounter(Base):
    """Records read / sampled / rejected per reason, per source."""

    __tablename__ = "source_counters"
    __table_args__ = (UniqueConstraint("source", "counter"),)

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    source: Mapped[str] = mapped_column(String(64))
    counter: Mapped[str] = mapped_column(String(64))
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class SampleWindow(Base):
    """Reservoir state of one source (and stratum) in one window: records seen and kept."""

    __tablename__ = "sample_windows"
    __table_args__ = (UniqueConstraint("source", "window_start", "stratum"),)

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    source: Mapped[str] = mapped_column(String(64))
    window_start: Mapped[datetime] = mapped_column(TS)
    seen: Mapped[int] = mapped_column(BigInteger, default=0)
    kept: Mapped[int] = mapped_column(Integer, default=0)
    stratum: Mapped[str] = mapped_column(String(200), default="")  # "" = not stratified


class QuerySample(Base):
    __tablename__ = "query_samples"
    __table_args__ = (
        UniqueConstraint("window_id", "slot"),
        Index(None, "window_start"),
        Index(None, "window_id", "text_hash"),
    )

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    window_id: Mapped[int] = mapped_column(ForeignKey("sample_windows.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(64))
    window_start: Mapped[datetime] = mapped_column(TS)
    slot: Mapped[int] = mapped_column(Integer)
    event_time: Mapped[datetime] = mapped_column(TS)
    text_hash: Mapped[str] = mapped_column(String(64))
    text: Mapped[str | None] = mapped_column(Text)  # redacted; NULL when store_text = false
    meta: Mapped[dict[str, str] | None] = mapped_column(JSON)  # the source's metadata_fields


class QueryEmbedding(Base):
    __tablename__ = "query_embeddings"

    sample_id: Mapped[int] = mapped_column(
        ForeignKey("query_samples.id", ondelete="CASCADE"), primary_key=True
    )
    model_version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"), primary_key=True)
    dtype: Mapped[str] = mapped_column(String(8))
    dim: Mapped[int] = mapped_column(Integer)
    vector: Mapped[bytes] = mapped_column(LargeBinary)


class DriftRun(Base):
    __tablename__ = "drift_runs"
    __table_args__ = (
        Index(None, "model_version_id", "created_at"),
        Index(None, "model_version_id", "window_start"),
    )

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    model_version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"))
    created_at: Mapped[datetime] = mapped_column(TS)
    window_start: Mapped[datetime] = mapped_column(TS)
    window_end: Mapped[datetime] = mapped_column(TS)
    reference_start: Mapped[datetime] = mapped_column(TS)
    reference_end: Mapped[datetime] = mapped_column(TS)
    n_ref: Mapped[int] = mapped_column(Integer)
    n_cur: Mapped[int] = mapped_column(Integer)
    verdict: Mapped[str] = mapped_column(String(24))  # drift | no_drift | insufficient_data
    alpha: Mapped[float] = mapped_column(Float)
    seed: Mapped[int] = mapped_column(BigInteger)
    policy: Mapped[str] = mapped_column(Text, default="")
    explanation: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class DriftMetric(Base):
    """One test's outcome in a drift run (long format)."""

    __tablename__ = "drift_metrics"
    __table_args__ = (UniqueConstraint("run_id", "test"),)

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("drift_runs.id", ondelete="CASCADE"))
    test: Mapped[str] = mapped_column(String(64))
    statistic: Mapped[float | None] = mapped_column(Float)
    p_value: Mapped[float | None] = mapped_column(Float)
    threshold: Mapped[float | None] = mapped_column(Float)
    effect: Mapped[float | None] = mapped_column(Float)
    drift: Mapped[bool] = mapped_column(Boolean)


class Alert(Base):
    """One alert instance: a rule and label set, through pending -> firing -> resolved."""

    __tablename__ = "alerts"
    __table_args__ = (Index(None, "state"), Index(None, "fingerprint", "state"))

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    rule: Mapped[str] = mapped_column(String(100))
    fingerprint: Mapped[str] = mapped_column(String(64))
    labels: Mapped[dict[str, str]] = mapped_column(JSON)
    severity: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))  # pending | firing | resolved
    streak: Mapped[int] = mapped_column(Integer, default=0)
    value: Mapped[float | None] = mapped_column(Float)
    summary: Mapped[str] = mapped_column(Text, default="")
    started_at: Mapped[datetime] = mapped_column(TS)
    fired_at: Mapped[datetime | None] = mapped_column(TS)
    resolved_at: Mapped[datetime | None] = mapped_column(TS)
    last_evaluated_at: Mapped[datetime] = mapped_column(TS)
    last_notified_at: Mapped[datetime | None] = mapped_column(TS)
    last_result_id: Mapped[int | None] = mapped_column(BigInteger)
    acknowledged_at: Mapped[datetime | None] = mapped_column(TS)
    acknowledged_by: Mapped[str | None] = mapped_column(String(200))


class Silence(Base):
    """Mutes notifications of alerts whose labels match, until it expires."""

    __tablename__ = "silences"
    __table_args__ = (Index(None, "ends_at"),)

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    matchers: Mapped[dict[str, str]] = mapped_column(JSON)
    starts_at: Mapped[datetime] = mapped_column(TS)
    ends_at: Mapped[datetime] = mapped_column(TS)
    created_by: Mapped[str] = mapped_column(String(200))
    comment: Mapped[str] = mapped_column(Text, default="")


class AlertDelivery(Base):
    """The outbox: one row per (alert event, sink); the delivery worker drains it."""

    __tablename__ = "alert_deliveries"
    __table_args__ = (Index(None, "delivered_at", "dead", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"))
    sink: Mapped[str] = mapped_column(String(64))
    event: Mapped[str] = mapped_column(String(16))  # firing | resolved
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(TS)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(TS)
    delivered_at: Mapped[datetime | None] = mapped_column(TS)
    dead: Mapped[bool] = mapped_column(Boolean, default=False)
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)


class JobRun(Base):
    """One execution of a job; a scheduled one claims its (job, slot) exactly once."""

    __tablename__ = "job_runs"
    __table_args__ = (
        Index(None, "job", "started_at"),
        Index(None, "job", "status"),
        UniqueConstraint("job", "slot_start"),
    )

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    job: Mapped[str] = mapped_column(String(64))
    replica: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[datetime] = mapped_column(TS)
    finished_at: Mapped[datetime | None] = mapped_column(TS)
    status: Mapped[str] = mapped_column(String(16))  # running | ok | failed | skipped
    items: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    slot_start: Mapped[datetime | None] = mapped_column(TS)  # NULL for manual runs
    lease_until: Mapped[datetime | None] = mapped_column(TS)


class SourceWatermark(Base):
    """How far a SQL source has read: the last watermark value, tagged with its type."""

    __tablename__ = "source_watermarks"

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    source: Mapped[str] = mapped_column(String(64), unique=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(TS)
