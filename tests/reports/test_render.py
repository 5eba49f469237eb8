"""Rendering without a browser: hostile query text stays text, figures round-trip."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.domain import DriftHistoryView, DriftRunView, DriftTestView
from monitor.reports import Assets, render_drift

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def _run(texts: list[str]) -> DriftRunView:
    n = len(texts)
    explanation = {
        "emerging": [{"size": n, "share": 0.5, "examples": texts[:2]}],
        "map": {
            "x": [float(i) for i in range(n + 2)],
            "y": [0.0] * (n + 2),
            "n_ref": 2,
            "sample_ids": list(range(n + 2)),
            "x_label": "x",
            "y_label": "y",
            "separation": 1.0,
            "groups": [{"kind": "emerging", "label": texts[0], "points": [2]}],
        },
    }
    return DriftRunView(
        id=1,
        model="m",
        model_version="v1",
        created_at=T0,
        window_start=T0,
        window_end=T0,
        reference_start=T0,
        reference_end=T0,
        n_ref=2,
        n_cur=n,
        verdict="drift",
        alpha=0.01,
        seed=1,
        policy="p",
        explanation=explanation,
        tests=(DriftTestView("mmd", 0.1, 0.001, 0.05, 0.1, True),),
        texts={i + 2: t for i, t in enumerate(texts)} | {0: None, 1: "ref"},
        history=(DriftHistoryView(1, T0, "drift", {"mmd": 0.001}),),
    )


def _figures(html: str) -> dict[str, dict]:
    found = re.findall(r'<script type="application/json" id="fig-(\w+)">(.*?)</script>', html, re.S)
    return {name: json.loads(body) for name, body in found}


HOSTILE = [
    "</script><script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<!-- a comment",
    "quote ' and \" and & and \u2028 line",
]


def test_hostile_text_never_becomes_markup() -> None:
    html = render_drift(_run(HOSTILE), Assets())
    assert "<script>alert(1)" not in html
    assert "<img src=x" not in html
    figures = _figures(html)
    shown = figures["map"]["data"][1]["text"]
    assert shown == HOSTILE  # the hover texts are the texts, unchanged


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=80), min_size=1, max_size=5))
def test_any_text_round_trips_through_the_page(texts: list[str]) -> None:
    html = render_drift(_run(texts), Assets())
    figures = _figures(html)
    shown = figures["map"]["data"][1]["text"]
    assert shown == texts  # short texts are shown whole, whatever they hold
    assert "<script>alert" not in html


def test_served_pages_load_the_script_once_from_the_agent() -> None:
    html = render_drift(_run(["a"]), Assets(root="/ui/"))
    assert html.count('<script src="/ui/static/plotly.min.js"></script>') == 1
    inline = render_drift(_run(["a"]), Assets(root="", inline=True))
    assert "<script src=" not in inline
    assert len(inline) > 1_000_000  # plotly inlined: the file works offline
