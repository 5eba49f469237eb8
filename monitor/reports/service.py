"""Reports from the database: the daemon's ``/ui/`` pages and ``driftmon report``."""

from __future__ import annotations

from datetime import datetime

from monitor.reports.assets import ASSET_NAME, plotly_js
from monitor.reports.pages import (
    Assets,
    render_canary,
    render_drift,
    render_migrate,
    render_missing,
    render_overview,
)
from monitor.storage import reports as read
from monitor.storage.engine import Database

__all__ = ["KINDS", "UiPage", "UnknownRun", "render_report", "ui_page"]

KINDS = ("drift", "canary", "migrate")


class UnknownRun(LookupError):
    """No stored run of that kind and id."""


def render_report(db: Database, kind: str, ident: str | None, assets: Assets) -> str:
    """The page of run ``ident`` (an id, or None / "latest" for the newest) of ``kind``.

    Raises ``UnknownRun`` when there is no such run, ``ValueError`` for a kind or
    id that cannot name one.
    """
    if kind not in KINDS:
        raise ValueError(f"report kind must be one of {', '.join(KINDS)}, got {kind!r}")
    with db.read() as s:
        if ident in (None, "latest"):
            run_id = read.latest_run_id(s, kind)
            if run_id is None:
                raise UnknownRun(f"no {kind} run is stored yet")
        elif ident.isdigit() and len(ident) < 19:
            run_id = int(ident)
        else:
            raise ValueError(f"run id must be a number or 'latest', got {ident!r}")
        if kind == "drift":
            drift = read.drift_run_view(s, run_id)
            if drift is not None:
                return render_drift(drift, assets)
        elif kind == "canary":
            canary = read.canary_run_view(s, run_id)
            if canary is not None:
                return render_canary(canary, assets)
        else:
            check = read.migrate_check_view(s, run_id)
            if check is not None:
                return render_migrate(check, assets)
    raise UnknownRun(f"no {kind} run {run_id} is stored")


class UiPage:
    """An answer of the ``/ui/`` tree: status, body, content type, extra headers."""

    def __init__(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self.status = status
        self.body = body
        self.content_type = content_type
        self.headers = headers or {}


_HTML = "text/html; charset=utf-8"


def ui_page(db: Database, path: str, now: datetime, root: str = "/ui/") -> UiPage:
    """The answer for a GET of ``path`` below ``root``: overview, a run page, or the script."""
    rest = path[len(root) :] if path.startswith(root) else None
    assets = Assets(root=root)
    if rest == "":
        with db.read() as s:
            body = render_overview(read.overview(s), assets, now)
        return UiPage(200, body.encode(), _HTML)
    if rest == "static/" + ASSET_NAME:
        cache = {"Cache-Control": "public, max-age=86400"}
        return UiPage(200, plotly_js(), "text/javascript; charset=utf-8", cache)
    kind, _, ident = (rest or "").partition("/")
    if kind in KINDS and ident and "/" not in ident:
        try:
            return UiPage(200, render_report(db, kind, ident, assets).encode(), _HTML)
        except (UnknownRun, ValueError):
            pass
    missing = render_missing(kind or "page", ident or (rest or ""), assets)
    return UiPage(404, missing.encode(), _HTML)
