"""Load settings: TOML file, then ``DRIFTMON_*`` overrides, then checks.

This is the only module of ``monitor`` that reads the process environment:
every other module receives a mapping from :func:`environment` or asks
:func:`resolve_secret`.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, get_args, get_origin, get_type_hints

from monitor.config.checks import check_settings, env_problems
from monitor.config.convert import build
from monitor.config.rules import default_rules
from monitor.config.settings import Settings
from monitor.errors import ConfigError

__all__ = [
    "ENV_PREFIX",
    "ConfigProblems",
    "config_path_from_env",
    "current_user",
    "environment",
    "load_settings",
    "resolve_secret",
]

ENV_PREFIX = "DRIFTMON_"


class ConfigProblems(ConfigError):
    """Every problem of one config, one line each; ``str()`` is the first line and a count."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        more = len(problems) - 1
        tail = f" (and {more} more: run 'driftmon config check')" if more else ""
        super().__init__(problems[0] + tail)


def environment() -> dict[str, str]:
    """A copy of the process environment (for secrets, and for tests to replace)."""
    return dict(os.environ)


def config_path_from_env(environ: Mapping[str, str] | None = None) -> str | None:
    """``DRIFTMON_CONFIG``: the config file a command reads when it is given none."""
    env = os.environ if environ is None else environ
    return env.get("DRIFTMON_CONFIG") or None


def current_user(environ: Mapping[str, str] | None = None) -> str | None:
    """The login name (``USER``) recorded as who acknowledged or re-baselined."""
    env = os.environ if environ is None else environ
    return env.get("USER") or None


def resolve_secret(env_name: str, what: str, environ: Mapping[str, str] | None = None) -> str:
    """Read a secret from the environment variable ``env_name``."""
    env = os.environ if environ is None else environ
    value = env.get(env_name, "")
    if not value:
        raise ConfigError(f"{what}: environment variable {env_name} is not set")
    return value


def read_toml(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The TOML file as plain data; a missing, unreadable or malformed file is a ConfigError."""
    file = Path(path)
    try:
        data = file.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"config file {file} does not exist") from None
    except IsADirectoryError:
        raise ConfigError(f"config file {file} is a directory") from None
    except OSError as exc:
        raise ConfigError(f"config file {file} cannot be read: {exc.strerror}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError(f"config file {file} is not UTF-8 text (line {line})") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {file} is not valid TOML: {exc}") from None
    except RecursionError:
        raise ConfigError(f"config file {file} is nested too deeply") from None


def load_settings(
    path: str | os.PathLike[str] | None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Read, override from the environment, and validate the settings.

    ``path=None`` means defaults only. Problems raise :class:`ConfigProblems`
    (a ConfigError) listing every problem found, each naming its key.
    """
    env = os.environ if environ is None else environ
    raw: dict[str, Any] = {} if path is None else read_toml(path)
    problems: list[str] = []
    _apply_env(raw, env, problems)
    settings = build(Settings, raw, "", problems)
    if settings is not None:
        problems += check_settings(settings)
        problems += env_problems(settings, env)
    if problems:
        raise ConfigProblems(problems)
    assert isinstance(settings, Settings)
    if path is not None:
        settings = _resolve_paths(settings, Path(path).resolve().parent)
    return settings


def _apply_env(raw: dict[str, Any], env: Mapping[str, str], problems: list[str]) -> None:
    """``DRIFTMON_<SECTION>_<KEY>`` and ``DRIFTMON_<SECTION>_<NAME>_<KEY>`` into ``raw``."""
    hints = get_type_hints(Settings)
    secrets = set(_named_variables(raw))
    for var, value in sorted(env.items()):
        if not var.startswith(ENV_PREFIX) or var in secrets:
            continue
        rest = var[len(ENV_PREFIX) :].lower()
        for section in sorted(hints, key=len, reverse=True):
            if rest.startswith(section + "_"):
                tail = rest[len(section) + 1 :]
                problem = _apply_one(raw, section, hints[section], tail, value, var)
                if problem:
                    problems.append(problem)
                break


def _named_variables(data: object) -> list[str]:
    """Values of ``*_env`` keys in the file: variables holding secrets, not overrides."""
    if isinstance(data, list):
        return [name for item in data for name in _named_variables(item)]
    if not isinstance(data, dict):
        return []
    names = [v for k, v in data.items() if str(k).endswith("_env") and isinstance(v, str)]
    return names + [n for v in data.values() for n in _named_variables(v)]


def _apply_one(
    raw: dict[str, Any], section: str, tp: Any, tail: str, value: str, var: str
) -> str | None:
    if get_origin(tp) is list:
        entries = raw.setdefault(section, [])
        return _apply_list(entries, section, get_args(tp)[0], tail, value, var)
    table = raw.setdefault(section, {})
    if not isinstance(table, dict):
        return None  # build() names the wrong type
    for name in ("sinks", "rules"):
        if section == "alerts" and tail.startswith(name + "_"):
            if name == "rules" and "rules" not in table:  # override a built-in rule
                table["rules"] = [dataclasses.asdict(r) for r in default_rules()]
            entries = table.setdefault(name, [])
            item_tp = get_args(get_type_hints(tp)[name])[0]
            return _apply_list(
                entries, f"alerts.{name}", item_tp, tail[len(name) + 1 :], value, var
            )
    keys = {f.name for f in dataclasses.fields(tp)}
    if tail not in keys:
        return f"{var}: [{section}] has no key {tail!r}"
    table[tail] = _env_value(value, get_type_hints(tp)[tail])
    return None


def _apply_list(
    entries: Any, section: str, item_tp: Any, tail: str, value: str, var: str
) -> str | None:
    keys = {f.name for f in dataclasses.fields(item_tp)}
    expected = f"expected DRIFTMON_{section.upper().replace('.', '_')}_<NAME>_<KEY>"
    if not isinstance(entries, list):
        return None  # build() names the wrong type
    best: tuple[dict[str, Any], str] | None = None
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        name = "".join(c if c.isalnum() else "_" for c in str(entry.get("name", ""))).lower()
        key = tail[len(name) + 1 :]
        if name and tail.startswith(name + "_") and key in keys:
            if best is None or len(name) > len(best[1]):
                best = (entry, name)
    if best is None:
        return f"{var}: no [[{section}]] entry and key match ({expected})"
    entry, name = best
    key = tail[len(name) + 1 :]
    entry[key] = _env_value(value, get_type_hints(item_tp)[key])
    return None


def _env_value(value: str, tp: Any) -> Any:
    if tp is bool:
        low = value.strip().lower()
        if low in {"1", "true", "yes", "on"}:
            return True
        if low in {"0", "false", "no", "off"}:
            return False
        return value
    for number in (int, float):
        if tp is number:
            try:
                return number(value)
            except ValueError:
                return value
    if get_origin(tp) is list:
        (item,) = get_args(tp)
        parts = [v.strip() for v in value.split(",") if v.strip()]
        return [_env_value(v, item) for v in parts]
    if get_origin(tp) is dict:
        pairs = [p.partition("=") for p in value.split(",") if p.strip()]
        return {k.strip(): v.strip() for k, _, v in pairs}
    return value


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
