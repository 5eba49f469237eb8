"""Reference checks shared by the deploy tests: every path, port, service and variable
a deployment file names must be one the repository and the agent actually have."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from monitor.config import Settings, describe_settings, load_settings
from monitor.config.loader import ENV_PREFIX
from monitor.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
KUBE = ROOT / "examples" / "kubernetes"
AGENT_IMAGE = "driftmon:local"
AGENT_ROUTES = {"/metrics", "/healthz", "/readyz", "/v1/queries", "/api/v1/status"}


def agent_variables(config: dict[str, Any]) -> set[str]:
    """Every DRIFTMON_* variable the config loader reads, from its own key list.

    Sections map to ``DRIFTMON_<SECTION>_<KEY>``; list entries to
    ``DRIFTMON_<SECTION>_<NAME>_<KEY>`` for the entries ``config`` names. The CLI
    itself reads ``DRIFTMON_CONFIG`` (the config file's path).
    """
    out = {ENV_PREFIX + "CONFIG"}
    for key, *_ in describe_settings():
        parts = key.split(".")
        if "[]" in parts[0]:
            section = parts[0].removesuffix("[]")
            for entry in config.get(section, []):
                name = str(entry.get("name", "")).replace("-", "_")
                out.add(f"{ENV_PREFIX}{section}_{name}_{parts[1]}".upper())
        elif len(parts) == 2:
            out.add(f"{ENV_PREFIX}{parts[0]}_{parts[1]}".upper())
    return out


def check_agent_env(env: dict[str, str], config_file: Path, where: str) -> list[str]:
    """Problems with an agent container's environment against its config file."""
    problems: list[str] = []
    raw = tomllib.loads(config_file.read_text())
    known = agent_variables(raw)
    for var in sorted(env):
        if var.startswith(ENV_PREFIX) and var not in known:
            problems.append(f"{where}: {var} is not a variable the agent reads")
    try:
        settings = load_settings(config_file, environ=env)
    except ConfigError as exc:
        return [*problems, f"{where}: the config does not load with this environment: {exc}"]
    problems += [
        f"{where}: {what} names {name}, which is not set"
        for what, name in secret_names(settings)
        if name not in env
    ]
    return problems


def secret_names(settings: Settings) -> list[tuple[str, str]]:
    """(setting, variable) of every ``*_env`` setting that names a variable."""
    out = [(f"models.{m.name}.api_key_env", m.api_key_env) for m in settings.models]
    out += [(f"sources.{s.name}.token_env", s.token_env) for s in settings.sources]
    out += [(f"sources.{s.name}.url_env", s.url_env) for s in settings.sources]
    for k in ("url_env", "secret_env", "routing_key_env"):
        out += [(f"alerts.sinks.{s.name}.{k}", getattr(s, k)) for s in settings.alerts.sinks]
    return [(what, name) for what, name in out if name]


def listen_port(listen: str) -> int:
    return int(listen.rsplit(":", 1)[1])


def host_port(url: str, default: int) -> tuple[str, int]:
    parts = urlsplit(url if "//" in url else "//" + url)
    return parts.hostname or "", parts.port or default


def container_to_host(mounts: dict[str, Path], path: str) -> Path | None:
    """The repository file a container path comes from through ``mounts`` (None: unmounted)."""
    target = PurePosixPath(path)
    for inside, host in sorted(mounts.items(), key=lambda kv: -len(kv[0])):
        try:
            rel = target.relative_to(inside)
        except ValueError:
            continue
        return host / rel if str(rel) != "." else host
    return None


def grafana_variables() -> set[str]:
    """The ${VARIABLES} grafana/provisioning reads from Grafana's environment."""
    found: set[str] = set()
    for f in (ROOT / "grafana" / "provisioning").rglob("*.yaml"):
        for line in f.read_text().splitlines():
            if not line.lstrip().startswith("#"):
                found |= set(re.findall(r"\$\{([A-Z0-9_]+)\}", line))
    return found
