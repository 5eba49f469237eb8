"""What every command shares: the config path, settings, the one way to open the database."""

from __future__ import annotations

import argparse
import errno
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from monitor.errors import MonitorError

if TYPE_CHECKING:
    from monitor.config import Settings
    from monitor.storage.engine import Database

__all__ = ["UsageError", "check_listen", "config_path", "open_database", "settings", "who"]

NO_CONFIG = "no config given (no -c, $DRIFTMON_CONFIG unset, no ./driftmon.toml); using defaults"


class UsageError(MonitorError):
    """A mistake on the command line: one line on stderr, exit status 2."""

    def __init__(self, message: str, *, prog: str = "") -> None:
        super().__init__(message)
        self.prog = prog  # the command whose usage was wrong ("" = the one that ran)


def config_path(args: argparse.Namespace) -> str | None:
    """``-c FILE``, else ``$DRIFTMON_CONFIG``, else ``./driftmon.toml`` if it exists."""
    from monitor.config import config_path_from_env

    path: str | None = getattr(args, "config", None)
    if path is None:
        env = config_path_from_env()
        if env:
            path = env
        elif Path("driftmon.toml").is_file():
            path = "driftmon.toml"
    return path


def settings(args: argparse.Namespace, *, say_defaults: bool = False) -> Settings:
    """The validated settings of the command's config; with ``say_defaults`` (read-only
    commands) a note on stderr when no config file was found."""
    from monitor.config import load_settings

    path = config_path(args)
    if path is None and say_defaults:
        print(f"driftmon: note: {NO_CONFIG}", file=sys.stderr)
    return load_settings(path)


def who(args: argparse.Namespace) -> str:
    """``--by``, else $USER, else 'cli'."""
    from monitor.config import current_user

    by: str | None = getattr(args, "by", None)
    return by or current_user() or "cli"


@contextmanager
def open_database(
    cfg: Settings, *, read_only: bool = False, check: bool = True
) -> Iterator[Database]:
    """The configured database, disposed on exit.

    ``read_only`` refuses a SQLite file that does not exist rather than creating an
    empty one; ``check`` refuses a schema that is not at the code's revision.
    """
    from monitor.storage.engine import Database, safe_url, sqlite_file
    from monitor.storage.migrate import check_revision

    file = sqlite_file(cfg.database.url)
    if read_only and file is not None and not file.exists():
        raise UsageError(
            f"database {safe_url(cfg.database.url)} does not exist: "
            "run 'driftmon db upgrade' with the same config first"
        )
    db = Database(cfg.database.url)
    try:
        if check:
            check_revision(db)
        yield db
    finally:
        db.dispose()


def check_listen(listen: str, what: str = "server.listen") -> None:
    """Refuse an address the HTTP server could not bind, before any work starts."""
    import socket

    host, _, port = listen.rpartition(":")
    host = host.strip("[]") or "0.0.0.0"
    try:
        infos = socket.getaddrinfo(host, int(port), type=socket.SOCK_STREAM)
    except (socket.gaierror, ValueError):
        raise UsageError(f"{what} {listen}: not a usable host:port") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server does
        try:
            probe.bind(address)
        except OSError as exc:
            raise bind_error(listen, exc, what) from None


def bind_error(listen: str, exc: OSError, what: str = "server.listen") -> UsageError:
    """The one-line message for an address the server cannot bind."""
    reason = {
        errno.EADDRINUSE: "address already in use",
        errno.EADDRNOTAVAIL: "address not available on this machine",
        errno.EACCES: "permission denied (ports below 1024 need privileges)",
    }.get(exc.errno or 0, exc.strerror or str(exc))
    return UsageError(f"{what} {listen}: {reason}")
