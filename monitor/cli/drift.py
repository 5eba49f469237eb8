"""``driftmon drift show [RUN]`` and ``driftmon drift run --model NAME``."""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import asdict
from datetime import datetime
from typing import TYPE_CHECKING, Any

from monitor.cli.common import UsageError, open_database, settings
from monitor.cli.daemon import run_jobs
from monitor.cli.logs import setup_logging

if TYPE_CHECKING:
    from monitor.storage.drift import DriftRunDetail

__all__ = ["cmd_run", "cmd_show"]


def cmd_run(args: argparse.Namespace) -> int:
    cfg = settings(args)
    setup_logging(cfg.agent.log_level)
    code = run_jobs(cfg, ("drift",), args.model)
    print("see: driftmon drift show" + (f" -c {args.config}" if args.config else ""))
    return code


def _verdict_family(run: DriftRunDetail) -> list[dict[str, Any]]:
    """The tests that decided the verdict, with their Holm-adjusted p-values."""
    from monitor.stats.suite import PRIMARY_TESTS, holm_adjust

    with_p = {n: t["p_value"] for n, t in run.tests.items() if t["p_value"] is not None}
    if "combined" in with_p:  # the maxt-permutation verdict: one exact test decides
        p = float(with_p["combined"])
        return [{"test": "combined", "p_value": p, "holm_p_value": p, "rejects": p <= run.alpha}]
    family = [n for n in PRIMARY_TESTS if n in with_p] or list(with_p)
    adjusted = holm_adjust([float(with_p[n]) for n in family]) if family else []
    return [
        {"test": n, "p_value": with_p[n], "holm_p_value": a, "rejects": a <= run.alpha}
        for n, a in zip(family, adjusted, strict=True)
    ]


def _num(value: float | None, width: int = 10) -> str:
    if value is None or not math.isfinite(value):
        return "-".rjust(width)
    if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e5):
        return f"{value:.2e}".rjust(width)
    return f"{value:.4f}".rjust(width)


def _ts(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%SZ")


def _text(run: DriftRunDetail, family: list[dict[str, Any]]) -> str:
    lines = [
        f"drift run {run.id}: {run.model}/{run.version}, stored {_ts(run.created_at)}",
        f"window {_ts(run.window_start)} .. {_ts(run.window_end)} (n={run.n_cur}) vs reference "
        f"{_ts(run.reference_start)} .. {_ts(run.reference_end)} (n={run.n_ref})",
        f"verdict: {run.verdict.upper().replace('_', ' ')}",
    ]
    if not run.tests:
        lines.append("too few queries on a side (drift.min_samples); no test was run")
        return "\n".join(lines)
    names = ", ".join(f["test"] for f in family)
    if names == "combined":
        lines.append(
            f"how: policy {run.policy}: one permutation test of the largest standardised "
            f"statistic of mmd, knn and isolation at alpha {run.alpha:g}; drift iff its "
            f"p-value <= alpha (seed {run.seed})"
        )
    else:
        lines.append(
            f"how: policy {run.policy or 'holm-primary'}: Holm's step-down over {names} at "
            f"alpha {run.alpha:g}; drift iff an adjusted p-value <= alpha (seed {run.seed})"
        )
    for f in family:
        lines.append(
            f"  {f['test']:<12} p={_num(f['p_value']).strip()}  Holm-adjusted "
            f"{_num(f['holm_p_value']).strip()}  {'rejects' if f['rejects'] else 'does not reject'}"
        )
    lines += ["", f"{'test':<22}{'statistic':>10} {'p-value':>10} {'threshold':>10}  drift"]
    for name, t in run.tests.items():
        lines.append(
            f"{name:<22}{_num(t['statistic'])} {_num(t['p_value'])} {_num(t['threshold'])}  "
            f"{'yes' if t['drift'] else 'no'}"
        )
    lines.append("(per-test 'drift' is unadjusted, a diagnostic; the verdict is Holm's)")
    lines += _explanation(run.explanation)
    return "\n".join(lines)


def _explanation(ex: dict[str, Any] | None) -> list[str]:
    if not ex:
        return []
    emerging = ex.get("emerging", [])
    lines = [
        "",
        f"explanation: {ex.get('k')} reference clusters (chi-square p={ex.get('p_value', 0):.3g}),"
        f" {ex.get('novel_share', 0):.1%} of the window novel, {len(emerging)} emerging group(s)",
    ]
    for c in ex.get("clusters", []):
        if c.get("status") == "stable":
            continue
        lines.append(
            f"  cluster {c['cluster']} {c['status']}: {c['ref_share']:.1%} -> {c['cur_share']:.1%}"
            + (f"; examples {json.dumps(c['examples'])}" if c.get("examples") else "")
        )
    for g in emerging:
        lines.append(
            f"  emerging group {g['group']}: {g['size']} queries ({g['share']:.1%}), max cosine "
            f"to the reference {g['max_cosine_to_ref']:.2f}; examples {json.dumps(g['examples'])}"
        )
    return lines


def cmd_show(args: argparse.Namespace) -> int:
    from monitor.storage.drift import drift_run_detail

    with open_database(settings(args, say_defaults=True), read_only=True) as db, db.read() as s:
        run = drift_run_detail(s, args.run)
    if run is None:
        if args.run is not None:
            raise UsageError(f"no drift run with id {args.run}")
        print("no drift run yet: run 'driftmon run-once cycle' or 'driftmon drift run'")
        return 0
    family = _verdict_family(run) if run.tests else []
    if args.json:
        doc = {**asdict(run), "verdict_family": family}
        print(json.dumps(doc, indent=2, default=lambda v: v.isoformat()))
    else:
        print(_text(run, family))
    return 0
