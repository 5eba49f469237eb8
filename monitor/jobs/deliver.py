"""The delivery worker: drains the outbox to each sink with retries and backoff."""

from __future__ import annotations

import random
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from monitor.alerting.formats import render
from monitor.alerting.payload import test_payload
from monitor.config import SinkSettings, parse_duration, resolve_secret
from monitor.errors import AlertDeliveryError, ConfigError
from monitor.jobs.context import JobContext
from monitor.storage import alerts as alerts_store

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
        timeout=parse_duration(sink.timeout).total_seconds(),
    )


def deliver_due(ctx: JobContext) -> tuple[int, dict[str, Any]]:
    """Send every due delivery once; each outcome is committed on its own."""
    sinks = {s.name: s for s in ctx.settings.alerts.sinks}
    now = ctx.clock.now()
    rng = random.Random()
    with ctx.db.read() as s:
        due = alerts_store.due_deliveries(s, now)
    sent = failed = dead = 0
    for d in due:
        sink = sinks.get(d.sink)
        status: int | None = None
        error: str | None = None
        retry_in: timedelta | None = None
        ok = False
        is_dead = False
        if sink is None:
            error, is_dead = f"sink {d.sink!r} is no longer configured", True
        else:
            try:
                url, body, secret = _request(sink, d.payload, ctx.environ)
                status = ctx.sender.send(
                    url,
                    body,
                    msg_id=d.idempotency_key,
                    secret=secret,
                    now=now,
                    timeout=parse_duration(sink.timeout).total_seconds(),
                )
                ok = True
            except (AlertDeliveryError, ConfigError) as exc:
                error = str(exc)
                status = getattr(exc, "status_code", None)
                wait = getattr(exc, "retry_after", None) or backoff(d.attempts + 1, rng)
                retry_in = timedelta(seconds=wait)
                if now + retry_in - d.created_at > parse_duration(sink.max_age) or (
                    status is not None and 400 <= status < 500 and status not in (408, 429)
                ):
                    is_dead = True
        with ctx.db.transaction() as s:
            alerts_store.mark_delivery(
                s, d.id, now, ok=ok, status=status, error=error, retry_in=retry_in, dead=is_dead
            )
        sent += ok
        dead += is_dead
        failed += not ok
    return sent, {"sent": sent, "failed": failed, "dead": dead}


def deliver_job(ctx: JobContext, _model: str | None) -> tuple[int, dict[str, Any]]:
    return deliver_due(ctx)
