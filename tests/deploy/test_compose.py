"""deploy/compose.yaml refers only to files, services, ports and variables that exist."""

from __future__ import annotations

import copy
import shutil
import subprocess
import tomllib
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml
from deploy_support import (
    AGENT_IMAGE,
    DEPLOY,
    ROOT,
    check_agent_env,
    container_to_host,
    grafana_variables,
    host_port,
    listen_port,
)
from support import DRIFTMON

from monitor.config import load_settings

FIXED_PORTS = {"prometheus": 9090, "alertmanager": 9093, "grafana": 3000, "postgres": 5432}


def load() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return doc


def env_of(svc: dict[str, Any]) -> dict[str, str]:
    env = svc.get("environment") or {}
    if isinstance(env, list):
        env = dict(e.split("=", 1) for e in env)
    return {str(k): str(v) for k, v in env.items()}


def mounts_of(doc: dict[str, Any], name: str) -> tuple[dict[str, Path], list[str]]:
    """(container path -> repository path) of a service's bind mounts, and problems."""
    out: dict[str, Path] = {}
    problems: list[str] = []
    for vol in doc["services"][name].get("volumes") or []:
        src, dst = vol.split(":")[:2]
        if not src.startswith((".", "/")):
            if src not in (doc.get("volumes") or {}):
                problems.append(f"{name}: named volume {src} is not declared")
            continue
        host = (DEPLOY / src).resolve()
        if not host.exists():
            problems.append(f"{name}: mounts {src}, which does not exist")
        elif ROOT not in host.parents:
            problems.append(f"{name}: mounts {src}, outside the repository")
        out[dst] = host
    return out, problems


def agent_port(doc: dict[str, Any]) -> int:
    return listen_port(env_of(doc["services"]["driftmon"])["DRIFTMON_SERVER_LISTEN"])


def service_ports(doc: dict[str, Any]) -> dict[str, int]:
    return {**FIXED_PORTS, "driftmon": agent_port(doc)}


def check_target(doc: dict[str, Any], where: str, url: str, default: int) -> list[str]:
    host, port = host_port(url, default)
    if host not in doc["services"]:
        return [f"{where}: {url} names no service"]
    if service_ports(doc).get(host) != port:
        return [f"{where}: {url} is not the port {host} listens on"]
    return []


def check_agent(doc: dict[str, Any], name: str) -> list[str]:
    svc = doc["services"][name]
    env = env_of(svc)
    mounts, problems = mounts_of(doc, name)
    config = container_to_host(mounts, env.get("DRIFTMON_CONFIG", ""))
    if config is None or not config.is_file():
        return [*problems, f"{name}: DRIFTMON_CONFIG is not a mounted file"]
    problems += check_agent_env(env, config, name)
    if problems:
        return problems
    settings = load_settings(config, environ=env)
    inside = PurePosixPath(env["DRIFTMON_CONFIG"]).parent
    for cset in settings.canary_sets:
        for path in (cset.path, cset.qrels):
            rel = Path(path).relative_to(config.parent)  # resolved against the host copy
            host = container_to_host(mounts, str(inside / rel))
            if host is None or not host.is_file():
                problems.append(f"{name}: canary file {inside / rel} is not mounted")
    for sink in settings.alerts.sinks:
        problems += check_target(doc, f"{name}: sink {sink.name}", sink.url, 80)
    db = env["DRIFTMON_DATABASE_URL"]
    problems += check_target(doc, f"{name}: DRIFTMON_DATABASE_URL", db, 5432)
    pg = env_of(doc["services"]["postgres"])
    want = f"{pg['POSTGRES_USER']}:{pg['POSTGRES_PASSWORD']}@"
    if want not in db or not db.endswith("/" + pg["POSTGRES_DB"]):
        problems.append(f"{name}: DRIFTMON_DATABASE_URL does not match the postgres service")
    return problems


def check_traffic(doc: dict[str, Any]) -> list[str]:
    svc = doc["services"]["traffic"]
    args = dict(zip(svc["command"][::2], svc["command"][1::2], strict=True))
    problems = check_target(doc, "traffic: --url", args["--url"], 80)
    agent_env = env_of(doc["services"]["driftmon"])
    token = args["--token-env"]
    if env_of(svc).get(token) is None or env_of(svc).get(token) != agent_env.get(token):
        problems.append(f"traffic: {token} differs from the agent's")
    return problems


def check_prometheus(doc: dict[str, Any]) -> list[str]:
    mounts, problems = mounts_of(doc, "prometheus")
    cfg_file = container_to_host(mounts, "/etc/prometheus/prometheus.yml")
    if cfg_file is None or not cfg_file.is_file():
        return [*problems, "prometheus: no prometheus.yml mounted"]
    cfg = yaml.safe_load(cfg_file.read_text())
    for rule in cfg["rule_files"]:
        host = container_to_host(mounts, rule)
        if host is None or not host.is_file():
            problems.append(f"prometheus: rule file {rule} is not mounted")
    scrape = {j["job_name"]: j for j in cfg["scrape_configs"]}
    job = scrape.get("driftmon")
    if job is None or job.get("honor_labels") is not True:
        problems.append("prometheus: no scrape job 'driftmon' with honor_labels: true")
    for j in scrape.values():
        for target in (t for sc in j["static_configs"] for t in sc["targets"]):
            problems += check_target(doc, "prometheus: scrape target", target, 80)
    for am in cfg["alerting"]["alertmanagers"]:
        for target in (t for sc in am["static_configs"] for t in sc["targets"]):
            problems += check_target(doc, "prometheus: alertmanager", target, 80)
    return problems


def check_grafana(doc: dict[str, Any]) -> list[str]:
    env = env_of(doc["services"]["grafana"])
    mounts, problems = mounts_of(doc, "grafana")
    problems += [f"grafana: {v} is not set" for v in sorted(grafana_variables() - set(env))]
    problems += [
        f"grafana: {v} is read by nothing in grafana/provisioning"
        for v in sorted(set(env) - grafana_variables())
        if v.startswith("DRIFTMON_")
    ]
    problems += check_target(doc, "grafana", env.get("DRIFTMON_PROMETHEUS_URL", ""), 80)
    problems += check_target(doc, "grafana", "//" + env.get("DRIFTMON_PG_HOST", ""), 5432)
    prov = yaml.safe_load((ROOT / "grafana/provisioning/dashboards/driftmon.yaml").read_text())
    folder = container_to_host(mounts, prov["providers"][0]["options"]["path"])
    if folder != (ROOT / "grafana" / "dashboards").resolve():
        problems.append("grafana: the provisioned dashboard path is not grafana/dashboards")
    home = container_to_host(mounts, env.get("GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH", "/"))
    if home is None or not home.is_file():
        problems.append("grafana: the home dashboard is not a mounted file")
    return problems


def compose_problems(doc: dict[str, Any]) -> list[str]:
    services = doc["services"]
    problems: list[str] = []
    for name, svc in services.items():
        for dep in svc.get("depends_on") or []:
            if dep not in services:
                problems.append(f"{name}: depends on {dep}, which is not a service")
        for spec in svc.get("ports") or []:
            inside = int(str(spec).rsplit(":", 1)[1])
            if service_ports(doc).get(name) != inside:
                problems.append(f"{name}: publishes {inside}, which it does not listen on")
        if "build" in svc:
            ctx = (DEPLOY / svc["build"]["context"]).resolve()
            if not (ctx / svc["build"]["dockerfile"]).is_file():
                problems.append(f"{name}: no Dockerfile at {ctx}")
        if svc.get("image") == AGENT_IMAGE and "entrypoint" not in svc:
            problems += check_agent(doc, name)
        else:
            problems += mounts_of(doc, name)[1]
    return [*problems, *check_traffic(doc), *check_prometheus(doc), *check_grafana(doc)]


def test_the_compose_file_has_no_dangling_reference() -> None:
    doc = load()
    assert {"postgres", "migrate", "driftmon", "traffic", "prometheus", "alertmanager"} <= set(
        doc["services"]
    )
    assert "grafana" in doc["services"]
    assert compose_problems(doc) == []
    agents = [n for n, s in doc["services"].items() if s.get("image") == AGENT_IMAGE]
    assert sorted(agents) == ["driftmon", "migrate", "traffic"]


def _mutate(doc: dict[str, Any], how: str) -> None:
    s = doc["services"]
    if how == "missing file":
        s["prometheus"]["volumes"][0] = "./no-such-prometheus.yml:/etc/prometheus/prometheus.yml"
    elif how == "unknown variable":
        s["driftmon"]["environment"]["DRIFTMON_SERVER_LISTN"] = "0.0.0.0:9108"
    elif how == "unknown service":
        s["driftmon"]["depends_on"]["alertmanagr"] = {"condition": "service_started"}
    elif how == "wrong port":
        s["grafana"]["ports"] = ["127.0.0.1:3000:3001"]
    elif how == "dangling url":
        s["grafana"]["environment"]["DRIFTMON_PROMETHEUS_URL"] = "http://prom:9090"
    elif how == "unset secret":
        del s["driftmon"]["environment"]["DEMO_INGEST_TOKEN"]
    elif how == "unmounted canaries":
        s["driftmon"]["volumes"] = s["driftmon"]["volumes"][:1]


@pytest.mark.parametrize(
    "how",
    [
        "missing file",
        "unknown variable",
        "unknown service",
        "wrong port",
        "dangling url",
        "unset secret",
        "unmounted canaries",
    ],
)
def test_a_dangling_reference_is_reported(how: str) -> None:
    doc = copy.deepcopy(load())
    _mutate(doc, how)
    assert compose_problems(doc), how


def test_the_stack_config_is_valid_for_the_agent(tmp_path: Path) -> None:
    """The agent's config (with the compose environment) passes `driftmon config check`."""
    env = {
        k: v
        for k, v in yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]["driftmon"][
            "environment"
        ].items()
    }
    shutil.copy(DEPLOY / "driftmon.toml", tmp_path / "driftmon.toml")
    # config check reads the files the config names; compose mounts examples/canaries there
    shutil.copytree(DEPLOY.parent / "examples" / "canaries", tmp_path / "canaries")
    done = subprocess.run(
        [
            DRIFTMON,
            "config",
            "check",
            str(tmp_path / "driftmon.toml"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": str(Path(DRIFTMON).parent), **env},
    )
    assert done.returncode == 0, done.stderr
    assert "0.0.0.0:9108" in done.stdout
    assert tomllib.loads((DEPLOY / "driftmon.toml").read_text())["sources"][0]["kind"] == "http"


def test_alertmanager_config_passes_amtool() -> None:
    amtool = shutil.which("amtool")
    assert amtool, "amtool comes with Debian's prometheus-alertmanager (.ci/run installs it)"
    done = subprocess.run(
        [amtool, "check-config", str(DEPLOY / "alertmanager.yml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
