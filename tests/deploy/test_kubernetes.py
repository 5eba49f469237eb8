"""examples/kubernetes/ runs as given: the ConfigMap's config passes `driftmon config
check`, every file it names is mounted from the ConfigMap, every variable is set."""

from __future__ import annotations

import subprocess
from pathlib import Path, PurePosixPath
from typing import Any

import yaml
from deploy_support import (
    AGENT_ROUTES,
    KUBE,
    ROOT,
    check_agent_env,
    listen_port,
)
from support import DRIFTMON

from monitor.config import load_settings
from monitor.inputs import read_canary_set


def docs(name: str = "driftmon.yaml") -> dict[str, dict[str, Any]]:
    return {
        f"{d['kind']}/{d['metadata']['name']}": d
        for d in yaml.safe_load_all((KUBE / name).read_text())
    }


def materialise(tmp: Path) -> tuple[Path, dict[str, str], dict[str, Any]]:
    """Write the ConfigMap's files where the Deployment mounts them (under ``tmp``).

    Returns the config file, the container's environment and the container.
    """
    d = docs()
    pod = d["Deployment/driftmon"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    for mount in container["volumeMounts"]:
        cm = volumes[mount["name"]].get("configMap")
        if cm is None:
            continue
        data = d[f"ConfigMap/{cm['name']}"]["data"]
        for item in cm["items"]:
            dest = tmp / mount["mountPath"].lstrip("/") / item["path"]
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_text(data[item["key"]])
    env: dict[str, str] = {}
    for ref in container.get("envFrom", []):
        env.update(d[f"Secret/{ref['secretRef']['name']}"]["stringData"])
    for e in container["env"]:
        env[e["name"]] = e.get("value", "driftmon-7d9f-abcde")  # fieldRef: the pod's name
    config = tmp / env["DRIFTMON_CONFIG"].lstrip("/")
    return config, env, container


def test_the_configmap_config_passes_driftmon_config_check(tmp_path: Path) -> None:
    config, env, _ = materialise(tmp_path)
    done = subprocess.run(
        [DRIFTMON, "config", "check", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": str(Path(DRIFTMON).parent), **env},
    )
    assert done.returncode == 0, done.stderr
    assert check_agent_env(env, config, "driftmon") == []


def test_every_file_the_config_names_is_mounted_and_readable(tmp_path: Path) -> None:
    config, env, _ = materialise(tmp_path)
    settings = load_settings(config, environ=env)
    assert settings.canary_sets
    for cset in settings.canary_sets:
        items, qrels = read_canary_set(cset.path, cset.qrels)
        assert items and qrels
    assert [s.kind for s in settings.sources] == ["http"]  # no host log glob
    data = docs()["ConfigMap/driftmon-config"]["data"]
    assert data["core.jsonl"] == (ROOT / "examples/canaries/core.jsonl").read_text()
    assert data["core.qrels"] == (ROOT / "examples/canaries/core.qrels").read_text()


def test_two_replicas_with_distinct_ids_probes_and_scrape_port(tmp_path: Path) -> None:
    config, env, container = materialise(tmp_path)
    d = docs()
    deploy = d["Deployment/driftmon"]
    assert deploy["spec"]["replicas"] == 2
    assert load_settings(config, environ=env).database.url.startswith("postgresql://")
    (replica,) = [e for e in container["env"] if e["name"] == "DRIFTMON_AGENT_REPLICA_ID"]
    assert replica["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"  # one per pod
    port = listen_port(load_settings(config, environ=env).server.listen)
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports["http"] == port
    for probe in ("livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"]["path"] in AGENT_ROUTES
        assert container[probe]["httpGet"]["port"] in ports
    assert container["resources"]["requests"] and container["resources"]["limits"]
    notes = deploy["spec"]["template"]["metadata"]["annotations"]
    assert int(notes["prometheus.io/port"]) == port and notes["prometheus.io/path"] in AGENT_ROUTES
    (init,) = deploy["spec"]["template"]["spec"]["initContainers"]
    assert init["args"] == ["db", "upgrade"] and init["image"] == container["image"]
    service = d["Service/driftmon"]["spec"]
    assert service["ports"][0]["targetPort"] in ports
    monitor = docs("servicemonitor.yaml")["ServiceMonitor/driftmon"]["spec"]
    assert monitor["selector"]["matchLabels"] == d["Service/driftmon"]["metadata"]["labels"]
    assert monitor["endpoints"][0]["port"] in {p["name"] for p in service["ports"]}
    assert monitor["endpoints"][0]["honorLabels"] is True


def test_the_database_url_names_the_example_postgres(tmp_path: Path) -> None:
    _, env, _ = materialise(tmp_path)
    pg = docs("postgres.yaml")
    creds = pg["Secret/postgres-secrets"]["stringData"]
    want = (
        f"postgresql://{creds['POSTGRES_USER']}:{creds['POSTGRES_PASSWORD']}@"
        f"postgres:{pg['Service/postgres']['spec']['ports'][0]['port']}/{creds['POSTGRES_DB']}"
    )
    assert env["DRIFTMON_DATABASE_URL"] == want


def test_the_config_mount_paths_are_absolute_posix() -> None:
    pod = docs()["Deployment/driftmon"]["spec"]["template"]["spec"]
    for c in [*pod["containers"], *pod["initContainers"]]:
        for m in c["volumeMounts"]:
            assert PurePosixPath(m["mountPath"]).is_absolute()
