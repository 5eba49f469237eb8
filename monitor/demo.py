"""`driftmon demo`: the agent's real jobs on synthetic traffic, with time compressed.

Phases (one sampling window is one simulated hour):

1. reference: six hours of ordinary traffic; the canary baseline is taken;
2. stable: two more ordinary hours, where nothing should alarm;
3. topic drift: two hours in which a quarter of the queries ask about a product
   line the corpus does not cover;
4. silent model change: the embedding endpoint starts returning rotated vectors
   under the same model name and settings.

A local webhook receiver checks the signature of every alert it is sent.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from monitor.alerting.webhook import verify_signature
from monitor.app import Agent
from monitor.clock import FixedClock
from monitor.config import load_settings
from monitor.demo_data import canary_set, queries, write_queries
from monitor.jobs.migration import format_migrate_check, migrate_check
from monitor.jobs.registry import JOB_NAMES
from monitor.jobs.runner import run_job
from monitor.providers import build_provider
from monitor.server import HttpServer, Request, Response
from monitor.storage.migrate import upgrade

__all__ = ["run_demo"]

SECRET_ENV = "DRIFTMON_DEMO_WEBHOOK_SECRET"
SECRET = "whsec_ZHJpZnRtb24tZGVtby1zZWNyZXQta2V5"
PER_WINDOW = 240
START = datetime(2026, 1, 5, tzinfo=UTC)
HOUR = timedelta(hours=1)

CONFIG = """\
[database]
url = "sqlite:///driftmon-demo.db"

[server]
listen = "{listen}"

[[models]]
name = "demo"
provider = "hash"
dimensions = 256

[[models]]                 # a candidate for a blue-green switch: evaluated, not monitored
name = "candidate"
provider = "hash"
dimensions = 384
seed = 11
price_per_million_tokens = 0.02
active = false

[[canary_sets]]
name = "core"
path = "canary.jsonl"
qrels = "canary.qrels"

[[sources]]
name = "search-log"
path = "queries.jsonl"
text_field = "query"
time_field = "ts"

[sampling]
window = "1h"
max_per_window = 300

[migration]
corpus_documents = 2000000
corpus_mean_tokens = 220

[drift]
reference = "rolling:6h"
alpha = 0.01
permutations = 500

[schedule]                 # one cycle is one simulated hour
sample = "1h"
canary = "1h"
drift = "1h"
alerts = "1h"
deliver = "1h"

[[alerts.sinks]]
name = "local-webhook"
url = "{webhook}"
secret_env = "{secret_env}"
"""


@dataclass
class Receiver:
    """A webhook endpoint on loopback that verifies signatures."""

    received: list[dict[str, Any]] = field(default_factory=list)
    bad_signatures: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, req: Request) -> Response:
        ok = verify_signature(SECRET, req.headers, req.body, time.time())
        with self.lock:
            if ok:
                self.received.append(json.loads(req.body))
            else:
                self.bad_signatures += 1
        return Response(204 if ok else 401, b"")


def _phase_row(
    name: str,
    drift: dict[str, Any] | None,
    canary: dict[str, Any] | None,
    fired: list[str],
    delivered: int,
) -> str:
    if drift and "tests" in drift and drift["tests"]:
        p = drift["tests"].get("mmd", {}).get("p_value")
        dv = f"{drift['verdict']:<10} mmd p={p:.3f}" if p is not None else drift["verdict"]
    else:
        dv = (drift or {}).get("verdict", "-")
    cv = "-"
    if canary:
        verdict = "baseline" if canary.get("baseline_created") else canary["verdict"]
        cv = f"{verdict:<9} min cos={canary['min_cosine']:.4f}"
    return f"{name:<22} {dv:<28} {cv:<30} {', '.join(fired) or '-':<40} {delivered}"


def run_demo(
    folder: Path | None = None, *, serve: bool = False, listen: str = "127.0.0.1:9108"
) -> int:
    started = time.perf_counter()
    work = folder or Path(tempfile.mkdtemp(prefix="driftmon-demo-"))
    work.mkdir(parents=True, exist_ok=True)
    for stale in (
        "driftmon-demo.db",
        "driftmon-demo.db-wal",
        "driftmon-demo.db-shm",
        "queries.jsonl",
    ):
        (work / stale).unlink(missing_ok=True)
    rng = np.random.default_rng(2026)
    items, qrels = canary_set(rng)
    (work / "canary.jsonl").write_text("".join(json.dumps(i) + "\n" for i in items))
    (work / "canary.qrels").write_text("\n".join(qrels) + "\n")

    receiver = Receiver()
    hook = HttpServer("127.0.0.1:0", {"/hook": receiver.handle})
    hook.start()
    (work / "driftmon.toml").write_text(
        CONFIG.format(
            listen=listen if serve else "127.0.0.1:0",
            webhook=hook.url + "/hook",
            secret_env=SECRET_ENV,
        )
    )
    settings = load_settings(work / "driftmon.toml")
    clock = FixedClock(START)
    agent = Agent(settings, clock=clock, environ={SECRET_ENV: SECRET})
    upgrade(agent.db)
    agent.server = HttpServer(settings.server.listen, agent.routes())
    agent.server.start()
    queries_file = work / "queries.jsonl"
    print(f"driftmon demo in {work} (SQLite, built-in hash embedder, webhook {hook.url}/hook)\n")
    print(f"{'phase':<22} {'query drift':<28} {'canary':<30} {'alerts fired':<40} delivered")

    def hour(drift_share: float) -> None:
        write_queries(
            queries_file, queries(PER_WINDOW, rng, drift_share=drift_share), clock.now(), HOUR
        )
        clock.advance(HOUR)

    def cycle(name: str, drift_share: float) -> dict[str, Any]:
        hour(drift_share)
        before = len(receiver.received)
        out = {o.job: o for o in (run_job(agent.ctx, j) for j in JOB_NAMES)}
        failed = [o for o in out.values() if o.status == "failed"]
        if failed:
            raise RuntimeError(f"demo job {failed[0].job} failed: {failed[0].message}")
        new = receiver.received[before:]
        fired = [f"{m['alert']['name']} ({m['event']})" for m in new]
        drift = out["drift"].details.get("demo")
        canary = out["canary"].details.get("demo/core")
        print(_phase_row(name, drift, canary, fired, len(new)))
        return {"drift": drift, "canary": canary, "alerts": new}

    for _ in range(5):
        hour(0.0)
    run_job(agent.ctx, "sample")
    report: dict[str, list[dict[str, Any]]] = {}
    report["reference"] = [cycle("reference (6 h)", 0.0)]
    report["stable"] = [cycle(f"stable, hour {i + 1}", 0.0) for i in range(2)]
    report["drift"] = [cycle(f"topic drift, hour {i + 1}", 0.25) for i in range(2)]
    model = settings.models[0]
    agent.ctx.providers[model.name] = build_provider(dataclasses.replace(model, variant="rotated"))
    report["model change"] = [cycle("silent model change", 0.0)]
    agent.ctx.providers[model.name] = build_provider(model)  # the provider rolls back
    report["rolled back"] = [cycle("provider rolled back", 0.0)]
    agent.ctx.providers[model.name] = build_provider(
        dataclasses.replace(model, variant="quantized")
    )
    report["changed again"] = [cycle("int8 re-deployment", 0.0)]

    explained = [(r["drift"] or {}).get("explanation") or {} for r in report["drift"]]
    explanation = max(explained, key=lambda e: len(e.get("emerging") or []))
    emerging = explanation.get("emerging") or []
    grew = [c for c in explanation.get("clusters", []) if c.get("status") == "grew"]
    print("\nWhy the drift phase alarmed (examples are redacted sampled queries):")
    for group in emerging[:2]:
        print(
            f"  emerging group of {group['size']} queries ({group['share']:.0%} of the window), "
            f"e.g. {group.get('examples', [])[:2]}"
        )
    for c in grew[:2]:
        print(
            f"  reference cluster {c['cluster']} grew x{c['ratio']:.1f}, "
            f"e.g. {c.get('examples', [])[:2]}"
        )
    first = report["reference"][0]["canary"] or {}
    changed = report["model change"][0]["canary"] or {}
    quality = first.get("retrieval", {})
    print(
        f"\nCanary retrieval quality of the demo model: nDCG@10 {quality.get('ndcg@10', 0):.3f}, "
        f"recall@10 {quality.get('recall@10', 0):.3f}. During the silent change its own "
        f"nDCG@10 stayed {changed.get('retrieval', {}).get('ndcg@10', 0):.3f}, but only "
        f"{changed.get('topk_overlap') or 0:.0%} of the top-10 results on the existing index "
        "survived."
    )
    print("\n" + format_migrate_check(migrate_check(agent.ctx, "demo", "candidate", "core")))
    body = agent.routes()["/metrics"](Request("GET", "/metrics", "", {}, b"")).body.decode()
    shown = [
        ln
        for ln in body.splitlines()
        if ln.startswith(
            ("driftmon_drift_detected", "driftmon_canary_min_cosine", "driftmon_alerts_active")
        )
    ]
    print(f"\n/metrics at {agent.server.url}/metrics (excerpt):")
    for line in shown:
        print("  " + line)
    delivered = len(receiver.received)
    print(
        f"\n{delivered} alerts delivered and signature-verified, "
        f"{receiver.bad_signatures} rejected; {time.perf_counter() - started:.1f}s"
    )
    print(
        f"Config and database kept in {work}; try: driftmon alerts list -c {work / 'driftmon.toml'}"
    )
    ok = _check(report, delivered)
    if serve:
        print(f"Serving {agent.server.url}/metrics until Ctrl-C")
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
    agent.server.stop()
    hook.stop()
    agent.ctx.close()
    agent.db.dispose()
    return 0 if ok else 1


def _check(report: dict[str, list[dict[str, Any]]], delivered: int) -> bool:
    """The demo's promise: quiet when stable, loud on drift and on the model change."""
    problems = []
    if any((r["drift"] or {}).get("verdict") == "drift" for r in report["stable"]):
        problems.append("drift was reported in the stable phase")
    if not any((r["drift"] or {}).get("verdict") == "drift" for r in report["drift"]):
        problems.append("the topic drift was not detected")
    if (report["model change"][0]["canary"] or {}).get("verdict") != "changed":
        problems.append("the silent model change was not detected")
    if delivered == 0:
        problems.append("no alert was delivered")
    resolved = [
        a["alert"]["name"]
        for r in report["rolled back"]
        for a in r["alerts"]
        if a["event"] == "resolved"
    ]
    if "EmbeddingSilentModelChange" not in resolved:
        problems.append("the model-change alert did not resolve after the rollback")
    if (report["changed again"][0]["canary"] or {}).get("verdict") != "changed":
        problems.append("the int8 re-deployment was not detected")
    for p in problems:
        print(f"demo: UNEXPECTED: {p}")
    return not problems
