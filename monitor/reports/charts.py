"""Plotly figures of the run reports, built as plain JSON-able dicts (no Python plotly API)."""

from __future__ import annotations

from typing import Any

from monitor.domain import CanaryRunView, DriftRunView, RetrievalPoint

__all__ = [
    "cosine_histogram",
    "drift_history",
    "drift_map_figure",
    "forest_plot",
    "overlap_distribution",
    "retrieval_history",
]

Figure = dict[str, Any]
_TEXT_CHARS = 160
_REF, _CUR, _GROUP = "#9aa5b1", "#1f6feb", "#d1242f"
_LAYOUT: dict[str, Any] = {
    "margin": {"l": 60, "r": 20, "t": 30, "b": 50},
    "hovermode": "closest",
    "font": {"family": "system-ui, sans-serif", "size": 12},
    "legend": {"orientation": "h", "y": -0.18},
}


def _layout(**extra: Any) -> dict[str, Any]:
    return {**_LAYOUT, **extra}


def _short(text: str | None) -> str:
    if text is None:
        return "(text not stored)"
    return text if len(text) <= _TEXT_CHARS else text[: _TEXT_CHARS - 1] + "…"


def drift_map_figure(run: DriftRunView) -> Figure | None:
    """Reference and current points on the run's stored 2-D map; groups outlined."""
    doc = (run.explanation or {}).get("map")
    if not doc:
        return None
    n_ref = int(doc["n_ref"])
    xs, ys, ids = doc["x"], doc["y"], doc["sample_ids"]
    texts = [_short(run.texts.get(int(i))) for i in ids]

    def trace(name: str, idx: range | list[int], color: str, **marker: Any) -> dict[str, Any]:
        return {
            "type": "scatter",
            "mode": "markers",
            "name": name,
            "x": [xs[i] for i in idx],
            "y": [ys[i] for i in idx],
            "text": [texts[i] for i in idx],
            "hovertemplate": "%{text}<extra>" + name + "</extra>",
            "marker": {"color": color, "size": 6, "opacity": 0.7, **marker},
        }

    data = [
        trace(f"reference ({n_ref})", range(n_ref), _REF),
        trace(f"current ({len(xs) - n_ref})", range(n_ref, len(xs)), _CUR),
    ]
    annotations = []
    for group in doc.get("groups", []):
        points = [int(p) for p in group["points"]]
        if not points:
            continue
        ring = {"color": "rgba(0,0,0,0)", "size": 11, "line": {"color": _GROUP, "width": 2}}
        data.append(
            {**trace(_short(group["label"]), points, _GROUP), "marker": ring, "showlegend": True}
        )
        annotations.append(
            {
                "x": sum(xs[p] for p in points) / len(points),
                "y": max(ys[p] for p in points),
                "text": _short(group["label"])[:60],
                "showarrow": True,
                "arrowhead": 2,
                "ax": 0,
                "ay": -30,
                "font": {"color": _GROUP},
            }
        )
    layout = _layout(
        xaxis={"title": {"text": doc.get("x_label", "")}, "zeroline": False},
        yaxis={"title": {"text": doc.get("y_label", "")}, "zeroline": False},
        annotations=annotations,
        height=520,
    )
    return {"data": data, "layout": layout}


def drift_history(run: DriftRunView) -> Figure | None:
    """p-values of every test over the version's last windows (log scale), alpha as a line."""
    if len(run.history) < 2:
        return None
    tests = sorted({t for h in run.history for t in h.p_values})
    when = [h.window_start.isoformat() for h in run.history]
    data: list[dict[str, Any]] = [
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": test,
            "x": when,
            "y": [max(h.p_values.get(test) or 1.0, 1e-4) for h in run.history],
        }
        for test in tests
    ]
    drifted = [h for h in run.history if h.verdict == "drift"]
    data.append(
        {
            "type": "scatter",
            "mode": "markers",
            "name": "verdict: drift",
            "x": [h.window_start.isoformat() for h in drifted],
            "y": [1e-4] * len(drifted),
            "marker": {"symbol": "triangle-up", "size": 12, "color": _GROUP},
        }
    )
    shapes = [_hline(run.alpha, "alpha")]
    layout = _layout(
        yaxis={"type": "log", "title": {"text": "p-value"}},
        xaxis={"title": {"text": "window start"}},
        shapes=shapes,
        height=380,
    )
    return {"data": data, "layout": layout}


def _hline(y: float, _name: str) -> dict[str, Any]:
    return {
        "type": "line",
        "xref": "paper",
        "x0": 0,
        "x1": 1,
        "y0": y,
        "y1": y,
        "line": {"dash": "dash", "color": _GROUP},
    }


def _vline(x: float) -> dict[str, Any]:
    return {
        "type": "line",
        "yref": "paper",
        "y0": 0,
        "y1": 1,
        "x0": x,
        "x1": x,
        "line": {"dash": "dash", "color": _GROUP},
    }


def cosine_histogram(run: CanaryRunView, cosines: list[float]) -> Figure | None:
    """Per-item cosine with the baseline, with the noise floor and the tolerance marked."""
    if not cosines:
        return None
    floor = float(run.details.get("noise_floor", 1.0))
    data = [
        {
            "type": "histogram",
            "x": cosines,
            "nbinsx": 40,
            "name": "items",
            "marker": {"color": _CUR},
        }
    ]
    annotations = [
        {"x": floor, "y": 1, "yref": "paper", "text": "noise floor", "showarrow": False},
        {"x": run.tolerance, "y": 0.92, "yref": "paper", "text": "tolerance", "showarrow": False},
    ]
    layout = _layout(
        xaxis={"title": {"text": "cosine with the baseline vector"}},
        yaxis={"title": {"text": "items"}},
        shapes=[_vline(floor), _vline(run.tolerance)],
        annotations=annotations,
        height=360,
    )
    return {"data": data, "layout": layout}


def retrieval_history(points: tuple[RetrievalPoint, ...]) -> Figure | None:
    """Canary retrieval measures per model version over time."""
    if not points:
        return None
    series: dict[tuple[str, str], list[RetrievalPoint]] = {}
    for p in points:
        series.setdefault((p.metric, p.model_version), []).append(p)
    data = [
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": f"{metric} ({version})",
            "x": [p.created_at.isoformat() for p in pts],
            "y": [p.value for p in pts],
        }
        for (metric, version), pts in sorted(series.items())
    ]
    layout = _layout(yaxis={"title": {"text": "value"}, "range": [0, 1.05]}, height=380)
    return {"data": data, "layout": layout}


def forest_plot(deltas: dict[str, Any]) -> Figure | None:
    """Paired differences (candidate - current) with their confidence intervals."""
    rows = [d for d in deltas.values() if isinstance(d, dict) and "delta" in d]
    if not rows:
        return None
    rows.sort(key=lambda d: str(d.get("metric")))
    names = [str(d.get("metric")) for d in rows]
    delta = [float(d["delta"]) for d in rows]
    data = [
        {
            "type": "scatter",
            "mode": "markers",
            "name": "mean difference",
            "x": delta,
            "y": names,
            "error_x": {
                "type": "data",
                "symmetric": False,
                "array": [float(d["ci_high"]) - float(d["delta"]) for d in rows],
                "arrayminus": [float(d["delta"]) - float(d["ci_low"]) for d in rows],
            },
            "marker": {"color": _CUR, "size": 9},
        }
    ]
    layout = _layout(
        xaxis={"title": {"text": "candidate - current"}, "zeroline": True},
        shapes=[_vline(0.0)],
        height=max(300, 26 * len(rows) + 80),
    )
    return {"data": data, "layout": layout}


def overlap_distribution(result: dict[str, Any]) -> Figure | None:
    """Per-query top-k Jaccard and RBO between the two versions, as box summaries."""
    data = []
    for name in ("jaccard", "rbo"):
        q = result.get(name)
        if not isinstance(q, dict) or "median" not in q:
            continue
        data.append(
            {
                "type": "box",
                "name": name,
                "q1": [q["p25"]],
                "median": [q["median"]],
                "q3": [q["p75"]],
                "lowerfence": [q["min"]],
                "upperfence": [q["max"]],
                "mean": [q["mean"]],
                "x": [name],
            }
        )
    if not data:
        return None
    layout = _layout(yaxis={"range": [0, 1.05], "title": {"text": "per query"}}, height=340)
    return {"data": data, "layout": layout}
