"""Run report pages: weight (bytes) and render time (server side, and drawing in Chromium).

    python benchmarks/reports_pages.py [--points 2000]

Builds a drift run with a map of ``points`` reference and ``points`` current
queries in memory, renders the page with Jinja2 (median of 20), and times
Chromium from navigation to the drawn map (median of 5) for the served page
(plotly.min.js from the agent, cached after the first load) and for the
self-contained file written by ``driftmon report``.
"""

from __future__ import annotations

import argparse
import http.server
import os
import platform
import shutil
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from playwright.sync_api import sync_playwright

from monitor.domain import DriftHistoryView, DriftRunView, DriftTestView
from monitor.reports import ASSET_NAME, Assets, plotly_js, render_drift
from monitor.stats.drift_map import map_document

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def _run(points: int) -> DriftRunView:
    rng = np.random.default_rng(0)
    ref = rng.standard_normal((points, 384))
    cur = rng.standard_normal((points, 384)) + 0.05
    ids = list(range(2 * points))
    doc = map_document(ref, cur, ids[:points], ids[points:], [], rng)
    texts = {i: f"query number {i} about a product and its battery" for i in ids}
    history = tuple(
        DriftHistoryView(i, T0, "no_drift", {"mmd": 0.5, "novelty": 0.4}) for i in range(48)
    )
    return DriftRunView(
        id=1, model="prod", model_version="v1", created_at=T0, window_start=T0,
        window_end=T0, reference_start=T0, reference_end=T0, n_ref=points, n_cur=points,
        verdict="drift", alpha=0.01, seed=0, policy="", explanation={"map": doc},
        tests=tuple(DriftTestView(f"t{i}", 0.1, 0.01, 0.05, 0.1, False) for i in range(11)),
        texts=texts, history=history,
    )  # fmt: skip


def _median_ms(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", type=int, default=2000, help="points per window")
    args = ap.parse_args()
    run = _run(args.points)
    served = render_drift(run, Assets(root="/ui/"))
    inline = render_drift(run, Assets(root="", inline=True))
    render_ms = _median_ms(lambda: render_drift(run, Assets(root="/ui/")), 20)
    folder = Path(tempfile.mkdtemp())
    (folder / "ui" / "static").mkdir(parents=True)
    (folder / "ui" / "drift.html").write_text(served)
    (folder / "ui" / "static" / ASSET_NAME).write_bytes(plotly_js())
    (folder / "file.html").write_text(inline)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *_: object) -> None:
            pass

    handler = lambda *a: Quiet(*a, directory=str(folder))  # noqa: E731
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    draw: dict[str, float] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox"])
        page = browser.new_page()
        for name, url in (
            ("served", base + "/ui/drift.html"),
            ("file", (folder / "file.html").as_uri()),
        ):
            page.goto(url)  # warm the cache (the served page loads plotly.min.js once)
            page.wait_for_selector("#map .scatterlayer .point")
            draw[name] = _median_ms(
                lambda url=url: (
                    page.goto(url),
                    page.wait_for_selector("#map .scatterlayer .point"),
                ),
                5,
            )
        browser.close()
    httpd.shutdown()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"load {os.getloadavg()[0]:.1f}")  # fmt: skip
    print(f"points per window: {args.points}")
    print(f"served page HTML: {len(served.encode()) / 1e3:.0f} kB "
          f"(+ plotly.min.js {len(plotly_js()) / 1e6:.2f} MB once, cached)")  # fmt: skip
    print(f"self-contained file: {len(inline.encode()) / 1e6:.2f} MB")
    print(f"render (Jinja2, server side): {render_ms:.1f} ms median of 20")
    print(f"Chromium, navigation to drawn map: served {draw['served']:.0f} ms, "
          f"file {draw['file']:.0f} ms (median of 5)")  # fmt: skip


if __name__ == "__main__":
    main()
