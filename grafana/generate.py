"""Generate driftmon's Grafana dashboards: ``python grafana/generate.py [--check]``.

The dashboards are built with Grafana's Foundation SDK (``grafana-foundation-sdk``,
typed builders that follow Grafana's dashboard schema) in ``driftmon_boards/`` next
to this file, and written as JSON to ``grafana/dashboards/``. The JSON is committed;
a test fails when it differs from what this script produces, so edit the builders
and re-run it, never the JSON. The SDK is a development dependency (extra ``test``):
the agent never imports it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "dashboards"
if str(HERE) not in sys.path:  # grafana/ is a folder of files, not an installed package
    sys.path.insert(0, str(HERE))

from driftmon_boards import BOARDS  # noqa: E402


def render() -> dict[str, str]:
    """File name -> JSON text of every dashboard."""
    out: dict[str, str] = {}
    for build in BOARDS:
        board = build().json()
        out[f"{board['uid']}.json"] = json.dumps(board, indent=2, sort_keys=True) + "\n"
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate driftmon's Grafana dashboards.")
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if the committed JSON differs; write nothing"
    )
    args = parser.parse_args(argv)
    wanted = render()
    stale = sorted(
        name
        for name, text in wanted.items()
        if not (OUT / name).is_file() or (OUT / name).read_text() != text
    )
    extra = sorted(p.name for p in OUT.glob("*.json") if p.name not in wanted)
    if args.check:
        for name in stale + extra:
            sys.stderr.write(f"grafana/dashboards/{name} is out of date\n")
        return 1 if stale or extra else 0
    OUT.mkdir(exist_ok=True)
    for name in stale:
        (OUT / name).write_text(wanted[name])
    for name in extra:
        (OUT / name).unlink()
    sys.stderr.write(
        f"{len(stale)} written, {len(extra)} removed, {len(wanted) - len(stale)} unchanged\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
