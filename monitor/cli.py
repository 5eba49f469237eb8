"""`driftmon` command line: the only place that parses argv and configures logging."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from monitor import __version__
from monitor.config import (
    Settings,
    config_path_from_env,
    current_user,
    describe_settings,
    load_settings,
    settings_to_dict,
)
from monitor.errors import ConfigError, MonitorError
from monitor.jobs.registry import JOB_NAMES

__all__ = ["main"]

log = logging.getLogger("driftmon")


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("job", "run_id"):
            if hasattr(record, key):
                data[key] = getattr(record, key)
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return json.dumps(data)


class _TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        tags = " ".join(
            f"{k}={getattr(record, k)}" for k in ("job", "run_id") if hasattr(record, k)
        )
        return f"{line} [{tags}]" if tags else line


def _setup_logging(level: str, fmt: str) -> None:
    from monitor.logctx import JobLogFilter

    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(JobLogFilter())
    handler.setFormatter(
        _JsonFormatter()
        if fmt == "json"
        else _TextFormatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("httpx", "httpcore", "apscheduler", "alembic"):  # they log URLs; ours say enough
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _config_path(args: argparse.Namespace) -> str | None:
    path: str | None = getattr(args, "config", None)
    if path is None:
        env = config_path_from_env()
        if env:
            path = env
        elif Path("driftmon.toml").is_file():
            path = "driftmon.toml"
    return path


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(_config_path(args))


# --------------------------------------------------------------------------- commands


def cmd_run(args: argparse.Namespace) -> int:
    from monitor.app import Agent

    path = _config_path(args)
    settings = load_settings(path)
    _setup_logging(settings.agent.log_level, args.log_format)
    return Agent(settings, config_path=path).run_forever()


def cmd_status(args: argparse.Namespace) -> int:
    from monitor.clock import SystemClock
    from monitor.status import format_status, status_document
    from monitor.storage.engine import Database
    from monitor.storage.migrate import check_revision
    from monitor.storage.snapshot import load_snapshot

    settings = _settings(args)
    db = Database(settings.database.url)
    try:
        check_revision(db)
        doc = status_document(load_snapshot(db), SystemClock().now())
    finally:
        db.dispose()
    print(json.dumps(doc, indent=2) if args.json else format_status(doc))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from monitor.reports import Assets
    from monitor.reports.service import UnknownRun, render_report
    from monitor.storage.engine import Database
    from monitor.storage.migrate import check_revision

    settings = _settings(args)
    db = Database(settings.database.url)
    try:
        check_revision(db)
        root = settings.server.public_url.rstrip("/") + "/ui/" if settings.server.public_url else ""
        html = render_report(db, args.kind, args.run, Assets(root=root, inline=True))
    except (UnknownRun, ValueError) as exc:
        raise ConfigError(str(exc).strip("'\"")) from None
    finally:
        db.dispose()
    try:
        with open(args.output, "w", encoding="utf-8") as out:
            out.write(html)
    except OSError as exc:
        raise ConfigError(f"-o {args.output}: {exc.strerror}") from None
    print(f"wrote {args.output} ({len(html) / 1e6:.1f} MB, self-contained)")
    return 0


def cmd_run_once(args: argparse.Namespace) -> int:
    from monitor.jobs.context import JobContext, default_replica
    from monitor.jobs.runner import run_job
    from monitor.storage.engine import Database
    from monitor.storage.migrate import check_revision

    settings = _settings(args)
    _setup_logging(settings.agent.log_level, args.log_format)
    if args.model is not None:
        settings.model(args.model)
    db = Database(settings.database.url)
    check_revision(db)
    ctx = JobContext(
        settings=settings, db=db, replica=settings.agent.replica_id or default_replica()
    )
    try:
        names = JOB_NAMES if args.job == "cycle" else (args.job,)
        outcomes = [run_job(ctx, name, model=args.model) for name in names]
    finally:
        ctx.close()
        db.dispose()
    for o in outcomes:
        print(f"{o.job}: {o.status} ({o.items} items){': ' + o.message if o.message else ''}")
    return 1 if any(o.status == "failed" for o in outcomes) else 0


def cmd_db(args: argparse.Namespace) -> int:
    from monitor.storage.engine import Database, safe_url
    from monitor.storage.migrate import check_revision, current_revision, head_revision, upgrade

    settings = _settings(args)
    db = Database(settings.database.url)
    try:
        if args.db_command == "upgrade":
            before, after = upgrade(db)
            print(f"{safe_url(db.url)}: {before or 'empty'} -> {after}")
        elif args.db_command == "current":
            print(
                f"{safe_url(db.url)}: at {current_revision(db) or 'no revision'}, "
                f"code expects {head_revision(db)}"
            )
        else:
            check_revision(db)
            print(f"{safe_url(db.url)}: schema is at the code's revision {head_revision(db)}")
    finally:
        db.dispose()
    return 0


def cmd_config_check(args: argparse.Namespace) -> int:
    settings = load_settings(args.file)
    print(json.dumps(settings_to_dict(settings), indent=2))
    print(f"# {args.file}: valid", file=sys.stderr)
    return 0


def cmd_config_reference(_args: argparse.Namespace) -> int:
    print("| key | type | default | meaning |\n|---|---|---|---|")
    for key, tp, default, help_text in describe_settings():
        print(f"| `{key}` | {tp} | `{default}` | {help_text} |")
    return 0


def cmd_canary(args: argparse.Namespace) -> int:
    from monitor.canaries import read_canary_set
    from monitor.clock import SystemClock
    from monitor.storage import canaries as canaries_store
    from monitor.storage.engine import Database
    from monitor.storage.migrate import check_revision

    settings = _settings(args)
    db = Database(settings.database.url)
    try:
        check_revision(db)
        if args.canary_command == "import":
            now = SystemClock().now()
            for cset in settings.canary_sets:
                items, qrels = read_canary_set(cset.path, cset.qrels)
                with db.transaction() as s:
                    set_id, created = canaries_store.import_canary_set(
                        s, cset.name, cset.path, items, qrels, now
                    )
                state = "imported as a new version" if created else "unchanged"
                print(
                    f"{cset.name}: {len(items)} items, {len(qrels)} judgements, {state} "
                    f"(id {set_id})"
                )
        elif args.canary_command == "rebaseline":
            return _rebaseline(settings, db, args)
        else:
            names = [c.name for c in settings.canary_sets]
            if args.canary_command == "show":
                if args.name not in names:
                    raise ConfigError(f"no canary set named {args.name!r} in [[canary_sets]]")
                names = [args.name]
            with db.read() as s:
                runs = canaries_store.latest_canary_runs(s)
                for name in names:
                    latest = canaries_store.latest_canary_set(s, name)
                    if latest is None:
                        print(f"{name}: not imported yet")
                        continue
                    records = canaries_store.canary_items(s, latest)
                    kinds = {k: sum(r.kind == k for r in records) for k in ("query", "document")}
                    print(
                        f"{name}: version id {latest}, {kinds['query']} queries, "
                        f"{kinds['document']} documents"
                    )
                    if args.canary_command == "show":
                        for r in (r for r in runs if r.canary_set == name):
                            quality = ", ".join(
                                f"{k}={v:.3f}"
                                for k, v in sorted(r.retrieval.items())
                                if k.startswith(("ndcg", "recall@10"))
                            )
                            print(
                                f"  {r.model}/{r.version}: {r.verdict} at "
                                f"{r.created_at.isoformat()} min cos {r.min_cosine:.5f} "
                                f"mean {r.mean_cosine:.5f} {quality}"
                            )
    finally:
        db.dispose()
    return 0


def _rebaseline(settings: Settings, db: Any, args: argparse.Namespace) -> int:
    from monitor.jobs.canary import rebaseline
    from monitor.jobs.context import JobContext

    ctx = JobContext(settings=settings, db=db)
    try:
        out = rebaseline(
            ctx,
            args.model,
            args.set,
            reason=args.reason,
            by=args.by or current_user() or "cli",
        )
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
    from monitor.storage.engine import Database
    from monitor.storage.migrate import check_revision

    settings = _settings(args)
    db = Database(settings.database.url)
    ctx = JobContext(settings=settings, db=db)
    try:
        check_revision(db)
        doc = migrate_check(ctx, args.from_model, args.to_model, args.set, seed=args.seed)
    finally:
        ctx.close()
        db.dispose()
    if args.json:
        print(json.dumps(doc, indent=2, default=str))
    else:
        print(format_migrate_check(doc))
    return 0 if doc["verdict"] == "ready" else 1


def cmd_alerts(args: argparse.Namespace) -> int:
    from monitor.clock import SystemClock
    from monitor.config import parse_duration
    from monitor.storage import alerts as alerts_store
    from monitor.storage.engine import Database
    from monitor.storage.migrate import check_revision

    settings = _settings(args)
    if args.alerts_command == "test":
        return _alerts_test(settings, args.sink)
    db = Database(settings.database.url)
    now = SystemClock().now()
    who = getattr(args, "by", None) or current_user() or "cli"
    try:
        check_revision(db)
        if args.alerts_command == "list":
            with db.read() as s:
                rows = alerts_store.recent_alerts(s, args.limit)
                silences = alerts_store.active_silences(s, now)
            print(
                f"{'id':>5} {'state':9} {'severity':9} {'rule':28} {'fingerprint':17} "
                f"{'since':26} summary"
            )
            for a in rows:
                ack = f" (acked by {a.acknowledged_by})" if a.acknowledged_at else ""
                print(
                    f"{a.id:>5} {a.state:9} {a.severity:9} {a.rule:28} {a.fingerprint:17} "
                    f"{a.started_at.isoformat():26} {a.summary}{ack}"
                )
            for x in silences:
                shown = ",".join(f"{k}={v}" for k, v in x.matchers.items())
                print(
                    f"silence {x.id}: {shown} until {x.ends_at.isoformat()} by "
                    f"{x.created_by}: {x.comment}"
                )
        elif args.alerts_command == "silence":
            matchers = dict(_matcher(m) for m in args.match)
            try:
                ends = now + parse_duration(args.duration)
            except ValueError as exc:
                raise ConfigError(f"--for: {exc}") from None
            with db.transaction() as s:
                sid = alerts_store.add_silence(s, matchers, now, ends, who, args.comment)
            print(f"silence {sid} until {ends.isoformat()}")
        elif args.alerts_command == "unsilence":
            with db.transaction() as s:
                if not alerts_store.expire_silence(s, args.id, now):
                    raise ConfigError(f"no active silence with id {args.id}")
            print(f"silence {args.id} expired")
        else:  # ack
            with db.transaction() as s:
                alert = alerts_store.find_alert(s, args.alert)
                if alert is None:
                    raise ConfigError(f"no alert with id or fingerprint {args.alert!r}")
                alerts_store.acknowledge(s, alert.id, who, now)
            print(
                f"alert {alert.id} ({alert.rule}) acknowledged by {who}: no re-notifications "
                "until it resolves"
            )
    finally:
        db.dispose()
    return 0


def _matcher(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise ConfigError(f"--match: expected LABEL=VALUE, got {text!r}")
    return key, value


def _alerts_test(settings: Settings, sink: str) -> int:
    from monitor.jobs.context import JobContext
    from monitor.jobs.deliver import send_test
    from monitor.storage.engine import Database

    db = Database(settings.database.url)
    ctx = JobContext(settings=settings, db=db)
    try:
        status = send_test(ctx, sink)
    finally:
        ctx.close()
        db.dispose()
    print(f"test notification delivered to {sink} (HTTP {status})")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from monitor.demo import run_demo

    _setup_logging("error", "text")  # the report says what happened; warnings would repeat it
    return run_demo(Path(args.dir) if args.dir else None, serve=args.serve, listen=args.listen)


def _delegate(module: str, function: str = "main") -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        import importlib

        result: int = getattr(importlib.import_module(module), function)(args.rest)
        return result

    return run


# --------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="driftmon", description="Embedding drift monitor.")
    parser.add_argument("--version", action="version", version=f"driftmon {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def with_config(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument(
            "--config",
            "-c",
            metavar="FILE",
            help="TOML config (default: $DRIFTMON_CONFIG or ./driftmon.toml)",
        )
        return p

    def with_logs(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument(
            "--log-format",
            choices=["text", "json"],
            default="text",
            help="log line format (default: text)",
        )
        return p

    p = with_logs(with_config(sub.add_parser("run", help="run the agent daemon")))
    p.set_defaults(func=cmd_run)

    p = with_logs(
        with_config(
            sub.add_parser(
                "run-once", help="run one job and exit with its status (0 ok or skipped, 1 failed)"
            )
        )
    )
    p.add_argument(
        "job",
        choices=[*JOB_NAMES, "cycle"],
        help="the job ('cycle' runs all in order)",
    )
    p.add_argument("--model", help="only this model (canary and drift jobs)")
    p.set_defaults(func=cmd_run_once)

    p = with_config(sub.add_parser("status", help="model versions, verdicts, alerts and jobs"))
    p.add_argument("--json", action="store_true", help="print the /api/v1/status document")
    p.set_defaults(func=cmd_status)

    p = with_config(
        sub.add_parser("report", help="write a run's report as one self-contained HTML file")
    )
    p.add_argument("kind", choices=["drift", "canary", "migrate"], help="the kind of run")
    p.add_argument("run", nargs="?", default="latest", help="the run id (default: latest)")
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="the HTML file to write")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("demo", help="run the agent on synthetic traffic and report what it saw")
    p.add_argument("--dir", help="working folder (default: a new temporary folder)")
    p.add_argument(
        "--serve", action="store_true", help="keep serving /metrics afterwards until Ctrl-C"
    )
    p.add_argument("--listen", default="127.0.0.1:9108", help="address for --serve")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("db", help="database schema")
    dbsub = p.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    for name, text in (
        ("upgrade", "apply migrations up to the code's revision"),
        ("current", "show the database's and the code's revision"),
        ("check", "exit 0 only if the database is at the code's revision"),
    ):
        with_config(dbsub.add_parser(name, help=text)).set_defaults(func=cmd_db)

    p = sub.add_parser("config", help="configuration")
    csub = p.add_subparsers(dest="config_command", required=True, metavar="ACTION")
    c = csub.add_parser(
        "check", help="validate FILE and print the effective config (secrets masked)"
    )
    c.add_argument("file", metavar="FILE")
    c.set_defaults(func=cmd_config_check)
    csub.add_parser("reference", help="print every setting as a Markdown table").set_defaults(
        func=cmd_config_reference
    )

    p = sub.add_parser("canary", help="canary sets")
    ksub = p.add_subparsers(dest="canary_command", required=True, metavar="ACTION")
    with_config(ksub.add_parser("import", help="import the configured canary sets")).set_defaults(
        func=cmd_canary
    )
    with_config(ksub.add_parser("list", help="list canary sets")).set_defaults(func=cmd_canary)
    k = with_config(ksub.add_parser("show", help="a canary set's latest runs per model version"))
    k.add_argument("name")
    k.set_defaults(func=cmd_canary)
    k = with_config(ksub.add_parser("rebaseline", help="replace a model version's baseline"))
    k.add_argument("--model", required=True)
    k.add_argument("--set", required=True)
    k.add_argument("--reason", required=True, help="why (stored with the baseline)")
    k.add_argument("--by", help="who (default $USER)")
    k.set_defaults(func=cmd_canary)
    k = ksub.add_parser(
        "diff", help="compare two aligned .npy embeddings of a canary set", add_help=False
    )
    k.add_argument("rest", nargs=argparse.REMAINDER)
    k.set_defaults(func=_delegate("monitor.offline", "canary_diff_main"))

    p = sub.add_parser("retrieval", help="retrieval metrics")
    rsub = p.add_subparsers(dest="retrieval_command", required=True, metavar="ACTION")
    r = rsub.add_parser(
        "eval", help="recall/nDCG/MRR/MAP of .npy embeddings on qrels", add_help=False
    )
    r.add_argument("rest", nargs=argparse.REMAINDER)
    r.set_defaults(func=_delegate("monitor.offline", "retrieval_eval_main"))

    p = with_config(
        sub.add_parser(
            "migrate-check",
            help="is a candidate model ready to "
            "replace the current one? (exit 0 ready, 1 not ready)",
        )
    )
    p.add_argument("--from", dest="from_model", required=True, help="the serving model")
    p.add_argument("--to", dest="to_model", required=True, help="the candidate model")
    p.add_argument("--set", required=True, help="a canary set with qrels")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_migrate_check)

    p = sub.add_parser("alerts", help="alerts: list, silence, acknowledge, test a sink")
    asub = p.add_subparsers(dest="alerts_command", required=True, metavar="ACTION")
    a = with_config(asub.add_parser("list", help="recent alerts, newest first, and silences"))
    a.add_argument("--limit", type=int, default=50)
    a.set_defaults(func=cmd_alerts)
    a = with_config(asub.add_parser("silence", help="mute notifications of matching alerts"))
    a.add_argument(
        "--match",
        action="append",
        required=True,
        metavar="LABEL=VALUE",
        help="label matcher (repeatable; all must match)",
    )
    a.add_argument("--for", dest="duration", default="2h", help="how long (default 2h)")
    a.add_argument("--comment", default="", help="why")
    a.add_argument("--by", help="who (default $USER)")
    a.set_defaults(func=cmd_alerts)
    a = with_config(asub.add_parser("unsilence", help="end a silence now"))
    a.add_argument("id", type=int)
    a.set_defaults(func=cmd_alerts)
    a = with_config(asub.add_parser("ack", help="acknowledge a firing alert (stops re-sends)"))
    a.add_argument("alert", help="alert id or fingerprint (prefix)")
    a.add_argument("--by", help="who (default $USER)")
    a.set_defaults(func=cmd_alerts)
    a = with_config(asub.add_parser("test", help="send a clearly marked test notification"))
    a.add_argument("--sink", required=True, help="the sink's name")
    a.set_defaults(func=cmd_alerts)

    for name, module, text in (
        ("compare", "monitor.compare", "two-sample drift tests on two embedding files"),
        ("embed", "monitor.embed_cmd", "embed stdin lines with a configured model"),
    ):
        p = sub.add_parser(name, help=text, add_help=False)
        p.add_argument("rest", nargs=argparse.REMAINDER)
        p.set_defaults(func=_delegate(module))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result: int = args.func(args)
        return result
    except MonitorError as exc:
        print(f"driftmon: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
