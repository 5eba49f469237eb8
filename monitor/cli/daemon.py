"""``driftmon run``, ``run-once``, ``status`` and ``demo``."""

from __future__ import annotations

import argparse
import dataclasses
import errno
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from monitor.cli.common import (
    UsageError,
    bind_error,
    check_listen,
    config_path,
    open_database,
    settings,
)
from monitor.cli.logs import setup_logging

if TYPE_CHECKING:
    from monitor.config import Settings

__all__ = ["cmd_demo", "cmd_run", "cmd_run_once", "cmd_status", "run_jobs"]


def cmd_run(args: argparse.Namespace) -> int:
    from monitor.app import Agent, lock_sqlite_file

    cfg = settings(args)
    if cfg.server.enabled:
        try:
            check_listen(cfg.server.listen)
        except UsageError:  # most often the same config's daemon: say that instead
            held = lock_sqlite_file(cfg.database.url)
            if held is not None:
                held.close()
            raise
    setup_logging(cfg.agent.log_level, args.log_format)
    try:
        return Agent(cfg, config_path=config_path(args)).run_forever()
    except OSError as exc:  # the port was taken between the check and the bind
        if exc.errno not in (errno.EADDRINUSE, errno.EADDRNOTAVAIL):
            raise
        raise bind_error(cfg.server.listen, exc) from None


def cmd_run_once(args: argparse.Namespace) -> int:
    cfg = settings(args)
    setup_logging(cfg.agent.log_level, args.log_format)
    from monitor.jobs.registry import JOB_NAMES

    return run_jobs(cfg, JOB_NAMES if args.job == "cycle" else (args.job,), args.model)


def run_jobs(cfg: Settings, names: Sequence[str], model: str | None) -> int:
    """Run ``names`` once in order, print one line each; 1 if any failed, else 0."""
    from monitor.jobs.context import JobContext, default_replica
    from monitor.jobs.runner import observed_periods, run_job

    if model is not None:
        cfg.model(model)  # an unknown name is a ConfigError before anything runs
    with open_database(cfg) as db:
        ctx = JobContext(settings=cfg, db=db, replica=cfg.agent.replica_id or default_replica())
        try:
            # staleness in cron mode is judged against the cron's period: see the README
            ctx = dataclasses.replace(ctx, cron_periods=observed_periods(ctx))
            outcomes = [run_job(ctx, name, model=model) for name in names]
        finally:
            ctx.close()
    for o in outcomes:
        print(f"{o.job}: {o.status} ({o.items} items){': ' + o.message if o.message else ''}")
    return 1 if any(o.status == "failed" for o in outcomes) else 0


def cmd_status(args: argparse.Namespace) -> int:
    from monitor.clock import SystemClock
    from monitor.status import format_status, status_document
    from monitor.storage.snapshot import load_snapshot

    cfg = settings(args, say_defaults=True)
    with open_database(cfg, read_only=True) as db:
        doc = status_document(load_snapshot(db), SystemClock().now())
    print(json.dumps(doc, indent=2) if args.json else format_status(doc))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    folder = Path(args.dir) if args.dir else None
    if folder is not None and folder.exists() and not folder.is_dir():
        raise UsageError(f"--dir {folder}: exists and is not a folder")
    if args.serve:
        check_listen(args.listen, "--listen")
    from monitor.demo import run_demo

    setup_logging("error")  # the report says what happened; warnings would repeat it
    try:
        return run_demo(folder, serve=args.serve, listen=args.listen)
    except FileExistsError as exc:  # a parent of --dir is a file
        raise UsageError(f"--dir {folder}: {exc.strerror}") from None
