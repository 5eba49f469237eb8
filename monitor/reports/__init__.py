"""Run reports: HTML pages of stored drift runs, canary runs and migration checks.

Rendered with Jinja2 from the read model in ``monitor.domain``; charts are Plotly
figures drawn by the Plotly JavaScript bundled with the ``plotly`` package,
served once by the daemon (``/ui/static/plotly.min.js``) or inlined into a
self-contained file by ``driftmon report``.
"""

from __future__ import annotations

from monitor.reports.assets import ASSET_NAME, plotly_js
from monitor.reports.pages import (
    Assets,
    render_canary,
    render_drift,
    render_migrate,
    render_missing,
    render_overview,
)

__all__ = [
    "ASSET_NAME",
    "Assets",
    "plotly_js",
    "render_canary",
    "render_drift",
    "render_migrate",
    "render_missing",
    "render_overview",
]
