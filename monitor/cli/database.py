"""``driftmon db …`` and ``driftmon config …``."""

from __future__ import annotations

import argparse
import json
import sys

from monitor.cli.common import open_database, settings

__all__ = [
    "cmd_check",
    "cmd_config_check",
    "cmd_config_reference",
    "cmd_current",
    "cmd_downgrade",
    "cmd_upgrade",
]


def cmd_upgrade(args: argparse.Namespace) -> int:
    from monitor.storage.engine import safe_url
    from monitor.storage.migrate import upgrade

    with open_database(settings(args), check=False) as db:
        before, after = upgrade(db)
        print(f"{safe_url(db.url)}: {before or 'empty'} -> {after}")
    return 0


def cmd_downgrade(args: argparse.Namespace) -> int:
    from monitor.storage.engine import safe_url
    from monitor.storage.migrate import downgrade

    with open_database(settings(args), read_only=True, check=False) as db:
        before, after = downgrade(db, args.revision)
        print(f"{safe_url(db.url)}: {before or 'empty'} -> {after}")
    return 0


def cmd_current(args: argparse.Namespace) -> int:
    from monitor.storage.engine import safe_url
    from monitor.storage.migrate import current_revision, head_revision

    with open_database(settings(args, say_defaults=True), read_only=True, check=False) as db:
        print(
            f"{safe_url(db.url)}: at {current_revision(db) or 'no revision'}, "
            f"code expects {head_revision(db)}"
        )
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from monitor.storage.engine import safe_url
    from monitor.storage.migrate import head_revision

    with open_database(settings(args, say_defaults=True), read_only=True) as db:
        print(f"{safe_url(db.url)}: schema is at the code's revision {head_revision(db)}")
    return 0


def cmd_config_check(args: argparse.Namespace) -> int:
    from monitor.config import load_settings, settings_to_dict

    cfg = load_settings(args.file)
    print(json.dumps(settings_to_dict(cfg), indent=2))
    print(f"# {args.file}: valid", file=sys.stderr)
    return 0


def cmd_config_reference(_args: argparse.Namespace) -> int:
    from monitor.config import describe_settings

    print("| key | type | default | meaning |\n|---|---|---|---|")
    for key, tp, default, help_text in describe_settings():
        print(f"| `{key}` | {tp} | `{default}` | {help_text} |")
    return 0
