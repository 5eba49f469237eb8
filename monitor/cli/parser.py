"""The one argparse tree of every ``driftmon`` command; handlers are imported when run.

Building the tree imports nothing beyond argparse, so ``--version`` and ``-h`` stay fast.
"""

from __future__ import annotations

import argparse
from typing import Any, NoReturn

from monitor.cli.common import UsageError

__all__ = ["COMPARE_TESTS", "JOB_CHOICES", "build_parser"]

#: mirrors monitor.stats.ALL_TESTS (a test checks) so the parser needs no scipy
COMPARE_TESTS = (
    "mmd, energy, centroid, ks, cvm, classifier, psi_norm, psi_centroid_cosine, "
    "psi_nn_similarity, frechet, geometry, novelty"
)
#: mirrors monitor.app.CYCLE plus 'cycle' (a test checks)
JOB_CHOICES = ("sample", "canary", "drift", "alerts", "deliver", "prune", "cycle")
CONFIG_HELP = "TOML config (default: $DRIFTMON_CONFIG, else ./driftmon.toml)"


class _Version(argparse.Action):
    """``--version``: reads the installed distribution's version only when asked."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, help="print the version and exit")

    def __call__(self, parser: argparse.ArgumentParser, *_args: Any, **_kw: Any) -> None:
        import monitor

        print(f"driftmon {monitor.__version__}")
        parser.exit()


class Parser(argparse.ArgumentParser):
    """An argument parser whose mistakes are a :class:`UsageError` (one line, exit 2)."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} -h')", prog=self.prog)


def _cmd(
    sub: Any, name: str, handler: str, text: str, *, config: bool = True, **kwargs: Any
) -> Parser:
    """A command (or action) whose handler is ``module:function`` under monitor.cli."""
    p: Parser = sub.add_parser(name, help=text, description=text, **kwargs)
    p.set_defaults(handler=handler, command_prog=p.prog)
    if config:
        p.add_argument("-c", "--config", metavar="FILE", help=CONFIG_HELP)
    return p


def _group(sub: Any, name: str, text: str, dest: str) -> Any:
    p = sub.add_parser(name, help=text, description=text)
    return p.add_subparsers(dest=dest, required=True, metavar="ACTION", parser_class=Parser)


def _json(p: Parser, text: str = "print one JSON object") -> None:
    p.add_argument("--json", action="store_true", help=text)


def _daemon(sub: Any) -> None:
    p = _cmd(sub, "run", "daemon:cmd_run", "run the agent daemon")
    p.add_argument("--log-format", choices=["text", "json"], default="text", help="log lines")
    p = _cmd(
        sub,
        "run-once",
        "daemon:cmd_run_once",
        "run one job and exit with its status (0 ok or skipped, 1 failed)",
    )
    p.add_argument("job", choices=JOB_CHOICES, help="the job ('cycle' runs all in order)")
    p.add_argument("--model", metavar="NAME", help="only this model (canary and drift jobs)")
    p.add_argument("--log-format", choices=["text", "json"], default="text", help="log lines")
    p = _cmd(sub, "status", "daemon:cmd_status", "model versions, verdicts, alerts and jobs")
    _json(p, "print the /api/v1/status document")
    p = _cmd(
        sub,
        "demo",
        "daemon:cmd_demo",
        "run the agent on synthetic traffic and report what it saw",
        config=False,
    )
    p.add_argument("--dir", metavar="DIR", help="working folder (default: a new temporary one)")
    p.add_argument("--serve", action="store_true", help="keep serving /metrics until Ctrl-C")
    p.add_argument(
        "--listen", metavar="HOST:PORT", default="127.0.0.1:9108", help="address for --serve"
    )


def _db_and_config(sub: Any) -> None:
    dsub = _group(sub, "db", "database schema", "db_command")
    _cmd(dsub, "upgrade", "database:cmd_upgrade", "apply migrations up to the code's revision")
    p = _cmd(
        dsub,
        "downgrade",
        "database:cmd_downgrade",
        "migrate the schema down to revision REV (run it with the newer driftmon)",
    )
    p.add_argument("revision", metavar="REV", help="target revision, e.g. 0004")
    _cmd(dsub, "current", "database:cmd_current", "show the database's and the code's revision")
    _cmd(dsub, "check", "database:cmd_check", "exit 0 only if the schema is at the code's revision")
    csub = _group(sub, "config", "configuration", "config_command")
    p = _cmd(
        csub,
        "check",
        "database:cmd_config_check",
        "validate FILE and print the effective config (secrets masked)",
        config=False,
    )
    p.add_argument("file", metavar="FILE", help="the TOML config")
    _cmd(
        csub,
        "reference",
        "database:cmd_config_reference",
        "print every setting as a Markdown table",
        config=False,
    )


def _canary(sub: Any) -> None:
    ksub = _group(sub, "canary", "canary sets", "canary_command")
    _cmd(ksub, "import", "canary:cmd_import", "import the configured canary sets")
    _cmd(ksub, "list", "canary:cmd_list", "list the canary sets")
    p = _cmd(ksub, "show", "canary:cmd_show", "a canary set's latest runs per model version")
    p.add_argument("name", metavar="NAME", help="the canary set")
    p = _cmd(ksub, "rebaseline", "canary:cmd_rebaseline", "replace a model version's baseline")
    p.add_argument("--model", metavar="NAME", required=True, help="the model")
    p.add_argument("--set", metavar="SET", required=True, help="the canary set")
    p.add_argument("--reason", required=True, help="why (stored with the baseline)")
    p.add_argument("--by", metavar="WHO", help="who (default: $USER)")
    p = _cmd(
        ksub,
        "diff",
        "offline:cmd_canary_diff",
        "compare two aligned embedding files of a canary set and grade a change by its "
        "impact: benign (each row keeps >= 95 percent of its top-10 among the baseline rows on "
        "average and no score moved beyond its noise) or breaking (otherwise; always for "
        "a dimension or norm change). Exit 0 unchanged, noise or benign change, 1 breaking "
        "change, 2 error",
        config=False,
    )
    p.set_defaults(error_prog=p.prog)
    p.add_argument("baseline", metavar="BASELINE", help="baseline embeddings (.npy or .jsonl)")
    p.add_argument("current", metavar="CURRENT", help="current embeddings, same rows")
    p.add_argument("--floor", type=float, default=1.0, help="measured noise floor (default: 1)")
    p.add_argument(
        "--repeat",
        metavar="FILE",
        help="the set embedded again at baseline time (.npy): the endpoint's own noise, "
        "widening the tolerance and each measure's allowed move (as the daemon does)",
    )
    p.add_argument(
        "--min-cosine",
        type=float,
        default=0.999,
        help="per-item cosine below which an item counts as moved (default: 0.999)",
    )
    _json(p)


def _drift_and_migrate(sub: Any) -> None:
    p = _cmd(
        sub, "report", "report:cmd_report", "write a run's report as one self-contained HTML file"
    )
    p.add_argument("kind", choices=["drift", "canary", "migrate"], help="the kind of run")
    p.add_argument("run", nargs="?", default="latest", help="the run id (default: latest)")
    p.add_argument(
        "-o", dest="output", required=True, metavar="FILE", help="the HTML file to write"
    )
    fsub = _group(sub, "drift", "query drift runs", "drift_command")
    p = _cmd(fsub, "show", "drift:cmd_show", "a stored drift run: verdict, tests, explanation")
    p.add_argument("run", metavar="RUN", nargs="?", type=int, help="run id (default: latest)")
    _json(p)
    p = _cmd(fsub, "run", "drift:cmd_run", "run the drift job once for one model")
    p.add_argument("--model", metavar="NAME", required=True, help="the model")
    p = _cmd(
        sub,
        "migrate-check",
        "canary:cmd_migrate_check",
        "is a candidate model ready to replace the serving one? (exit 0 ready, 1 not ready)",
    )
    p.add_argument("--from", dest="from_model", metavar="A", required=True, help="serving model")
    p.add_argument("--to", dest="to_model", metavar="B", required=True, help="candidate model")
    p.add_argument("--set", metavar="SET", required=True, help="a canary set with qrels")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default: 0)")
    _json(p)


def _alerts(sub: Any) -> None:
    asub = _group(
        sub, "alerts", "alerts: list, silence, acknowledge, test a sink", "alerts_command"
    )
    p = _cmd(asub, "list", "alerts:cmd_list", "recent alerts, newest first, and silences")
    p.add_argument("--limit", type=int, default=50, help="how many alerts (default: 50)")
    p = _cmd(asub, "silence", "alerts:cmd_silence", "mute notifications of matching alerts")
    p.add_argument(
        "--match",
        action="append",
        required=True,
        metavar="LABEL=VALUE",
        help="label matcher (repeatable; all must match)",
    )
    p.add_argument("--for", dest="duration", metavar="DURATION", default="2h", help="default 2h")
    p.add_argument("--comment", default="", help="why")
    p.add_argument("--by", metavar="WHO", help="who (default: $USER)")
    p = _cmd(asub, "unsilence", "alerts:cmd_unsilence", "end a silence now")
    p.add_argument("id", metavar="ID", type=int, help="the silence id")
    p = _cmd(asub, "ack", "alerts:cmd_ack", "acknowledge a firing alert (stops re-sends)")
    p.add_argument("alert", metavar="ALERT", help="alert id or fingerprint (prefix)")
    p.add_argument("--by", metavar="WHO", help="who (default: $USER)")
    p = _cmd(asub, "test", "alerts:cmd_test", "send a clearly marked test notification")
    p.add_argument("--sink", metavar="NAME", required=True, help="the sink's name")


def build_parser() -> argparse.ArgumentParser:
    """The whole command tree."""
    parser = Parser(prog="driftmon", description="Embedding drift monitor.")
    parser.add_argument("--version", action=_Version)
    sub = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=Parser
    )
    _daemon(sub)
    _db_and_config(sub)
    _canary(sub)
    _drift_and_migrate(sub)
    _alerts(sub)
    from monitor.cli.offline_args import add_offline_commands

    add_offline_commands(sub, _cmd, _json)
    return parser
