"""Replay the demo's traffic against a running agent: ``python -m monitor.traffic``.

The local stack (``deploy/compose.yaml``) runs this next to the agent so its
dashboards fill and an alert fires within minutes, without an API key: it posts
batches of the demo's synthetic queries to ``POST /v1/queries`` of an ``http``
source, in real time. The traffic alternates between ordinary phases (the five
demo topics) and drift phases in which a share of the queries asks about a
product line the corpus does not cover, so ``EmbeddingQueryDrift`` fires in each
drift phase and resolves in the next ordinary one.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import numpy as np

from monitor.config import resolve_secret
from monitor.demo_data import queries
from monitor.errors import ConfigError

__all__ = ["Plan", "Sent", "drift_share_at", "main", "run"]

log = logging.getLogger("driftmon.traffic")


@dataclass(frozen=True)
class Plan:
    """What to send: ``per_minute`` queries a minute in ``batches`` requests a minute."""

    url: str
    token: str
    per_minute: int = 240
    batches_per_minute: int = 4
    normal_minutes: float = 8.0
    drift_minutes: float = 10.0
    drift_share: float = 0.3
    seed: int = 2026


@dataclass(frozen=True)
class Sent:
    """The outcome of one run: requests made and the agent's record counts."""

    requests: int
    accepted: int
    rejected: int
    failed_requests: int


def drift_share_at(plan: Plan, elapsed_minutes: float) -> float:
    """The drift share of the phase ``elapsed_minutes`` into the run (ordinary phase first)."""
    cycle = plan.normal_minutes + plan.drift_minutes
    if cycle <= 0 or plan.drift_minutes <= 0:
        return 0.0
    return plan.drift_share if elapsed_minutes % cycle >= plan.normal_minutes else 0.0


def _batch(texts: Sequence[str], now: datetime) -> bytes:
    ts = now.isoformat().replace("+00:00", "Z")
    return "".join(json.dumps({"ts": ts, "query": t}) + "\n" for t in texts).encode()


def run(
    plan: Plan,
    *,
    max_batches: int | None = None,
    stop: threading.Event | None = None,
    wait: Callable[[float], bool] | None = None,
) -> Sent:
    """Send batches until ``max_batches`` were sent or ``stop`` is set.

    ``wait`` waits between batches (default: ``stop.wait``, so a stop is prompt).
    A refused request is logged with its status and counted; the run goes on.
    """
    stop = stop or threading.Event()
    pause = wait or stop.wait
    rng = np.random.default_rng(plan.seed)
    size = max(1, plan.per_minute // max(1, plan.batches_per_minute))
    interval = 60.0 / max(1, plan.batches_per_minute)
    headers = {
        "Authorization": f"Bearer {plan.token}",
        "Content-Type": "application/x-ndjson",
    }
    start = time.monotonic()
    requests = accepted = rejected = failed = 0
    endpoint = plan.url.rstrip("/") + "/v1/queries"
    with httpx.Client(timeout=10.0) as client:
        while not stop.is_set() and (max_batches is None or requests < max_batches):
            share = drift_share_at(plan, (time.monotonic() - start) / 60.0)
            body = _batch(queries(size, rng, drift_share=share), datetime.now(UTC))
            requests += 1
            try:
                resp = client.post(endpoint, content=body, headers=headers)
            except httpx.HTTPError as exc:
                failed += 1
                log.warning("POST %s failed: %s", endpoint, type(exc).__name__)
            else:
                if resp.status_code == 202:
                    doc = resp.json()
                    accepted += int(doc.get("accepted", 0))
                    rejected += int(doc.get("rejected", 0))
                else:
                    failed += 1
                    log.warning("POST %s answered %d", endpoint, resp.status_code)
            log.info("batch %d: %d queries, drift share %.2f", requests, size, share)
            if max_batches is not None and requests >= max_batches:
                break
            pause(interval)
    return Sent(requests, accepted, rejected, failed)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m monitor.traffic", description=__doc__)
    p.add_argument("--url", default="http://127.0.0.1:9108", help="the agent's base URL")
    p.add_argument(
        "--token-env",
        default="DEMO_INGEST_TOKEN",
        help="environment variable holding the http source's bearer token",
    )
    p.add_argument("--per-minute", type=int, default=240, help="queries sent per minute")
    p.add_argument("--batches-per-minute", type=int, default=4, help="requests per minute")
    p.add_argument("--normal-minutes", type=float, default=8.0, help="length of ordinary phases")
    p.add_argument("--drift-minutes", type=float, default=10.0, help="length of drift phases")
    p.add_argument("--drift-share", type=float, default=0.3, help="share of off-topic queries")
    p.add_argument("--batches", type=int, default=None, help="stop after this many requests")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per batch is ours
    try:
        token = resolve_secret(args.token_env, "traffic: --token-env")
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    if args.per_minute < 1 or args.batches_per_minute < 1 or not 0 <= args.drift_share <= 1:
        print(
            "traffic: --per-minute and --batches-per-minute must be ≥ 1, --drift-share in [0, 1]",
            file=sys.stderr,
        )
        return 2
    plan = Plan(
        url=args.url,
        token=token,
        per_minute=args.per_minute,
        batches_per_minute=args.batches_per_minute,
        normal_minutes=args.normal_minutes,
        drift_minutes=args.drift_minutes,
        drift_share=args.drift_share,
    )
    try:
        sent = run(plan, max_batches=args.batches)
    except KeyboardInterrupt:
        return 0
    print(
        f"traffic: {sent.requests} requests, {sent.accepted} queries accepted, "
        f"{sent.rejected} rejected, {sent.failed_requests} requests failed"
    )
    return 0 if sent.failed_requests == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
