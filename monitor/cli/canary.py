"""``driftmon canary import / list / show / rebaseline`` and ``driftmon migrate-check``."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from monitor.cli.common import UsageError, open_database, settings, who

if TYPE_CHECKING:
    from monitor.config import Settings

__all__ = ["cmd_import", "cmd_list", "cmd_migrate_check", "cmd_rebaseline", "cmd_show"]


def cmd_import(args: argparse.Namespace) -> int:
    from monitor.clock import SystemClock
    from monitor.inputs import read_canary_set
    from monitor.storage import canaries as repo

    cfg = settings(args)
    with open_database(cfg) as db:
        now = SystemClock().now()
        for cset in cfg.canary_sets:
            items, qrels = read_canary_set(cset.path, cset.qrels)
            with db.transaction() as s:
                set_id, created = repo.import_canary_set(s, cset.name, cset.path, items, qrels, now)
            state = "imported as a new version" if created else "unchanged"
            print(
                f"{cset.name}: {len(items)} items, {len(qrels)} judgements, {state} (id {set_id})"
            )
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    cfg = settings(args, say_defaults=True)
    return _listing(cfg, [c.name for c in cfg.canary_sets], show=False)


def cmd_show(args: argparse.Namespace) -> int:
    cfg = settings(args, say_defaults=True)
    if args.name not in [c.name for c in cfg.canary_sets]:
        raise UsageError(f"no canary set named {args.name!r} in [[canary_sets]]")
    return _listing(cfg, [args.name], show=True)


def _listing(cfg: Settings, names: list[str], *, show: bool) -> int:
    from monitor.storage import canaries as repo

    with open_database(cfg, read_only=True) as db, db.read() as s:
        runs = repo.latest_canary_runs(s)
        for name in names:
            set_id = repo.latest_canary_set(s, name)
            if set_id is None:
                print(f"{name}: not imported yet (driftmon canary import)")
                continue
            items = repo.canary_items(s, set_id)
            kinds = {k: sum(i.kind == k for i in items) for k in ("query", "document")}
            print(
                f"{name}: version id {set_id}, {kinds['query']} queries, "
                f"{kinds['document']} documents"
            )
            if not show:
                continue
            for r in (r for r in runs if r.canary_set == name):
                quality = ", ".join(
                    f"{k}={v:.3f}"
                    for k, v in sorted(r.retrieval.items())
                    if k.startswith(("ndcg", "recall@10"))
                )
                print(
                    f"  {r.model}/{r.version}: {r.verdict} at "
                    f"{r.created_at.isoformat(timespec='seconds')} min cos {r.min_cosine:.5f} "
                    f"mean {r.mean_cosine:.5f} {quality}"
                )
    return 0


def cmd_rebaseline(args: argparse.Namespace) -> int:
    from monitor.jobs.canary import rebaseline
    from monitor.jobs.context import JobContext

    cfg = settings(args)
    with open_database(cfg) as db:
        ctx = JobContext(settings=cfg, db=db)
        try:
            out = rebaseline(ctx, args.model, args.set, reason=args.reason, by=who(args))
        finally:
            ctx.close()
    print(
        f"new baseline {out['baseline_id']} for {args.model} ({out['model_version']}) on "
        f"{args.set}; endpoint noise floor {out['noise_floor']:.6f}"
    )
    return 0


def cmd_migrate_check(args: argparse.Namespace) -> int:
    from monitor.jobs.context import JobContext
    from monitor.jobs.migration import format_migrate_check, migrate_check

    cfg = settings(args)
    with open_database(cfg) as db:
        ctx = JobContext(settings=cfg, db=db)
        try:
            doc = migrate_check(ctx, args.from_model, args.to_model, args.set, seed=args.seed)
        finally:
            ctx.close()
    print(json.dumps(doc, indent=2, default=str) if args.json else format_migrate_check(doc))
    return 0 if doc["verdict"] == "ready" else 1
