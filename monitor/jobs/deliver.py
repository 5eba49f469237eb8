"""The delivery worker: drains the outbox to each sink with retries and backoff."""

from __future__ import annotations

import random
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from monitor.alerting.formats import render
from monitor.alerting.payload import test_payload
from monitor.config import SinkSettings, resolve_secret
from monitor.domain import DeliveryRecord
from monitor.errors import AlertDeliveryError, ConfigError
from monitor.jobs.context import JobContext
from monitor.storage import alerts as alerts_store
from monitor.storage import outbox

__all__ = ["backoff", "deliver_due", "deliver_job", "send_test"]

BASE_DELAY = 10.0
MAX_DELAY = 3600.0


def backoff(attempt: int, rng: random.Random) -> float:
    """Seconds before retry ``attempt`` (1-based): exponential with full jitter."""
    cap = min(MAX_DELAY, BASE_DELAY * 2.0 ** (attempt - 1))
    return cap / 2 + rng.random() * cap / 2


def _request(
    sink: SinkSettings, payload: Mapping[str, Any], environ: Mapping[str, str] | None
) -> tuple[str, Any, str | None]:
    """(URL, body in the sink's format, signing secret) for one delivery."""
    where = f"alerts.sinks.{sink.name}"
    url = sink.url or (
        resolve_secret(sink.url_env, f"{where}.url_env", environ) if sink.url_env else ""
    )
    key = (
        resolve_secret(sink.routing_key_env, f"{where}.routing_key_env", environ)
        if sink.kind == "pagerduty"
        else ""
    )
    target, body = render(sink.kind, payload, url, key)
    secret = (
        resolve_secret(sink.secret_env, f"{where}.secret_env", environ) if sink.secret_env else None
    )
    return target, body, secret


def send_test(ctx: JobContext, sink_name: str) -> int:
    """Send a clearly marked test notification to one sink now; returns the HTTP status."""
    sinks = {s.name: s for s in ctx.settings.alerts.sinks}
    if sink_name not in sinks:
        raise ConfigError(
            f"no sink named {sink_name!r} in [[alerts.sinks]] "
            f"(known: {', '.join(sorted(sinks)) or 'none'})"
        )
    sink = sinks[sink_name]
    now = ctx.clock.now()
    payload = test_payload(now)
    url, body, secret = _request(sink, payload, ctx.environ)
    return ctx.sender.send(
        url,
        body,
        msg_id=f"msg_test_{int(now.timestamp())}",
        secret=secret,
        now=now,
        timeout=sink.timeout.total_seconds(),
    )


#: deliveries one sink is sent per run
PER_SINK = 100
#: sinks drained at the same time, each in its own thread
PARALLEL_SINKS = 8
#: a claimed delivery is out of other workers' reach for its sink's timeout plus this
CLAIM_MARGIN = timedelta(seconds=60)


@dataclass(frozen=True)
class _Attempt:
    ok: bool
    dead: bool
    status: int | None = None
    error: str | None = None
    retry_in: timedelta | None = None


def deliver_due(ctx: JobContext) -> tuple[int, dict[str, Any]]:
    """Send the due deliveries, each sink in its own thread; each outcome is committed on its own.

    Every delivery is claimed before it is sent, so two workers (the daemon and a
    ``run-once cycle``) never send the same one. A sink that does not answer
    (timeout, refused connection) is left for the next run after its first such
    failure, so a hanging sink costs one timeout per run and delays no other sink.
    """
    sinks = {s.name: s for s in ctx.settings.alerts.sinks}
    with ctx.db.read() as s:
        names = outbox.due_sinks(s, ctx.clock.now())
    totals = {"sent": 0, "failed": 0, "dead": 0}
    if not names:
        return 0, totals
    with ThreadPoolExecutor(
        max_workers=min(len(names), PARALLEL_SINKS), thread_name_prefix="driftmon-deliver"
    ) as pool:
        for counts in pool.map(lambda name: _drain(ctx, name, sinks.get(name)), names):
            for k, v in counts.items():
                totals[k] += v
    return totals["sent"], totals


def _drain(ctx: JobContext, name: str, sink: SinkSettings | None) -> dict[str, int]:
    rng = random.Random()
    counts = {"sent": 0, "failed": 0, "dead": 0}
    hold = (sink.timeout.delta if sink is not None else timedelta(0)) + CLAIM_MARGIN
    for _ in range(PER_SINK):
        now = ctx.clock.now()
        with ctx.db.transaction() as s:
            d = outbox.claim_delivery(s, name, now, now + hold)
        if d is None:
            break
        attempt = _attempt(ctx, sink, d, now, rng)
        with ctx.db.transaction() as s:
            alerts_store.mark_delivery(
                s,
                d.id,
                now,
                ok=attempt.ok,
                status=attempt.status,
                error=attempt.error,
                retry_in=attempt.retry_in,
                dead=attempt.dead,
            )
        counts["sent"] += attempt.ok
        counts["dead"] += attempt.dead
        counts["failed"] += not attempt.ok
        if not attempt.ok and attempt.status is None and not attempt.dead:
            break  # no answer at all: the rest of this sink waits for the next run
    return counts


def _attempt(
    ctx: JobContext, sink: SinkSettings | None, d: DeliveryRecord, now: datetime, rng: random.Random
) -> _Attempt:
    """Send one delivery; the outcome and, on failure, when to retry."""
    if sink is None:
        return _Attempt(ok=False, dead=True, error=f"sink {d.sink!r} is no longer configured")
    try:
        url, body, secret = _request(sink, d.payload, ctx.environ)
        status = ctx.sender.send(
            url,
            body,
            msg_id=d.idempotency_key,
            secret=secret,
            now=now,
            timeout=sink.timeout.total_seconds(),
        )
        return _Attempt(ok=True, dead=False, status=status)
    except (AlertDeliveryError, ConfigError) as exc:
        code: int | None = getattr(exc, "status_code", None)
        wait = getattr(exc, "retry_after", None) or backoff(d.attempts + 1, rng)
        retry_in = timedelta(seconds=wait)
        dead = now + retry_in - d.created_at > sink.max_age.delta or (
            code is not None and 400 <= code < 500 and code not in (408, 429)
        )
        return _Attempt(ok=False, dead=dead, status=code, error=str(exc), retry_in=retry_in)


def deliver_job(ctx: JobContext, _model: str | None) -> tuple[int, dict[str, Any]]:
    return deliver_due(ctx)
