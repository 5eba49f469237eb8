"""Checks the types cannot express: ranges, names, cross-field rules; one line per problem."""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from monitor.config.settings import Settings, SourceSettings
from monitor.config.values import Duration, Interval, Rolling

__all__ = ["DRIFT_TESTS", "check_settings", "env_problems"]

#: the drift test names of monitor.stats.suite.ALL_TESTS (a test keeps them equal;
#: the base layer cannot import stats)
DRIFT_TESTS = (
    "mmd",
    "energy",
    "centroid",
    "ks",
    "cvm",
    "classifier",
    "psi_norm",
    "psi_centroid_cosine",
    "psi_nn_similarity",
    "frechet",
    "geometry",
    "novelty",
)
_INT64 = 2**63 - 1
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
#: DRIFTMON_* variables that are not settings
_NOT_SETTINGS = ("DRIFTMON_CONFIG",)
_NOT_SETTINGS_PREFIX = "DRIFTMON_TEST_"


def check_settings(s: Settings) -> list[str]:
    """Every problem of built settings, one line each naming the key."""
    problems = list(_ranges(s, ""))
    problems += _names(s)
    problems += _models(s)
    problems += _sources(s)
    problems += _alerts(s)
    problems += _rest(s)
    return problems


def _ranges(obj: Any, where: str) -> Iterator[str]:
    """Bounds from each field's metadata; durations above zero; numbers finite."""
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        key = f"{where}.{f.name}" if where else f.name
        if isinstance(value, Interval | Rolling):
            span = value.every if isinstance(value, Interval) else value.span
            yield from _duration(span, key, {})
        elif isinstance(value, Duration):
            yield from _duration(value, key, f.metadata)
        elif dataclasses.is_dataclass(value):
            if type(value).__module__ in ("monitor.config.settings", "monitor.config.retention"):
                yield from _ranges(value, key)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if dataclasses.is_dataclass(item):
                    yield from _ranges(item, f"{key}[{i}]")
                else:
                    yield from _number(item, f"{key}[{i}]", f.metadata)
        else:
            yield from _number(value, key, f.metadata)


def _duration(d: Duration, key: str, meta: Mapping[str, Any]) -> Iterator[str]:
    if d.delta.total_seconds() <= 0 and not meta.get("zero_ok"):
        yield f"{key}: expected a duration above zero, got {d.text!r}"


def _number(value: Any, key: str, meta: Mapping[str, Any]) -> Iterator[str]:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return
    if isinstance(value, float) and not math.isfinite(value):
        yield f"{key}: expected a finite number, got {value!r}"
        return
    lo, hi, above = (_plain(meta.get(k)) for k in ("lo", "hi", "above"))
    if isinstance(value, int) and abs(value) > _INT64 and lo is None and hi is None:
        yield f"{key}: {value} does not fit in 64 bits"
    elif above is not None and value <= above:
        yield f"{key}: expected a number above {above}, got {value!r}"
    elif lo is not None and hi is not None and not lo <= value <= hi:
        yield f"{key}: expected {lo} to {hi}, got {value!r}"
    elif lo is not None and value < lo:
        yield f"{key}: expected at least {lo}, got {value!r}"
    elif hi is not None and value > hi:
        yield f"{key}: expected at most {hi}, got {value!r}"


class _Named(Protocol):
    @property
    def name(self) -> str: ...


def _plain(bound: float | None) -> float | None:
    """1 rather than 1.0 in messages."""
    return int(bound) if bound is not None and bound == int(bound) else bound


def _names(s: Settings) -> Iterator[str]:
    sections: tuple[tuple[str, Sequence[_Named]], ...] = (
        ("models", s.models),
        ("canary_sets", s.canary_sets),
        ("sources", s.sources),
        ("alerts.sinks", s.alerts.sinks),
        ("alerts.rules", s.alerts.rules),
    )
    for section, items in sections:
        seen: set[str] = set()
        for i, item in enumerate(items):
            if not _NAME.fullmatch(item.name):
                yield (
                    f"{section}[{i}].name: expected letters, digits, '_', '.', '-' "
                    f"(at most 64), got {item.name!r}"
                )
            elif item.name in seen:
                yield f"{section}[{i}].name: duplicate name {item.name!r}"
            seen.add(item.name)


def _models(s: Settings) -> Iterator[str]:
    for i, m in enumerate(s.models):
        if m.provider not in ("hash", "local") and not m.base_url:
            yield f"models[{i}].base_url: required for provider {m.provider!r}"
        if m.provider in ("azure", "cohere", "voyage") and not m.api_key_env:
            yield f"models[{i}].api_key_env: required for provider {m.provider!r}"
        if m.provider == "azure" and not m.api_version:
            yield f"models[{i}].api_version: required for provider 'azure'"
    for i, c in enumerate(s.canary_sets):
        if not c.path.strip():
            yield f"canary_sets[{i}].path: expected a file name, got ''"


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


def _sources(s: Settings) -> Iterator[str]:
    defaults = {f.name: f.default for f in dataclasses.fields(SourceSettings)}
    tokens: dict[str, str] = {}
    for i, src in enumerate(s.sources):
        key = f"sources[{i}]"
        for name, kind in _SOURCE_KEYS_BY_KIND.items():
            if src.kind != kind and getattr(src, name) != defaults[name]:
                yield f"{key}.{name}: only used by kind {kind!r}, this source is {src.kind!r}"
        if src.kind == "jsonl" and not src.path.strip():
            yield f"{key}.path: required for kind 'jsonl'"
        if src.kind == "sql":
            yield from _sql_source(src, key)
        if src.kind == "http":
            if not src.token_env:
                yield (
                    f"{key}.token_env: required for kind 'http' (the environment "
                    "variable holding the bearer token)"
                )
            elif src.token_env in tokens:
                yield (
                    f"{key}.token_env: {src.token_env} is also the token of source "
                    f"{tokens[src.token_env]!r}; the token names the source"
                )
            tokens[src.token_env] = src.name
    for i, pattern in enumerate(s.sampling.redact_patterns):
        try:
            if re.compile(pattern).match(""):
                yield f"sampling.redact_patterns[{i}]: {pattern!r} matches the empty string"
        except (re.error, RecursionError, OverflowError) as exc:
            yield f"sampling.redact_patterns[{i}]: not a regular expression ({exc})"


def _sql_source(src: SourceSettings, key: str) -> Iterator[str]:
    if bool(src.url) == bool(src.url_env):
        yield f"{key}.url: set exactly one of url and url_env for kind 'sql'"
    for param in ("watermark", "limit"):
        if not re.search(rf"(?<!:):{param}\b", src.query):
            yield (
                f"{key}.query: must use the bound parameter :{param} "
                f"(e.g. ... WHERE id > :watermark ORDER BY id LIMIT :limit)"
            )
    if not src.watermark_field:
        yield f"{key}.watermark_field: required for kind 'sql'"
    if src.watermark_start:
        try:
            if src.watermark_kind == "id":
                float(src.watermark_start)
            else:
                datetime.fromisoformat(src.watermark_start.replace("Z", "+00:00"))
        except ValueError:
            want = "a number" if src.watermark_kind == "id" else "an ISO 8601 time"
            yield f"{key}.watermark_start: expected {want}, got {src.watermark_start!r}"


def _alerts(s: Settings) -> Iterator[str]:
    for i, sink in enumerate(s.alerts.sinks):
        if sink.url and sink.url_env:
            yield f"alerts.sinks[{i}]: set only one of url and url_env"
        if not (sink.url or sink.url_env) and sink.kind != "pagerduty":
            yield f"alerts.sinks[{i}].url: required for kind {sink.kind!r} (or url_env)"
        if sink.kind == "pagerduty" and not sink.routing_key_env:
            yield f"alerts.sinks[{i}].routing_key_env: required for kind 'pagerduty'"
    for i, rule in enumerate(s.alerts.rules):
        if rule.signal in ("drift_p_value", "retrieval_drop") and not rule.test:
            yield f"alerts.rules[{i}].test: required for signal {rule.signal!r}"
        if rule.signal == "drift_p_value" and rule.test and rule.test not in DRIFT_TESTS:
            yield f"alerts.rules[{i}].test: unknown drift test {rule.test!r}"


def _rest(s: Settings) -> Iterator[str]:
    if not s.drift.alpha < 1:
        yield f"drift.alpha: expected a number in (0, 1), got {s.drift.alpha}"
    for i, name in enumerate(s.drift.tests):
        if name not in DRIFT_TESTS:
            yield f"drift.tests[{i}]: unknown test {name!r} (known: {', '.join(DRIFT_TESTS)})"
    host, _, port = s.server.listen.rpartition(":")
    if not host or not port.isdigit() or not 0 <= int(port) < 65536:
        yield f"server.listen: expected host:port, got {s.server.listen!r}"
    public = s.server.public_url
    if public and not (
        public.startswith(("http://", "https://")) and "@" not in public and " " not in public
    ):
        yield (
            "server.public_url: expected an http:// or https:// address without "
            f"credentials, got {public!r}"
        )
    if not s.database.url.strip():
        yield "database.url: expected a URL, got ''"


def env_problems(s: Settings, env: Mapping[str, str]) -> list[str]:
    """``DRIFTMON_*`` variables that match no section (a misspelt section is silently lost).

    Variables that a ``*_env`` setting names (secrets), ``DRIFTMON_CONFIG`` and
    ``DRIFTMON_TEST_*`` are not settings.
    """
    sections = [f.name for f in dataclasses.fields(Settings)]
    named = set(_env_names(s))
    problems = []
    for var in sorted(env):
        if not var.startswith("DRIFTMON_") or var in named or var in _NOT_SETTINGS:
            continue
        if var.startswith(_NOT_SETTINGS_PREFIX):
            continue
        rest = var[len("DRIFTMON_") :].lower()
        if not any(rest.startswith(section + "_") for section in sections):
            problems.append(
                f"{var}: no section {rest.split('_')[0]!r} "
                f"(expected DRIFTMON_<SECTION>_<KEY>; sections: {', '.join(sections)})"
            )
    return problems


def _env_names(obj: Any) -> Iterator[str]:
    """Every environment variable name held by a ``*_env`` setting."""
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if f.name.endswith("_env") and isinstance(value, str) and value:
            yield value
        elif isinstance(value, list):
            for item in value:
                if dataclasses.is_dataclass(item):
                    yield from _env_names(item)
        elif dataclasses.is_dataclass(value) and not isinstance(value, Duration):
            yield from _env_names(value)
