"""Settings shown to people: the README reference table and the effective config, masked."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, get_args, get_origin, get_type_hints

from monitor.config.convert import is_section, type_name
from monitor.config.masking import mask_secrets, mask_url
from monitor.config.settings import Settings, SinkSettings

__all__ = ["describe_settings", "reference_table", "settings_to_dict"]

#: sink kinds whose whole URL is a credential (the README: "keep the URL secret")
SECRET_URL_KINDS = ("slack", "pagerduty")


def settings_to_dict(s: Settings, environ: Mapping[str, str]) -> dict[str, Any]:
    """The effective settings as plain data, secrets masked (env vars shown as set/unset)."""

    def conv(obj: Any) -> Any:
        if is_section(type(obj)):
            result: dict[str, Any] = {}
            for f in dataclasses.fields(obj):
                v = getattr(obj, f.name)
                if f.name.endswith("_env") and v:
                    result[f.name] = f"{v} ({'set' if environ.get(v) else 'NOT SET'})"
                else:
                    result[f.name] = conv(v)
            if isinstance(obj, SinkSettings) and obj.kind in SECRET_URL_KINDS:
                result["url"] = mask_url(obj.url)
            return result
        if isinstance(obj, list):
            return [conv(v) for v in obj]
        if isinstance(obj, dict):
            return {k: conv(v) for k, v in obj.items()}
        if isinstance(obj, str):
            return mask_secrets(obj)
        if obj is None or isinstance(obj, bool | int | float):
            return obj
        return str(obj)  # Duration, Interval, Cron, Rolling, Pinned: as written

    converted: dict[str, Any] = conv(s)
    return converted


def _default(f: dataclasses.Field[Any], key: str) -> str:
    if f.default is not dataclasses.MISSING:
        value = f.default
        return repr(value if value is None or isinstance(value, bool | int | float) else str(value))
    if f.default_factory is not dataclasses.MISSING:
        return "built-in" if key == "alerts.rules" else repr(f.default_factory())
    return "(required)"


def _range(meta: Mapping[str, Any]) -> str:
    lo, hi, above = (meta.get(k) for k in ("lo", "hi", "above"))
    if above is not None:
        return f"; > {_plain(above)}"
    if lo is not None and hi is not None:
        return f"; {_plain(lo)} to {_plain(hi)}"
    if lo is not None:
        return f"; ≥ {_plain(lo)}"
    return ""


def _plain(bound: float) -> str:
    return str(int(bound)) if bound == int(bound) else str(bound)


def describe_settings() -> list[tuple[str, str, str, str]]:
    """(key, type, default, help) for every setting: the README's reference table."""
    rows: list[tuple[str, str, str, str]] = []

    def walk(cls: Any, prefix: str) -> None:
        hints = get_type_hints(cls)
        for f in dataclasses.fields(cls):
            tp = hints[f.name]
            key = f"{prefix}{f.name}"
            if is_section(tp):
                walk(tp, key + ".")
                continue
            if get_origin(tp) is list and is_section(get_args(tp)[0]):
                walk(get_args(tp)[0], f"{key}[].")
                continue
            kind = type_name(tp) + _range(f.metadata)
            rows.append((key, kind, _default(f, key), f.metadata.get("help", "")))

    walk(Settings, "")
    return rows


def reference_table() -> str:
    """The Markdown table between the README's config-reference markers."""
    lines = ["| key | type | default | meaning |", "|---|---|---|---|"]
    for key, tp, default, help_text in describe_settings():
        lines.append(f"| `{key}` | {tp} | `{default}` | {help_text} |")
    return "\n".join(lines) + "\n"
