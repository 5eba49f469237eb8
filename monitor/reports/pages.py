"""The report pages: a plain-sentence verdict, tables that read without JavaScript, charts."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from monitor.domain import CanaryRunView, DriftRunView, MigrateCheckView, VersionOverview
from monitor.reports import charts
from monitor.reports.assets import ASSET_NAME, plotly_js

__all__ = [
    "TEST_DESCRIPTIONS",
    "Assets",
    "render_canary",
    "render_drift",
    "render_migrate",
    "render_missing",
    "render_overview",
]

#: what each drift test measures, in one line
TEST_DESCRIPTIONS = {
    "mmd": "kernel maximum mean discrepancy: any difference between the two distributions",
    "energy": "energy distance: a difference in location or spread of the vectors",
    "centroid": "cosine distance between the mean query of each window",
    "classifier": "how well a classifier tells current from reference queries (AUC)",
    "novelty": "share of current queries far from every reference query",
    "ks": "Kolmogorov-Smirnov on each principal component, corrected for many tests",
    "cvm": "Cramer-von Mises on each principal component, corrected for many tests",
    "frechet": "Frechet distance of Gaussians fitted to both windows",
    "geometry": "change in the spread and anisotropy of the vectors",
    "psi_norm": "population stability of the vector norms",
    "psi_centroid_cosine": "population stability of the cosine to the reference centre",
    "psi_nn_similarity": "population stability of the similarity to the nearest reference query",
}


@dataclass(frozen=True)
class Assets:
    """Where the page finds plotly.min.js: a URL prefix (served) or inline (a file)."""

    root: str = "/ui/"
    inline: bool = False

    @property
    def static_prefix(self) -> str:
        return self.root + "static/"

    def script(self) -> Markup:
        if self.inline:
            body = plotly_js().decode("utf-8").replace("</script", "<\\/script")
            return Markup(f"<script>{body}</script>")
        return Markup('<script src="{}"></script>').format(self.static_prefix + ASSET_NAME)


_ENV = Environment(
    loader=PackageLoader("monitor.reports", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _figure(fig: dict[str, Any] | None) -> Markup | None:
    if fig is None:
        return None
    text = json.dumps(fig, allow_nan=False, separators=(",", ":"))
    # JSON inside <script type="application/json">: no "<", ">" or "&" may reach the HTML parser
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(char, escaped)
    return Markup(text)


def _when(value: datetime | None) -> str:
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M UTC")


def _num(value: float | None, digits: int = 4) -> str:
    if value is None:
        return "-"
    if value != 0 and abs(value) < 10 ** (-digits):
        return f"{value:.1e}"
    return f"{value:.{digits}f}"


_ENV.filters["when"] = _when
_ENV.filters["num"] = _num


def _render(template: str, assets: Assets, **context: Any) -> str:
    return _ENV.get_template(template).render(assets=assets, root=assets.root, **context)


def drift_sentence(run: DriftRunView) -> str:
    """The verdict of a drift run in one plain sentence."""
    window = f"{_when(run.window_start)} to {_when(run.window_end)}"
    who = f"Queries embedded by {run.model} ({run.model_version})"
    if run.verdict == "drift":
        hits = [t.test for t in run.tests if t.drift]
        named = ", ".join(hits) if hits else "the combined test"
        return (
            f"{who} in the window {window} differ from the reference window: drift at "
            f"alpha {run.alpha:g} ({named})."
        )
    if run.verdict == "no_drift":
        return (
            f"{who} in the window {window} do not differ detectably from the reference "
            f"window at alpha {run.alpha:g}."
        )
    return (
        f"Too few queries were sampled in the window {window} to test {run.model} "
        f"({run.model_version}): {run.n_cur} current, {run.n_ref} reference."
    )


def render_drift(run: DriftRunView, assets: Assets) -> str:
    """The drift run page."""
    explanation = run.explanation or {}
    return _render(
        "drift.html",
        assets,
        title=f"Drift run {run.id} - {run.model}",
        run=run,
        sentence=drift_sentence(run),
        descriptions=TEST_DESCRIPTIONS,
        emerging=explanation.get("emerging") or [],
        grew=[c for c in explanation.get("clusters") or [] if c.get("status") == "grew"],
        map_doc=explanation.get("map"),
        map_figure=_figure(charts.drift_map_figure(run)),
        history_figure=_figure(charts.drift_history(run)),
    )


def _moved_items(run: CanaryRunView, limit: int = 15) -> list[tuple[str, str, float]]:
    pairs = run.details.get("item_cosines") or []
    moved = sorted(pairs, key=lambda p: p[1])[:limit]
    out = []
    for item_id, cosine in moved:
        key, text = run.items.get(int(item_id), ("?", ""))
        out.append((key, text, float(cosine)))
    return out


def canary_sentence(run: CanaryRunView) -> str:
    """The verdict of a canary run in one plain sentence."""
    who = f"{run.model} ({run.model_version}) on canary set {run.canary_set}"
    impact = run.details.get("impact")
    if run.verdict == "changed":
        why = "; ".join(run.details.get("reasons") or []) or "vectors moved"
        grade = f" The change is {impact}." if impact else ""
        return f"{who} no longer reproduces its baseline vectors: {why}.{grade}"
    if run.verdict == "noise":
        return f"{who} reproduces its baseline within the measured noise of the endpoint."
    return f"{who} reproduces its baseline vectors exactly."


def render_canary(run: CanaryRunView, assets: Assets) -> str:
    """The canary run page."""
    cosines = [float(c) for _, c in run.details.get("item_cosines") or []]
    overlap = next((v for k, v in run.details.items() if k.endswith("_overlap_stale_index")), None)
    return _render(
        "canary.html",
        assets,
        title=f"Canary run {run.id} - {run.model} / {run.canary_set}",
        run=run,
        sentence=canary_sentence(run),
        moved=_moved_items(run),
        overlap=overlap,
        identity=run.details.get("identity") or {},
        histogram_figure=_figure(charts.cosine_histogram(run, cosines)),
        retrieval_figure=_figure(charts.retrieval_history(run.retrieval)),
    )


def render_migrate(check: MigrateCheckView, assets: Assets) -> str:
    """The migration check page."""
    result = check.result
    return _render(
        "migrate.html",
        assets,
        title=f"Migration check {check.id}",
        check=check,
        result=result,
        source=result.get("from") or {},
        target=result.get("to") or {},
        deltas=sorted((result.get("deltas") or {}).values(), key=lambda d: str(d.get("metric"))),
        reembed=result.get("reembed") or {},
        forest_figure=_figure(charts.forest_plot(result.get("deltas") or {})),
        overlap_figure=_figure(charts.overlap_distribution(result)),
    )


def render_overview(versions: list[VersionOverview], assets: Assets, now: datetime) -> str:
    """The home page: every model version with its latest runs."""
    return _render("overview.html", assets, title="driftmon", versions=versions, now=now)


def render_missing(kind: str, ident: str, assets: Assets) -> str:
    """A page for a run that does not exist (answered with 404)."""
    return _render("missing.html", assets, title="Not found", kind=kind, ident=ident)
