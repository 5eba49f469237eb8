"""The delivery worker: drains the outbox to each sink with retries and backoff."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from monitor.alerting.webhook import WebhookSender
from monitor.config import parse_duration, resolve_secret
from monitor.errors import AlertDeliveryError, ConfigError
from monitor.storage import operations as ops

if TYPE_CHECKING:
    from monitor.jobs import JobContext

__all__ = ["backoff", "deliver_due"]

BASE_DELAY = 10.0
MAX_DELAY = 3600.0


def backoff(attempt: int, rng: random.Random) -> float:
    """Seconds before retry ``attempt`` (1-based): exponential with full jitter."""
    cap = min(MAX_DELAY, BASE_DELAY * 2 ** (attempt - 1))
    return cap / 2 + rng.random() * cap / 2


def deliver_due(ctx: JobContext) -> tuple[int, dict[str, Any]]:
    """Send every due delivery once; each outcome is committed on its own."""
    sinks = {s.name: s for s in ctx.settings.alerts.sinks}
    if ctx.sender is None:
        ctx.sender = WebhookSender()
    now = ctx.clock.now()
    rng = random.Random()
    with ctx.db.read() as s:
        due = ops.due_deliveries(s, now)
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
                url = sink.url or resolve_secret(sink.url_env, f"alerts.sinks.{sink.name}.url_env",
                                                 ctx.environ)
                secret = (resolve_secret(sink.secret_env,
                                         f"alerts.sinks.{sink.name}.secret_env", ctx.environ)
                          if sink.secret_env else None)
                status = ctx.sender.send(url, d.payload, msg_id=d.idempotency_key,
                                         secret=secret, now=now,
                                         timeout=parse_duration(sink.timeout).total_seconds())
                ok = True
            except (AlertDeliveryError, ConfigError) as exc:
                error = str(exc)
                status = getattr(exc, "status_code", None)
                wait = getattr(exc, "retry_after", None) or backoff(d.attempts + 1, rng)
                retry_in = timedelta(seconds=wait)
                if now + retry_in - d.created_at > parse_duration(sink.max_age) or (
                        status is not None and 400 <= status < 500 and status not in (408, 429)):
                    is_dead = True
        with ctx.db.transaction() as s:
            ops.mark_delivery(s, d.id, now, ok=ok, status=status, error=error,
                              retry_in=retry_in, dead=is_dead)
        sent += ok
        dead += is_dead
        failed += not ok
    return sent, {"sent": sent, "failed": failed, "dead": dead}
