"""The settings: frozen dataclasses of typed values, every field with a default and help."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from monitor.config.retention import RetentionSettings
from monitor.config.rules import RuleSettings, default_rules
from monitor.config.values import (
    Duration,
    Reference,
    Schedule,
    doc,
    parse_reference,
    parse_schedule,
)
from monitor.errors import ConfigError

__all__ = [
    "AgentSettings",
    "AlertSettings",
    "CanarySetSettings",
    "DatabaseSettings",
    "DriftSettings",
    "MigrationSettings",
    "ModelSettings",
    "PolicyRuleSettings",
    "SamplingSettings",
    "ScheduleSettings",
    "ServerSettings",
    "Settings",
    "SinkSettings",
    "SourceSettings",
]

_d = Duration.parse


@dataclass(frozen=True)
class DatabaseSettings:
    url: str = doc("SQLAlchemy URL of the agent's database", "sqlite:///driftmon.db")
    pool_size: int = doc("connections kept open (PostgreSQL)", 5, lo=1, hi=1000)


@dataclass(frozen=True)
class ServerSettings:
    listen: str = doc("host:port of /metrics, /healthz, /readyz", "127.0.0.1:9108")
    enabled: bool = doc("serve HTTP at all while the daemon runs", True)
    public_url: str = doc(
        "the address people reach this agent at (http://host:port); alerts link their "
        "reports below it, at PUBLIC_URL/ui/",
        "",
    )
    token_env: str = doc(
        "environment variable holding a bearer token required for /metrics, "
        "/api/v1/status and /ui/ (empty: open; /healthz and /readyz stay open)",
        "",
    )
    max_connections: int = doc(
        "open connections at most; more are answered 503", 100, lo=1, hi=100_000
    )
    idle_timeout: Duration = doc(
        "a connection with no request in progress is closed after this", _d("30s")
    )
    read_timeout: Duration = doc(
        "a request whose client sends nothing for this long is cut off (408)", _d("10s")
    )
    request_deadline: Duration = doc(
        "each request's head and body must arrive within this (408)", _d("30s")
    )


@dataclass(frozen=True)
class AgentSettings:
    replica_id: str = doc("name of this replica in job_runs (default: hostname-pid)", "")
    log_level: Literal["debug", "info", "warning", "error"] = doc("log level", "info")
    shutdown_grace: Duration = doc(
        "how long a running job may finish on SIGTERM", _d("30s"), zero_ok=True
    )
    lease: Duration = doc(
        "a running job's claim expires this long after its replica's last "
        "heartbeat (replicas sharing PostgreSQL)",
        _d("60s"),
    )


@dataclass(frozen=True)
class ModelSettings:
    name: str = doc("stable name of the embedding endpoint, used in metrics and alerts")
    provider: Literal["hash", "openai", "azure", "tei", "ollama", "cohere", "voyage", "local"] = (
        doc("wire format of the endpoint", "hash")
    )
    model: str = doc("the provider's model id", "hash-ngram-v1")
    base_url: str = doc("endpoint base URL (HTTP providers)", "")
    api_key_env: str = doc("environment variable holding the API key", "")
    dimensions: int = doc(
        "embedding dimension (requested where the API supports it)", 256, lo=1, hi=65536
    )
    query_prefix: str = doc("instruction prefix for queries (E5/BGE style)", "")
    document_prefix: str = doc("instruction prefix for documents", "")
    normalize: bool = doc("L2-normalise returned vectors", True)
    batch_size: int = doc("texts per request", 64, lo=1, hi=100_000)
    max_concurrency: int = doc("requests in flight at once", 4, lo=1, hi=1024)
    timeout: Duration = doc("per-request timeout", _d("30s"))
    price_per_million_tokens: float = doc("price used for the cost estimate", 0.0, lo=0)
    seed: int = doc("seed of the built-in hash embedder", 0)
    variant: Literal["base", "rotated", "quantized", "unnormalized", "noisy", "other"] = doc(
        "hash embedder only: simulate a silent model change (demo and tests)", "base"
    )
    active: bool = doc("monitor this model (false keeps its history, runs nothing)", True)
    api_version: str = doc(
        "Azure OpenAI api-version query parameter; 'v1' uses the v1 route", "2024-10-21"
    )
    encoding_format: Literal["base64", "float"] = doc(
        "vector encoding asked of OpenAI-compatible, Voyage and Cohere endpoints", "base64"
    )
    request_dimensions: bool = doc(
        "send 'dimensions' (or 'output_dimension') in requests; false for models that reject it",
        True,
    )
    requests_per_second: float = doc("client-side request rate limit; 0 = none", 0.0, lo=0)
    tokens_per_minute: int = doc(
        "client-side limit on estimated input tokens per minute; 0 = none", 0, lo=0
    )
    max_input_tokens: int = doc(
        "longest input in (estimated) tokens; longer texts follow 'truncate'", 8192, lo=1
    )
    truncate: Literal["end", "start", "skip", "none"] = doc(
        "over-long texts: cut the end, cut the start, skip (listed as failed) or send as is", "end"
    )
    chars_per_token: float = doc(
        "characters per token of the token estimate (non-ASCII characters count one token each)",
        4.0,
        above=0,
    )
    max_batch_tokens: int = doc(
        "estimated tokens per request; 0 = the provider's documented limit", 0, lo=0
    )
    max_retries: int = doc(
        "retries of a request after 429, 5xx, timeouts and connection errors", 3, lo=0, hi=100
    )
    backoff_base: Duration = doc(
        "first retry delay, doubled per retry, with jitter", _d("500ms"), zero_ok=True
    )
    backoff_max: Duration = doc("longest retry delay", _d("8s"), zero_ok=True)
    retry_after_max: Duration = doc(
        "longest Retry-After honoured; a longer one fails the request", _d("60s"), zero_ok=True
    )
    connect_timeout: Duration = doc("TCP/TLS connect timeout", _d("5s"))
    breaker_threshold: int = doc(
        "consecutive failed requests that open the circuit breaker; 0 = never", 5, lo=0
    )
    breaker_reset: Duration = doc(
        "how long an open circuit breaker refuses requests before one probe", _d("30s")
    )


@dataclass(frozen=True)
class CanarySetSettings:
    name: str = doc("name of the canary set")
    path: str = doc("JSON-lines file of {id, text, kind}")
    qrels: str = doc("optional relevance judgements (TREC qrels)", "")
    min_cosine: float = doc(
        "per-item cosine below which an item counts as changed", 0.999, lo=-1, hi=1
    )
    baseline_repeats: int = doc(
        "embeddings made at baseline to measure endpoint noise", 3, lo=1, hi=100
    )
    ks: list[int] = doc(
        "cut-offs of recall@k, nDCG@k, MRR@k... on the qrels",
        factory=lambda: [1, 5, 10],
        lo=1,
        hi=100_000,
    )
    score_cutoffs: list[float] = doc(
        "absolute cosine cut-offs whose top-1 pass rate is tracked (RAG retrieval thresholds)",
        factory=lambda: [0.3, 0.5, 0.7],
        lo=-1,
        hi=1,
    )
    matryoshka_dims: list[int] = doc(
        "also evaluate retrieval on these prefix lengths", factory=list, lo=1, hi=65536
    )


@dataclass(frozen=True)
class PolicyRuleSettings:
    metric: str = doc("retrieval measure, e.g. 'ndcg@10'")
    max_drop: float = doc(
        "the 95 % CI lower bound of candidate - current must be >= -max_drop", 0.01, lo=0
    )


@dataclass(frozen=True)
class MigrationSettings:
    policy: list[PolicyRuleSettings] = doc(
        "rules a candidate must pass to be 'ready' (default: nDCG@10 and recall@10 may "
        "not drop by more than 0.01)",
        factory=list,
    )
    corpus_documents: int = doc(
        "documents in the production corpus, for the re-embed cost and time estimate", 0, lo=0
    )
    corpus_mean_tokens: float = doc("mean tokens per corpus document", 300.0, lo=0)


@dataclass(frozen=True)
class SourceSettings:
    name: str = doc("name of the query source, used in metrics")
    kind: Literal["jsonl", "sql", "http"] = doc(
        "jsonl: log files; sql: a query on the application's database; http: POST /v1/queries",
        "jsonl",
    )
    path: str = doc("jsonl: glob of JSON-lines files", "")
    text_field: str = doc(
        "field (jsonl, http) or result column (sql) holding the query text", "query"
    )
    time_field: str = doc(
        "field or column holding the event time (ISO 8601, epoch seconds or "
        "a SQL timestamp); empty = time of reading",
        "ts",
    )
    metadata_fields: list[str] = doc(
        "fields or columns kept with each sample as metadata", factory=list
    )
    stratify_by: str = doc(
        "metadata field to stratify by (one reservoir per value, e.g. "
        "tenant or route); empty = one uniform reservoir",
        "",
    )
    max_per_stratum: int = doc("with stratify_by: reservoir size per stratum and window", 200, lo=1)
    max_strata: int = doc(
        "with stratify_by: strata per window; later values share the stratum '~other'", 50, lo=1
    )
    max_identical: int = doc(
        "bot guard: at most this many copies of one normalised text in a "
        "window's sample; 0 = off (keeps the sample uniform)",
        0,
        lo=0,
    )
    max_line_bytes: int = doc(
        "jsonl: longer lines are skipped as rejected_line_too_long", 65536, lo=16, hi=1 << 30
    )
    url: str = doc("sql: SQLAlchemy URL of the application's database (read only)", "")
    url_env: str = doc("sql: environment variable holding the URL (when it has a password)", "")
    query: str = doc(
        "sql: SELECT with bound parameters :watermark and :limit, ordered by the watermark column",
        "",
    )
    watermark_field: str = doc("sql: result column of the watermark (an id or a timestamp)", "id")
    watermark_kind: Literal["id", "timestamp"] = doc("sql: what the watermark column holds", "id")
    watermark_start: str = doc(
        "sql: watermark of the first query (default: 0, or 1970-01-01T00:00:00Z for timestamps)", ""
    )
    token_env: str = doc("http: environment variable holding the bearer token", "")
    max_body_bytes: int = doc(
        "http: largest request body (the server refuses any above 1 MiB)", 1048576, lo=1, hi=1 << 20
    )
    max_records_per_request: int = doc("http: most records in one request", 1000, lo=1)


@dataclass(frozen=True)
class SamplingSettings:
    window: Duration = doc("length of one sampling window", _d("1h"))
    max_per_window: int = doc("reservoir size per source and window", 2000, lo=1, hi=10_000_000)
    store_text: bool = doc(
        "keep (redacted) query text; false keeps only hash and vectors, "
        "embedding sampled queries with every active model at once",
        True,
    )
    redact: bool = doc("mask emails, phone numbers and long digit runs before storing", True)
    redact_patterns: list[str] = doc(
        "extra regular expressions masked as <redacted> before storing (and before hashing)",
        factory=list,
    )
    seed: int = doc("seed of the reservoir sampler", 0)
    chunk_size: int = doc(
        "records read and committed per transaction (bounds memory)", 5000, lo=1, hi=1_000_000
    )
    max_future: Duration = doc(
        "records timestamped further ahead than this are rejected", _d("5m"), zero_ok=True
    )
    max_text_chars: int = doc(
        "query texts are cut to this many characters before redaction (counted as truncated)",
        4096,
        lo=1,
        hi=1_000_000,
    )


@dataclass(frozen=True)
class DriftSettings:
    reference: Reference = doc(
        "'rolling:<duration>' before the current window, or 'pinned:<start>/<end>' in ISO 8601",
        parse_reference("rolling:7d"),
    )
    alpha: float = doc("significance level of the combined verdict", 0.01, above=0)
    permutations: int = doc("permutations for permutation p-values", 1000, lo=10, hi=1_000_000)
    min_samples: int = doc(
        "below this many samples per side the verdict is insufficient_data", 50, lo=2
    )
    max_reference: int = doc(
        "reference samples used at most (uniformly subsampled)", 5000, lo=1, hi=10_000_000
    )
    tests: list[str] = doc("tests to run; empty = the default suite", factory=list)
    seed: int = doc("seed of permutations and subsampling", 0)


@dataclass(frozen=True)
class ScheduleSettings:
    sample: Schedule = doc(
        "when the sampling job runs: an interval or 'cron:<crontab>'", parse_schedule("1m")
    )
    canary: Schedule = doc("when the canary job runs", parse_schedule("1h"))
    drift: Schedule = doc("when the drift job runs", parse_schedule("1h"))
    alerts: Schedule = doc("when alert evaluation runs", parse_schedule("1m"))
    deliver: Schedule = doc("when the webhook delivery worker runs", parse_schedule("15s"))
    prune: Schedule = doc("when old rows are deleted ([retention])", parse_schedule("1h"))
    misfire_grace: Duration = doc("how late a job may still start", _d("5m"), zero_ok=True)
    jitter: Duration = doc("random delay added to each run", _d("0s"), zero_ok=True)


@dataclass(frozen=True)
class SinkSettings:
    name: str = doc("name of the sink")
    kind: Literal["webhook", "slack", "alertmanager", "pagerduty"] = doc(
        "payload format", "webhook"
    )
    url: str = doc("target URL (Alertmanager: its base URL; PagerDuty: default Events API)", "")
    url_env: str = doc("environment variable holding the URL (when the URL is a secret)", "")
    secret_env: str = doc("environment variable holding the webhook signing secret", "")
    routing_key_env: str = doc("PagerDuty: environment variable holding the routing key", "")
    min_severity: Literal["info", "warning", "critical"] = doc("lowest severity sent", "info")
    match: dict[str, str] = doc("only alerts whose labels have these values", factory=dict)
    resend: Duration | None = doc(
        "re-send firing alerts this often (Alertmanager: keep well inside "
        "its resolve_timeout; empty = alerts.renotify)",
        None,
    )
    timeout: Duration = doc("per-delivery timeout", _d("10s"))
    max_age: Duration = doc("a delivery older than this is marked dead", _d("24h"))


@dataclass(frozen=True)
class AlertSettings:
    rules: list[RuleSettings] = doc(
        "alert rules (default: the built-in rules)", factory=default_rules
    )
    sinks: list[SinkSettings] = doc("where alerts are delivered", factory=list)
    renotify: Duration = doc("re-send a firing alert this often", _d("4h"))


@dataclass(frozen=True)
class Settings:
    database: DatabaseSettings = doc("database", factory=DatabaseSettings)
    server: ServerSettings = doc("HTTP server", factory=ServerSettings)
    agent: AgentSettings = doc("agent process", factory=AgentSettings)
    models: list[ModelSettings] = doc("embedding endpoints watched", factory=list)
    canary_sets: list[CanarySetSettings] = doc("canary sets", factory=list)
    sources: list[SourceSettings] = doc("query sources", factory=list)
    sampling: SamplingSettings = doc("sampling", factory=SamplingSettings)
    drift: DriftSettings = doc("drift runs", factory=DriftSettings)
    schedule: ScheduleSettings = doc("job intervals", factory=ScheduleSettings)
    alerts: AlertSettings = doc("alerting", factory=AlertSettings)
    retention: RetentionSettings = doc(
        "how long stored rows are kept (the prune job)", factory=RetentionSettings
    )
    migration: MigrationSettings = doc(
        "blue-green checks ('driftmon migrate-check')", factory=MigrationSettings
    )

    def model(self, name: str) -> ModelSettings:
        for m in self.models:
            if m.name == name:
                return m
        raise ConfigError(f"no model named {name!r} in [[models]]")
