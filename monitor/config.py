"""Settings: one TOML file, every key overridable by ``DRIFTMON_<SECTION>_<KEY>``.

This is the only module that reads the environment. Secrets are never values in
the file: a setting ending in ``_env`` names the environment variable that holds
the secret, and :func:`resolve_secret` reads it when a component needs it.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

from monitor.clock import as_utc
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
    "RuleSettings",
    "SamplingSettings",
    "ScheduleSettings",
    "ServerSettings",
    "Settings",
    "SinkSettings",
    "SourceSettings",
    "describe_settings",
    "load_settings",
    "parse_duration",
    "parse_schedule",
    "resolve_secret",
    "settings_to_dict",
]

ENV_PREFIX = "DRIFTMON_"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> timedelta:
    """Parse ``"90s"``, ``"5m"``, ``"1h"``, ``"7d"`` into a timedelta."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a duration like '30s', '5m', '1h' or '7d'")
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])


class Duration(str):
    """A string setting that must parse as a duration."""


class Schedule(str):
    """A duration (an interval) or ``cron:<5-field crontab>`` in UTC."""


def parse_schedule(text: str) -> tuple[str, Any]:
    """``"5m"`` -> ("interval", timedelta); ``"cron:*/5 * * * *"`` -> ("cron", "*/5 * * * *")."""
    if text.startswith("cron:"):
        expr = text[len("cron:") :].strip()
        if len(expr.split()) != 5:
            raise ValueError(
                f"{text!r}: a cron schedule has 5 fields (minute hour day month weekday)"
            )
        return "cron", expr
    return "interval", parse_duration(text)


def _doc(help_text: str, default: Any = dataclasses.MISSING, **kw: Any) -> Any:
    if default is dataclasses.MISSING and "default_factory" not in kw:
        return field(metadata={"help": help_text}, **kw)
    if "default_factory" in kw:
        return field(metadata={"help": help_text}, **kw)
    return field(default=default, metadata={"help": help_text}, **kw)


@dataclass(frozen=True)
class DatabaseSettings:
    url: str = _doc("SQLAlchemy URL of the agent's database", "sqlite:///driftmon.db")
    pool_size: int = _doc("connections kept open (PostgreSQL)", 5)


@dataclass(frozen=True)
class ServerSettings:
    listen: str = _doc("host:port of /metrics, /healthz, /readyz", "127.0.0.1:9108")
    enabled: bool = _doc("serve HTTP at all while the daemon runs", True)


@dataclass(frozen=True)
class AgentSettings:
    replica_id: str = _doc("name of this replica in job_runs (default: hostname-pid)", "")
    log_level: Literal["debug", "info", "warning", "error"] = _doc("log level", "info")
    shutdown_grace: Duration = _doc("how long a running job may finish on SIGTERM", Duration("30s"))
    lease: Duration = _doc(
        "a running job's claim expires this long after its replica's last "
        "heartbeat (replicas sharing PostgreSQL)",
        Duration("60s"),
    )


@dataclass(frozen=True)
class ModelSettings:
    name: str = _doc("stable name of the embedding endpoint, used in metrics and alerts")
    provider: Literal["hash", "openai", "azure", "tei", "ollama", "cohere", "voyage", "local"] = (
        _doc("wire format of the endpoint", "hash")
    )
    model: str = _doc("the provider's model id", "hash-ngram-v1")
    base_url: str = _doc("endpoint base URL (HTTP providers)", "")
    api_key_env: str = _doc("environment variable holding the API key", "")
    dimensions: int = _doc("embedding dimension (requested where the API supports it)", 256)
    query_prefix: str = _doc("instruction prefix for queries (E5/BGE style)", "")
    document_prefix: str = _doc("instruction prefix for documents", "")
    normalize: bool = _doc("L2-normalise returned vectors", True)
    batch_size: int = _doc("texts per request", 64)
    max_concurrency: int = _doc("requests in flight at once", 4)
    timeout: Duration = _doc("per-request timeout", Duration("30s"))
    price_per_million_tokens: float = _doc("price used for the cost estimate", 0.0)
    seed: int = _doc("seed of the built-in hash embedder", 0)
    variant: Literal["base", "rotated", "quantized", "unnormalized", "noisy", "other"] = _doc(
        "hash embedder only: simulate a silent model change (demo and tests)", "base"
    )
    active: bool = _doc("monitor this model (false keeps its history, runs nothing)", True)
    api_version: str = _doc(
        "Azure OpenAI api-version query parameter; 'v1' uses the v1 route", "2024-10-21"
    )
    encoding_format: Literal["base64", "float"] = _doc(
        "vector encoding asked of OpenAI-compatible, Voyage and Cohere endpoints", "base64"
    )
    request_dimensions: bool = _doc(
        "send 'dimensions' (or 'output_dimension') in requests; false for models that reject it",
        True,
    )
    requests_per_second: float = _doc("client-side request rate limit; 0 = none", 0.0)
    tokens_per_minute: int = _doc(
        "client-side limit on estimated input tokens per minute; 0 = none", 0
    )
    max_input_tokens: int = _doc(
        "longest input in (estimated) tokens; longer texts follow 'truncate'", 8192
    )
    truncate: Literal["end", "start", "skip", "none"] = _doc(
        "over-long texts: cut the end, cut the start, skip (listed as failed) or send as is", "end"
    )
    chars_per_token: float = _doc(
        "characters per token of the token estimate (non-ASCII characters count one token each)",
        4.0,
    )
    max_batch_tokens: int = _doc(
        "estimated tokens per request; 0 = the provider's documented limit", 0
    )
    max_retries: int = _doc(
        "retries of a request after 429, 5xx, timeouts and connection errors", 3
    )
    backoff_base: Duration = _doc(
        "first retry delay, doubled per retry, with jitter", Duration("500ms")
    )
    backoff_max: Duration = _doc("longest retry delay", Duration("8s"))
    retry_after_max: Duration = _doc(
        "longest Retry-After honoured; a longer one fails the request", Duration("60s")
    )
    connect_timeout: Duration = _doc("TCP/TLS connect timeout", Duration("5s"))
    breaker_threshold: int = _doc(
        "consecutive failed requests that open the circuit breaker; 0 = never", 5
    )
    breaker_reset: Duration = _doc(
        "how long an open circuit breaker refuses requests before one probe", Duration("30s")
    )


@dataclass(frozen=True)
class CanarySetSettings:
    name: str = _doc("name of the canary set")
    path: str = _doc("JSON-lines file of {id, text, kind}")
    qrels: str = _doc("optional relevance judgements (TREC qrels)", "")
    min_cosine: float = _doc("per-item cosine below which an item counts as changed", 0.999)
    baseline_repeats: int = _doc("embeddings made at baseline to measure endpoint noise", 3)
    ks: list[int] = _doc(
        "cut-offs of recall@k, nDCG@k, MRR@k... on the qrels", default_factory=lambda: [1, 5, 10]
    )
    score_cutoffs: list[float] = _doc(
        "absolute cosine cut-offs whose top-1 pass rate is tracked (RAG retrieval thresholds)",
        default_factory=lambda: [0.3, 0.5, 0.7],
    )
    matryoshka_dims: list[int] = _doc(
        "also evaluate retrieval on these prefix lengths", default_factory=list
    )


@dataclass(frozen=True)
class PolicyRuleSettings:
    metric: str = _doc("retrieval measure, e.g. 'ndcg@10'")
    max_drop: float = _doc(
        "the 95 % CI lower bound of candidate - current must be >= -max_drop", 0.01
    )


@dataclass(frozen=True)
class MigrationSettings:
    policy: list[PolicyRuleSettings] = _doc(
        "rules a candidate must pass to be 'ready' (default: nDCG@10 and recall@10 may "
        "not drop by more than 0.01)",
        default_factory=list,
    )
    corpus_documents: int = _doc(
        "documents in the production corpus, for the re-embed cost and time estimate", 0
    )
    corpus_mean_tokens: float = _doc("mean tokens per corpus document", 300.0)


@dataclass(frozen=True)
class SourceSettings:
    name: str = _doc("name of the query source, used in metrics")
    kind: Literal["jsonl", "sql", "http"] = _doc(
        "jsonl: log files; sql: a query on the application's database; http: POST /v1/queries",
        "jsonl",
    )
    path: str = _doc("jsonl: glob of JSON-lines files", "")
    text_field: str = _doc(
        "field (jsonl, http) or result column (sql) holding the query text", "query"
    )
    time_field: str = _doc(
        "field or column holding the event time (ISO 8601, epoch seconds or "
        "a SQL timestamp); empty = time of reading",
        "ts",
    )
    metadata_fields: list[str] = _doc(
        "fields or columns kept with each sample as metadata", default_factory=list
    )
    stratify_by: str = _doc(
        "metadata field to stratify by (one reservoir per value, e.g. "
        "tenant or route); empty = one uniform reservoir",
        "",
    )
    max_per_stratum: int = _doc("with stratify_by: reservoir size per stratum and window", 200)
    max_strata: int = _doc(
        "with stratify_by: strata per window; later values share the stratum '~other'", 50
    )
    max_identical: int = _doc(
        "bot guard: at most this many copies of one normalised text in a "
        "window's sample; 0 = off (keeps the sample uniform)",
        0,
    )
    max_line_bytes: int = _doc("jsonl: longer lines are skipped as rejected_line_too_long", 65536)
    url: str = _doc("sql: SQLAlchemy URL of the application's database (read only)", "")
    url_env: str = _doc("sql: environment variable holding the URL (when it has a password)", "")
    query: str = _doc(
        "sql: SELECT with bound parameters :watermark and :limit, ordered by the watermark column",
        "",
    )
    watermark_field: str = _doc("sql: result column of the watermark (an id or a timestamp)", "id")
    watermark_kind: Literal["id", "timestamp"] = _doc("sql: what the watermark column holds", "id")
    watermark_start: str = _doc(
        "sql: watermark of the first query (default: 0, or 1970-01-01T00:00:00Z for timestamps)", ""
    )
    token_env: str = _doc("http: environment variable holding the bearer token", "")
    max_body_bytes: int = _doc(
        "http: largest request body (the server refuses any above 1 MiB)", 1048576
    )
    max_records_per_request: int = _doc("http: most records in one request", 1000)


@dataclass(frozen=True)
class SamplingSettings:
    window: Duration = _doc("length of one sampling window", Duration("1h"))
    max_per_window: int = _doc("reservoir size per source and window", 2000)
    store_text: bool = _doc(
        "keep (redacted) query text; false keeps only hash and vectors, "
        "embedding sampled queries with every active model at once",
        True,
    )
    redact: bool = _doc("mask emails, phone numbers and long digit runs before storing", True)
    redact_patterns: list[str] = _doc(
        "extra regular expressions masked as <redacted> before storing (and before hashing)",
        default_factory=list,
    )
    seed: int = _doc("seed of the reservoir sampler", 0)
    chunk_size: int = _doc("records read and committed per transaction (bounds memory)", 5000)
    max_future: Duration = _doc(
        "records timestamped further ahead than this are rejected", Duration("5m")
    )


@dataclass(frozen=True)
class DriftSettings:
    reference: str = _doc(
        "'rolling:<duration>' before the current window, or 'pinned:<start>/<end>' in ISO 8601",
        "rolling:7d",
    )
    alpha: float = _doc("significance level of the combined verdict", 0.01)
    permutations: int = _doc("permutations for permutation p-values", 1000)
    min_samples: int = _doc("below this many samples per side the verdict is insufficient_data", 50)
    max_reference: int = _doc("reference samples used at most (uniformly subsampled)", 5000)
    tests: list[str] = _doc("tests to run; empty = the default suite", default_factory=list)
    seed: int = _doc("seed of permutations and subsampling", 0)


@dataclass(frozen=True)
class ScheduleSettings:
    sample: Schedule = _doc(
        "when the sampling job runs: an interval or 'cron:<crontab>'", Schedule("1m")
    )
    canary: Schedule = _doc("when the canary job runs", Schedule("1h"))
    drift: Schedule = _doc("when the drift job runs", Schedule("1h"))
    alerts: Schedule = _doc("when alert evaluation runs", Schedule("1m"))
    deliver: Schedule = _doc("when the webhook delivery worker runs", Schedule("15s"))
    misfire_grace: Duration = _doc("how late a job may still start", Duration("5m"))
    jitter: Duration = _doc("random delay added to each run", Duration("0s"))


@dataclass(frozen=True)
class RuleSettings:
    name: str = _doc("alert name, as in alerts/ Prometheus rules")
    signal: Literal[
        "canary_changed",
        "canary_min_cosine",
        "drift",
        "drift_p_value",
        "novelty_rate",
        "retrieval_drop",
        "job_failures",
        "job_staleness",
    ] = _doc("stored result the rule reads", "drift")
    test: str = _doc(
        "drift_p_value: the test name; retrieval_drop: the measure (e.g. "
        "'ndcg@10'); job_*: the job name",
        "",
    )
    model: str = _doc("only this model (empty = every model)", "")
    op: Literal["<", "<=", ">", ">=", "==", "!="] = _doc("comparison with threshold", ">=")
    threshold: float = _doc("value compared with the signal", 1.0)
    for_runs: int = _doc("consecutive runs the condition must hold before firing", 1)
    severity: Literal["info", "warning", "critical"] = _doc("severity", "warning")
    labels: dict[str, str] = _doc("extra labels sent with the alert", default_factory=dict)
    summary: str = _doc("summary template; {model}, {model_version}, {value} are filled", "")
    description: str = _doc("description template, same fields as summary", "")
    runbook_url: str = _doc("runbook link sent with the alert", "")


@dataclass(frozen=True)
class SinkSettings:
    name: str = _doc("name of the sink")
    kind: Literal["webhook", "slack", "alertmanager", "pagerduty"] = _doc(
        "payload format", "webhook"
    )
    url: str = _doc("target URL (Alertmanager: its base URL; PagerDuty: default Events API)", "")
    url_env: str = _doc("environment variable holding the URL (when the URL is a secret)", "")
    secret_env: str = _doc("environment variable holding the webhook signing secret", "")
    routing_key_env: str = _doc("PagerDuty: environment variable holding the routing key", "")
    min_severity: Literal["info", "warning", "critical"] = _doc("lowest severity sent", "info")
    match: dict[str, str] = _doc("only alerts whose labels have these values", default_factory=dict)
    resend: Duration = _doc(
        "re-send firing alerts this often (Alertmanager: keep well inside "
        "its resolve_timeout; empty = alerts.renotify)",
        Duration(""),
    )
    timeout: Duration = _doc("per-delivery timeout", Duration("10s"))
    max_age: Duration = _doc("a delivery older than this is marked dead", Duration("24h"))


def _default_rules() -> list[RuleSettings]:
    runbook = "https://github.com/driftmon/driftmon/blob/main/alerts/RUNBOOK.md#"
    return [
        RuleSettings(
            name="EmbeddingSilentModelChange",
            signal="canary_changed",
            op=">=",
            threshold=1.0,
            for_runs=1,
            severity="critical",
            summary="Canary embeddings of {model} ({model_version}) changed",
            description="Re-embedded canary set {canary_set} no longer matches its "
            "baseline: the provider changed the model behind the same name.",
            runbook_url=runbook + "embeddingsilentmodelchange",
        ),
        RuleSettings(
            name="EmbeddingQueryDrift",
            signal="drift",
            op=">=",
            threshold=1.0,
            for_runs=2,
            severity="warning",
            summary="Query distribution drift on {model} ({model_version})",
            description="Two consecutive drift runs rejected 'no drift' at the configured alpha.",
            runbook_url=runbook + "embeddingquerydrift",
        ),
        RuleSettings(
            name="EmbeddingNoveltyHigh",
            signal="novelty_rate",
            op=">",
            threshold=0.05,
            for_runs=2,
            severity="warning",
            summary="{value:.1%} of queries on {model} ({model_version}) are far from "
            "every reference query",
            runbook_url=runbook + "embeddingnoveltyhigh",
        ),
        RuleSettings(
            name="EmbeddingRetrievalDrop",
            signal="retrieval_drop",
            test="ndcg@10",
            op=">",
            threshold=0.05,
            for_runs=1,
            severity="warning",
            summary="nDCG@10 of {model} ({model_version}) on canary set {canary_set} "
            "fell {value:.3f} below its trailing mean",
            runbook_url=runbook + "embeddingretrievaldrop",
        ),
        RuleSettings(
            name="DriftmonJobFailing",
            signal="job_failures",
            op=">=",
            threshold=3.0,
            for_runs=1,
            severity="warning",
            summary="driftmon job {job} failed {value:.0f} times in a row",
            runbook_url=runbook + "driftmonjobfailing",
        ),
        RuleSettings(
            name="DriftmonJobStale",
            signal="job_staleness",
            op=">",
            threshold=3.0,
            for_runs=1,
            severity="warning",
            summary="driftmon job {job} has not succeeded for {value:.1f} intervals",
            runbook_url=runbook + "driftmonjobstale",
        ),
    ]


@dataclass(frozen=True)
class AlertSettings:
    rules: list[RuleSettings] = _doc(
        "alert rules (default: the built-in rules)", default_factory=_default_rules
    )
    sinks: list[SinkSettings] = _doc("where alerts are delivered", default_factory=list)
    renotify: Duration = _doc("re-send a firing alert this often", Duration("4h"))


@dataclass(frozen=True)
class Settings:
    database: DatabaseSettings = _doc("database", default_factory=DatabaseSettings)
    server: ServerSettings = _doc("HTTP server", default_factory=ServerSettings)
    agent: AgentSettings = _doc("agent process", default_factory=AgentSettings)
    models: list[ModelSettings] = _doc("embedding endpoints watched", default_factory=list)
    canary_sets: list[CanarySetSettings] = _doc("canary sets", default_factory=list)
    sources: list[SourceSettings] = _doc("query sources", default_factory=list)
    sampling: SamplingSettings = _doc("sampling", default_factory=SamplingSettings)
    drift: DriftSettings = _doc("drift runs", default_factory=DriftSettings)
    schedule: ScheduleSettings = _doc("job intervals", default_factory=ScheduleSettings)
    alerts: AlertSettings = _doc("alerting", default_factory=AlertSettings)
    migration: MigrationSettings = _doc(
        "blue-green checks ('driftmon migrate-check')", default_factory=MigrationSettings
    )

    def model(self, name: str) -> ModelSettings:
        for m in self.models:
            if m.name == name:
                return m
        raise ConfigError(f"no model named {name!r} in [[models]]")


# --------------------------------------------------------------------------- loading


def load_settings(
    path: str | os.PathLike[str] | None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Read, override from the environment, and validate the settings.

    ``path=None`` means defaults only. Every problem raises ConfigError naming the key.
    """
    env = os.environ if environ is None else environ
    raw: dict[str, Any] = {}
    if path is not None:
        file = Path(path)
        try:
            with file.open("rb") as fh:
                raw = tomllib.load(fh)
        except FileNotFoundError:
            raise ConfigError(f"config file {file} does not exist") from None
        except IsADirectoryError:
            raise ConfigError(f"config file {file} is a directory") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {file} is not valid TOML: {exc}") from None
    _apply_env(raw, env)
    settings: Settings = _build(Settings, raw, "")
    _check(settings)
    if path is not None:
        settings = _resolve_paths(settings, Path(path).resolve().parent)
    return settings


def _apply_env(raw: dict[str, Any], env: Mapping[str, str]) -> None:
    hints = get_type_hints(Settings)
    for var, value in sorted(env.items()):
        if not var.startswith(ENV_PREFIX):
            continue
        rest = var[len(ENV_PREFIX) :].lower()
        for section, tp in hints.items():
            if not rest.startswith(section + "_"):
                continue
            tail = rest[len(section) + 1 :]
            if get_origin(tp) is list:
                _apply_list_env(raw, section, get_args(tp)[0], tail, value, var)
            else:
                keys = {f.name for f in dataclasses.fields(tp)}
                if tail not in keys:
                    raise ConfigError(f"{var}: [{section}] has no key {tail!r}")
                raw.setdefault(section, {})[tail] = _env_value(value, get_type_hints(tp)[tail])
            break


def _apply_list_env(
    raw: dict[str, Any], section: str, item_tp: type, tail: str, value: str, var: str
) -> None:
    entries = raw.get(section, [])
    keys = {f.name for f in dataclasses.fields(item_tp)}
    for entry in entries if isinstance(entries, list) else []:
        name = str(entry.get("name", "")).lower().replace("-", "_")
        if name and tail.startswith(name + "_") and tail[len(name) + 1 :] in keys:
            key = tail[len(name) + 1 :]
            entry[key] = _env_value(value, get_type_hints(item_tp)[key])
            return
    raise ConfigError(
        f"{var}: no [[{section}]] entry and key match (expected "
        f"DRIFTMON_{section.upper()}_<NAME>_<KEY>)"
    )


def _env_value(value: str, tp: Any) -> Any:
    if tp is bool:
        low = value.strip().lower()
        if low in {"1", "true", "yes", "on"}:
            return True
        if low in {"0", "false", "no", "off"}:
            return False
        return value
    if tp is int:
        try:
            return int(value)
        except ValueError:
            return value
    if tp is float:
        try:
            return float(value)
        except ValueError:
            return value
    if get_origin(tp) is list:
        return [v.strip() for v in value.split(",") if v.strip()]
    return value


def _type_name(tp: Any) -> str:
    if get_origin(tp) is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(tp))
    if tp is Duration:
        return "a duration like '30s', '5m', '1h'"
    if tp is Schedule:
        return "a duration like '5m', or 'cron:*/5 * * * *'"
    if get_origin(tp) is list:
        return "a list"
    if get_origin(tp) is dict:
        return "a table of strings"
    if dataclasses.is_dataclass(tp):
        return "a table"
    return {bool: "true or false", int: "an integer", float: "a number", str: "a string"}.get(
        tp, str(tp)
    )


def _build(cls: Any, data: Any, where: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"{where or 'config'}: expected a table, got {type(data).__name__}")
    hints = get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(
            f"{_key(where, unknown[0])}: unknown key (known: {', '.join(sorted(names))})"
        )
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        key = _key(where, f.name)
        if f.name not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ConfigError(f"{key}: required key is missing")
            continue
        values[f.name] = _convert(hints[f.name], data[f.name], key)
    return cls(**values)


def _convert(tp: Any, value: Any, key: str) -> Any:
    origin = get_origin(tp)
    if origin is dict:
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            raise ConfigError(f"{key}: expected {_type_name(tp)}, got {value!r}")
        return dict(value)
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{key}: expected {_type_name(tp)}, got {value!r}")
        (item,) = get_args(tp)
        return [_convert(item, v, f"{key}[{i}]") for i, v in enumerate(value)]
    if origin in (Union, types.UnionType):
        raise TypeError("unions are not used in settings")
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, key)
    if origin is Literal:
        if value not in get_args(tp):
            raise ConfigError(f"{key}: expected {_type_name(tp)}, got {value!r}")
        return value
    if tp is Schedule:
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected {_type_name(tp)}, got {value!r}")
        try:
            parse_schedule(value)  # the scheduler checks each cron field at start
        except ValueError as exc:
            raise ConfigError(f"{key}: expected {_type_name(tp)}, got {value!r} ({exc})") from None
        return Schedule(value)
    if tp is Duration:
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected {_type_name(tp)}, got {value!r}")
        if value == "" and key.endswith(".resend"):
            return Duration(value)
        try:
            parse_duration(value)
        except ValueError:
            raise ConfigError(f"{key}: expected {_type_name(tp)}, got {value!r}") from None
        return Duration(value)
    ok = {
        bool: lambda v: isinstance(v, bool),
        int: lambda v: isinstance(v, int) and not isinstance(v, bool),
        float: lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        str: lambda v: isinstance(v, str),
    }[tp](value)
    if not ok:
        raise ConfigError(f"{key}: expected {_type_name(tp)}, got {value!r}")
    return float(value) if tp is float else value


def _key(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def _check(s: Settings) -> None:
    """Cross-field checks the types cannot express."""
    for section, names in (
        ("models", [x.name for x in s.models]),
        ("canary_sets", [x.name for x in s.canary_sets]),
        ("sources", [x.name for x in s.sources]),
        ("alerts.sinks", [x.name for x in s.alerts.sinks]),
        ("alerts.rules", [x.name for x in s.alerts.rules]),
    ):
        seen: set[str] = set()
        for i, name in enumerate(names):
            if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", name):
                raise ConfigError(
                    f"{section}[{i}].name: expected letters, digits, '_', '.', '-' "
                    f"(at most 64), got {name!r}"
                )
            if name in seen:
                raise ConfigError(f"{section}[{i}].name: duplicate name {name!r}")
            seen.add(name)
    for i, m in enumerate(s.models):
        if m.dimensions < 1:
            raise ConfigError(f"models[{i}].dimensions: expected a positive integer")
        if m.batch_size < 1 or m.max_concurrency < 1:
            raise ConfigError(f"models[{i}]: batch_size and max_concurrency must be >= 1")
        if m.provider != "hash" and m.provider != "local" and not m.base_url:
            raise ConfigError(f"models[{i}].base_url: required for provider {m.provider!r}")
        if m.provider in ("azure", "cohere", "voyage") and not m.api_key_env:
            raise ConfigError(f"models[{i}].api_key_env: required for provider {m.provider!r}")
        if m.provider == "azure" and not m.api_version:
            raise ConfigError(f"models[{i}].api_version: required for provider 'azure'")
        for key in ("max_input_tokens", "chars_per_token"):
            if getattr(m, key) <= 0:
                raise ConfigError(f"models[{i}].{key}: expected a positive number")
        for key in (
            "requests_per_second",
            "tokens_per_minute",
            "max_batch_tokens",
            "max_retries",
            "breaker_threshold",
        ):
            if getattr(m, key) < 0:
                raise ConfigError(f"models[{i}].{key}: expected a number >= 0")
        for key in ("timeout", "connect_timeout"):
            if parse_duration(getattr(m, key)).total_seconds() <= 0:
                raise ConfigError(f"models[{i}].{key}: expected a duration above zero")
    _check_sources(s)
    for i, sink in enumerate(s.alerts.sinks):
        if sink.url and sink.url_env:
            raise ConfigError(f"alerts.sinks[{i}]: set only one of url and url_env")
        if not (sink.url or sink.url_env) and sink.kind != "pagerduty":
            raise ConfigError(
                f"alerts.sinks[{i}].url: required for kind {sink.kind!r} (or url_env)"
            )
        if sink.kind == "pagerduty" and not sink.routing_key_env:
            raise ConfigError(f"alerts.sinks[{i}].routing_key_env: required for kind 'pagerduty'")
    for i, rule in enumerate(s.alerts.rules):
        if rule.signal in ("drift_p_value", "retrieval_drop") and not rule.test:
            raise ConfigError(f"alerts.rules[{i}].test: required for signal {rule.signal!r}")
        if rule.for_runs < 1:
            raise ConfigError(f"alerts.rules[{i}].for_runs: expected at least 1")
    if not 0 < s.drift.alpha < 1:
        raise ConfigError(f"drift.alpha: expected a number in (0, 1), got {s.drift.alpha}")
    if s.drift.permutations < 10:
        raise ConfigError("drift.permutations: expected at least 10")
    if s.drift.min_samples < 2:
        raise ConfigError("drift.min_samples: expected at least 2")
    try:
        parse_reference(s.drift.reference)
    except ValueError as exc:
        raise ConfigError(f"drift.reference: {exc}") from None
    host, _, port = s.server.listen.rpartition(":")
    if not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ConfigError(f"server.listen: expected host:port, got {s.server.listen!r}")


#: keys of [[sources]] that only one kind reads
_SOURCE_KEYS_BY_KIND = {
    "path": "jsonl",
    "max_line_bytes": "jsonl",
    "url": "sql",
    "url_env": "sql",
    "query": "sql",
    "watermark_field": "sql",
    "watermark_kind": "sql",
    "watermark_start": "sql",
    "token_env": "http",
    "max_body_bytes": "http",
    "max_records_per_request": "http",
}


def _check_sources(s: Settings) -> None:
    """Cross-field checks of [[sources]] and [sampling]."""
    from datetime import datetime

    defaults = {f.name: f.default for f in dataclasses.fields(SourceSettings)}
    tokens: dict[str, str] = {}
    for i, src in enumerate(s.sources):
        key = f"sources[{i}]"
        for name, kind in _SOURCE_KEYS_BY_KIND.items():
            if src.kind != kind and getattr(src, name) != defaults[name]:
                raise ConfigError(
                    f"{key}.{name}: only used by kind {kind!r}, this source is {src.kind!r}"
                )
        if src.kind == "jsonl" and not src.path:
            raise ConfigError(f"{key}.path: required for kind 'jsonl'")
        if src.kind == "sql":
            if bool(src.url) == bool(src.url_env):
                raise ConfigError(f"{key}.url: set exactly one of url and url_env for kind 'sql'")
            for param in ("watermark", "limit"):
                if not re.search(rf"(?<!:):{param}\b", src.query):
                    raise ConfigError(
                        f"{key}.query: must use the bound parameter :{param} "
                        f"(e.g. ... WHERE id > :watermark ORDER BY id LIMIT :limit)"
                    )
            if not src.watermark_field:
                raise ConfigError(f"{key}.watermark_field: required for kind 'sql'")
            if src.watermark_start:
                try:
                    if src.watermark_kind == "id":
                        float(src.watermark_start)
                    else:
                        datetime.fromisoformat(src.watermark_start.replace("Z", "+00:00"))
                except ValueError:
                    want = "a number" if src.watermark_kind == "id" else "an ISO 8601 time"
                    raise ConfigError(
                        f"{key}.watermark_start: expected {want}, got {src.watermark_start!r}"
                    ) from None
        if src.kind == "http":
            if not src.token_env:
                raise ConfigError(
                    f"{key}.token_env: required for kind 'http' (the environment "
                    "variable holding the bearer token)"
                )
            if src.token_env in tokens:
                raise ConfigError(
                    f"{key}.token_env: {src.token_env} is also the token of source "
                    f"{tokens[src.token_env]!r}; the token names the source"
                )
            tokens[src.token_env] = src.name
            if not 1 <= src.max_body_bytes <= 1 << 20:
                raise ConfigError(f"{key}.max_body_bytes: expected 1 to 1048576")
            if src.max_records_per_request < 1:
                raise ConfigError(f"{key}.max_records_per_request: expected at least 1")
        if src.stratify_by and (src.max_per_stratum < 1 or src.max_strata < 1):
            raise ConfigError(f"{key}: max_per_stratum and max_strata must be >= 1")
        if src.max_identical < 0:
            raise ConfigError(f"{key}.max_identical: expected 0 (off) or more")
        if src.max_line_bytes < 16:
            raise ConfigError(f"{key}.max_line_bytes: expected at least 16")
    if s.sampling.max_per_window < 1:
        raise ConfigError("sampling.max_per_window: expected a positive integer")
    if s.sampling.chunk_size < 1:
        raise ConfigError("sampling.chunk_size: expected a positive integer")
    for i, pattern in enumerate(s.sampling.redact_patterns):
        try:
            if re.compile(pattern).match(""):
                raise ConfigError(
                    f"sampling.redact_patterns[{i}]: {pattern!r} matches the empty string"
                )
        except re.error as exc:
            raise ConfigError(
                f"sampling.redact_patterns[{i}]: not a regular expression ({exc})"
            ) from None


def parse_reference(text: str) -> tuple[str, Any]:
    """``rolling:7d`` -> ("rolling", timedelta); ``pinned:A/B`` -> ("pinned", (A, B))."""
    from datetime import datetime

    kind, _, arg = text.partition(":")
    if kind == "rolling":
        return "rolling", parse_duration(arg)
    if kind == "pinned":
        start, sep, end = arg.partition("/")
        if not sep:
            raise ValueError(f"expected 'pinned:<start>/<end>', got {text!r}")
        try:
            a = datetime.fromisoformat(start.replace("Z", "+00:00"))
            b = datetime.fromisoformat(end.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"expected ISO 8601 times in {text!r}") from None
        if as_utc(b) <= as_utc(a):
            raise ValueError(f"the pinned range {text!r} ends before it starts")
        return "pinned", (as_utc(a), as_utc(b))
    raise ValueError(f"expected 'rolling:<duration>' or 'pinned:<start>/<end>', got {text!r}")


def _resolve_paths(s: Settings, base: Path) -> Settings:
    """Relative file paths in the config are relative to the config file."""

    def rel(p: str) -> str:
        return p if not p or os.path.isabs(p) else str(base / p)

    url = s.database.url
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        tail = url[len("sqlite:///") :]
        if tail and tail != ":memory:":
            url = "sqlite:///" + rel(tail)
    return dataclasses.replace(
        s,
        database=dataclasses.replace(s.database, url=url),
        canary_sets=[
            dataclasses.replace(c, path=rel(c.path), qrels=rel(c.qrels)) for c in s.canary_sets
        ],
        sources=[dataclasses.replace(x, path=rel(x.path)) for x in s.sources],
    )


def resolve_secret(env_name: str, what: str, environ: Mapping[str, str] | None = None) -> str:
    """Read a secret from the environment variable ``env_name``."""
    env = os.environ if environ is None else environ
    value = env.get(env_name, "")
    if not value:
        raise ConfigError(f"{what}: environment variable {env_name} is not set")
    return value


# --------------------------------------------------------------------------- showing


def _mask_url(url: str) -> str:
    return re.sub(r"(://[^:/@]+:)[^@]+@", r"\1***@", url)


def settings_to_dict(s: Settings, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The effective settings as plain data, secrets masked (env vars shown as set/unset)."""
    env = os.environ if environ is None else environ

    def conv(obj: Any) -> Any:
        if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            out: dict[str, Any] = {}
            for f in dataclasses.fields(obj):
                v = getattr(obj, f.name)
                if f.name.endswith("_env") and v:
                    out[f.name] = f"{v} ({'set' if env.get(v) else 'NOT SET'})"
                elif f.name == "url" and isinstance(v, str):
                    out[f.name] = _mask_url(v)
                else:
                    out[f.name] = conv(v)
            return out
        if isinstance(obj, list):
            return [conv(v) for v in obj]
        return obj

    result: dict[str, Any] = conv(s)
    return result


def describe_settings() -> list[tuple[str, str, str, str]]:
    """(key, type, default, help) for every setting: the README's reference table."""
    rows: list[tuple[str, str, str, str]] = []

    def walk(cls: Any, prefix: str) -> None:
        hints = get_type_hints(cls)
        for f in dataclasses.fields(cls):
            tp = hints[f.name]
            key = f"{prefix}{f.name}"
            if dataclasses.is_dataclass(tp):
                walk(tp, key + ".")
                continue
            if get_origin(tp) is list and dataclasses.is_dataclass(get_args(tp)[0]):
                walk(get_args(tp)[0], f"{key}[].")
                continue
            if f.default is not dataclasses.MISSING:
                default = repr(f.default)
            elif f.default_factory is not dataclasses.MISSING:
                default = "built-in" if key == "alerts.rules" else repr(f.default_factory())
            else:
                default = "(required)"
            rows.append((key, _type_name(tp), default, f.metadata.get("help", "")))

    walk(Settings, "")
    return rows


def config_path_from_env(environ: Mapping[str, str] | None = None) -> str | None:
    """``DRIFTMON_CONFIG``: the config file a command reads when it is given none."""
    env = os.environ if environ is None else environ
    return env.get("DRIFTMON_CONFIG") or None


def current_user(environ: Mapping[str, str] | None = None) -> str | None:
    """The login name (``USER``) recorded as who acknowledged or re-baselined."""
    env = os.environ if environ is None else environ
    return env.get("USER") or None
