"""``driftmon report KIND [RUN] -o FILE``: one stored run as a self-contained HTML file."""

from __future__ import annotations

import argparse

from monitor.cli.common import UsageError, open_database, settings

__all__ = ["cmd_report"]


def cmd_report(args: argparse.Namespace) -> int:
    from monitor.reports import Assets
    from monitor.reports.service import UnknownRun, render_report

    cfg = settings(args, say_defaults=True)
    public = cfg.server.public_url
    root = public.rstrip("/") + "/ui/" if public else ""
    with open_database(cfg, read_only=True) as db:
        try:
            html = render_report(db, args.kind, args.run, Assets(root=root, inline=True))
        except (UnknownRun, ValueError) as exc:
            raise UsageError(str(exc).strip("'\""), prog="driftmon report") from None
    try:
        with open(args.output, "w", encoding="utf-8") as out:
            out.write(html)
    except OSError as exc:
        raise UsageError(f"-o {args.output}: {exc.strerror}", prog="driftmon report") from None
    print(f"wrote {args.output} ({len(html) / 1e6:.1f} MB, self-contained)")
    return 0
