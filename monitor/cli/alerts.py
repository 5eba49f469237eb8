"""``driftmon alerts list / silence / unsilence / ack / test``."""

from __future__ import annotations

import argparse
from datetime import datetime

from monitor.cli.common import UsageError, open_database, settings, who

__all__ = ["cmd_ack", "cmd_list", "cmd_silence", "cmd_test", "cmd_unsilence"]


def _ts(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%SZ")


def cmd_list(args: argparse.Namespace) -> int:
    from monitor.clock import SystemClock
    from monitor.storage import alerts as ops

    if args.limit < 1:
        raise UsageError("--limit must be at least 1")
    with open_database(settings(args, say_defaults=True), read_only=True) as db, db.read() as s:
        rows = ops.recent_alerts(s, args.limit)
        silences = ops.active_silences(s, SystemClock().now())
    print(
        f"{'id':>5} {'state':9} {'severity':9} {'rule':28} {'fingerprint':17} "
        f"{'since (UTC)':20} summary"
    )
    for a in rows:
        ack = f" (acked by {a.acknowledged_by})" if a.acknowledged_at else ""
        print(
            f"{a.id:>5} {a.state:9} {a.severity:9} {a.rule:28} {a.fingerprint:17} "
            f"{_ts(a.started_at):20} {a.summary}{ack}"
        )
    if not rows:
        print("(no alerts yet)")
    for x in silences:
        matchers = ",".join(f"{k}={v}" for k, v in x.matchers.items())
        print(f"silence {x.id}: {matchers} until {_ts(x.ends_at)} by {x.created_by}: {x.comment}")
    return 0


def _matcher(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise UsageError(f"--match: expected LABEL=VALUE, got {text!r}")
    return key, value


def cmd_silence(args: argparse.Namespace) -> int:
    from monitor.clock import SystemClock
    from monitor.config import parse_duration
    from monitor.storage import alerts as ops

    matchers = dict(_matcher(m) for m in args.match)
    now = SystemClock().now()
    try:
        ends = now + parse_duration(args.duration)
    except ValueError as exc:
        raise UsageError(f"--for: {exc}") from None
    with open_database(settings(args)) as db, db.transaction() as s:
        sid = ops.add_silence(s, matchers, now, ends, who(args), args.comment)
    print(f"silence {sid} until {_ts(ends)}")
    return 0


def cmd_unsilence(args: argparse.Namespace) -> int:
    from monitor.clock import SystemClock
    from monitor.storage import alerts as ops

    with open_database(settings(args)) as db, db.transaction() as s:
        if not ops.expire_silence(s, args.id, SystemClock().now()):
            raise UsageError(f"no active silence with id {args.id}")
    print(f"silence {args.id} expired")
    return 0


def cmd_ack(args: argparse.Namespace) -> int:
    """Only a firing alert can be acknowledged: a pending one has sent nothing yet."""
    from monitor.clock import SystemClock
    from monitor.storage import alerts as ops

    by = who(args)
    with open_database(settings(args)) as db, db.transaction() as s:
        alert = ops.find_alert(s, args.alert)
        if alert is None:
            raise UsageError(f"no alert with id or fingerprint {args.alert!r}")
        if alert.state != "firing":
            raise UsageError(
                f"alert {alert.id} ({alert.rule}) is {alert.state}; only a firing alert "
                "can be acknowledged"
            )
        ops.acknowledge(s, alert.id, by, SystemClock().now())
    print(
        f"alert {alert.id} ({alert.rule}) acknowledged by {by}: no re-notifications "
        "until it resolves"
    )
    return 0


def cmd_test(args: argparse.Namespace) -> int:
    from monitor.jobs.context import JobContext
    from monitor.jobs.deliver import send_test

    cfg = settings(args)
    with open_database(cfg, check=False) as db:
        ctx = JobContext(settings=cfg, db=db)
        try:
            status = send_test(ctx, args.sink)
        finally:
            ctx.close()
    print(f"test notification delivered to {args.sink} (HTTP {status})")
    return 0
