"""Plain TOML data -> typed settings dataclasses, collecting one problem line per key."""

from __future__ import annotations

import dataclasses
import math
import types
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

from monitor.config.values import (
    Duration,
    Pinned,
    Rolling,
    parse_reference,
    parse_schedule,
)

__all__ = ["build", "is_section", "type_name"]


def is_section(tp: Any) -> bool:
    """A settings table (not a typed value such as Duration)."""
    return dataclasses.is_dataclass(tp) and tp.__module__ in (
        "monitor.config.settings",
        "monitor.config.rules",
        "monitor.config.retention",
    )


def _kind(tp: Any) -> str:
    """Name the typed-value unions, which get_type_hints returns as UnionType."""
    args = set(get_args(tp)) if get_origin(tp) in (Union, types.UnionType) else set()
    if args == {Duration, type(None)}:
        return "optional duration"
    if {a.__name__ for a in args} == {"Interval", "Cron"}:
        return "schedule"
    if args == {Rolling, Pinned}:
        return "reference"
    return ""


def type_name(tp: Any) -> str:
    """How the README and error lines name a setting's type."""
    kind = _kind(tp)
    if kind == "schedule":
        return "a duration like '5m', or 'cron:*/5 * * * *'"
    if kind == "reference":
        return "'rolling:<duration>' or 'pinned:<start>/<end>'"
    if tp is Duration or kind == "optional duration":
        return "a duration like '30s', '5m', '1h'"
    if get_origin(tp) is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(tp))
    if get_origin(tp) is list:
        return "a list"
    if get_origin(tp) is dict:
        return "a table of strings"
    if is_section(tp):
        return "a table"
    names = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}
    return names.get(tp, str(tp))


class _Bad(Exception):
    """One key's problem; collected, never raised out of :func:`build`."""


def _key(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def build(cls: Any, data: Any, where: str, problems: list[str]) -> Any:
    """An instance of ``cls`` from ``data``, or None after appending each problem found."""
    if not isinstance(data, dict):
        problems.append(f"{where or 'config'}: expected a table, got {type(data).__name__}")
        return None
    hints = get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    for unknown in sorted(set(data) - names):
        problems.append(f"{_key(where, unknown)}: unknown key (known: {', '.join(sorted(names))})")
    values: dict[str, Any] = {}
    complete = True
    for f in dataclasses.fields(cls):
        key = _key(where, f.name)
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if f.name not in data:
            if required:
                problems.append(f"{key}: required key is missing")
                complete = False
            continue
        try:
            values[f.name] = _convert(hints[f.name], data[f.name], key, problems)
        except _Bad as exc:
            problems.append(str(exc))
            complete = complete and not required
    # a bad optional key keeps its default, so the later checks still see the rest
    return cls(**values) if complete else None


def _convert(tp: Any, value: Any, key: str, problems: list[str]) -> Any:
    origin = get_origin(tp)
    if origin is dict:
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            raise _Bad(f"{key}: expected {type_name(tp)}, got {_show(value)}")
        return dict(value)
    if origin is list:
        if not isinstance(value, list):
            raise _Bad(f"{key}: expected {type_name(tp)}, got {_show(value)}")
        (item,) = get_args(tp)
        before = len(problems)
        items = []
        for i, v in enumerate(value):
            try:
                items.append(_convert(item, v, f"{key}[{i}]", problems))
            except _Bad as exc:
                problems.append(str(exc))
        if len(problems) > before:
            raise _Bad(problems.pop())
        return items
    kind = _kind(tp)
    if kind or tp is Duration:
        return _typed_value(tp, kind, value, key)
    if dataclasses.is_dataclass(tp):
        built = build(tp, value, key, problems)
        if built is None:
            raise _Bad(problems.pop())
        return built
    if origin is Literal:
        if value not in get_args(tp):
            raise _Bad(f"{key}: expected {type_name(tp)}, got {_show(value)}")
        return value
    return _scalar(tp, value, key)


def _typed_value(tp: Any, kind: str, value: Any, key: str) -> Any:
    if not isinstance(value, str):
        raise _Bad(f"{key}: expected {type_name(tp)}, got {_show(value)}")
    if kind == "optional duration" and value == "":
        return None
    try:
        if kind == "schedule":
            return parse_schedule(value)
        if kind == "reference":
            return parse_reference(value)
        return Duration.parse(value)
    except (ValueError, OverflowError) as exc:
        if kind == "reference":
            raise _Bad(f"{key}: {exc}") from None
        raise _Bad(f"{key}: expected {type_name(tp)}, got {_show(value)} ({exc})") from None


def _scalar(tp: Any, value: Any, key: str) -> Any:
    checks = {
        bool: lambda v: isinstance(v, bool),
        int: lambda v: isinstance(v, int) and not isinstance(v, bool),
        float: lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        str: lambda v: isinstance(v, str),
    }
    if not checks[tp](value):
        raise _Bad(f"{key}: expected {type_name(tp)}, got {_show(value)}")
    if tp is float:
        try:
            number = float(value)
        except OverflowError:
            raise _Bad(f"{key}: expected a finite number, got a number too large") from None
        if not math.isfinite(number):
            raise _Bad(f"{key}: expected a finite number, got {value!r}")
        return number
    return value


def _show(value: Any) -> str:
    """A value as an error line shows it: repr, at most 60 characters."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
