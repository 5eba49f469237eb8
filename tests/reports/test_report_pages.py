"""The run reports in a real Chromium, served by a running demo daemon and written to a file."""

from __future__ import annotations

import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from reports_support import ServedDemo
from support import DRIFTMON

pytestmark = pytest.mark.slow


@pytest.fixture
def page(browser: Any, served_demo: ServedDemo) -> Iterator[Any]:
    """A page that records console errors and every request it makes."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.errors = []  # type: ignore[attr-defined]
    pg.requests = []  # type: ignore[attr-defined]
    pg.on("console", lambda m: m.type == "error" and pg.errors.append(m.text))
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    pg.on("request", lambda r: pg.requests.append(r.url))
    yield pg
    context.close()


def _only_agent(requests: list[str], base: str) -> None:
    agent = urlsplit(base).netloc
    outside = [u for u in requests if urlsplit(u).netloc not in (agent, "")]
    assert outside == [], f"requests outside the agent: {outside}"


def _drift_run(folder: Path, url: str) -> tuple[int, int]:
    run_id = int(url.rsplit("/", 1)[1])
    with sqlite3.connect(folder / "driftmon-demo.db") as db:
        n_ref, n_cur = db.execute(
            "SELECT n_ref, n_cur FROM drift_runs WHERE id = ?", (run_id,)
        ).fetchone()
    return int(n_ref), int(n_cur)


def _hover_first_current_point(pg: Any) -> tuple[str, str]:
    """Move the mouse onto the first current point; (its text, the hover label's text)."""
    box = pg.evaluate(
        """() => {
        const gd = document.getElementById('map');
        const t = gd._fullData[1];
        const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
        const r = gd.querySelector('.nsewdrag').getBoundingClientRect();
        return {x: r.left + xa.l2p(t.x[0]), y: r.top + ya.l2p(t.y[0]), text: t.text[0]};
    }"""
    )
    pg.mouse.move(box["x"], box["y"])
    pg.wait_for_selector("#map .hoverlayer .hovertext", timeout=5000)
    return box["text"], pg.locator("#map .hoverlayer").text_content() or ""


def test_drift_page_maps_every_sampled_query_with_hoverable_text(
    page: Any, served_demo: ServedDemo
) -> None:
    page.goto(served_demo.drift_url)
    page.wait_for_selector("#map .scatterlayer .point")
    assert "differ from the reference window: drift" in page.inner_text("#verdict")
    n_ref, n_cur = _drift_run(served_demo.folder, served_demo.drift_url)
    shown = page.evaluate("() => [0, 1].map(i => document.getElementById('map').data[i].x.length)")
    assert shown == [n_ref, n_cur]
    text, label = _hover_first_current_point(page)
    assert text and text[:40] in label
    assert page.locator("#tests tr").count() > 5
    assert page.locator("#groups tr").count() >= 2  # header + at least one group
    assert page.locator("#history .scatterlayer .trace").count() > 0 or page.locator("#history")
    assert page.errors == []
    _only_agent(page.requests, served_demo.base)


def test_canary_page_shows_histogram_moved_items_and_retrieval(
    page: Any, served_demo: ServedDemo
) -> None:
    page.goto(served_demo.canary_url)
    page.wait_for_selector("#histogram .barlayer .point")
    assert "no longer reproduces its baseline" in page.inner_text("#verdict")
    assert page.locator("#moved tr").count() > 5
    page.wait_for_selector("#retrieval .scatterlayer .trace")
    summary = page.inner_text("#summary")
    assert "noise floor" in summary and "identity" in summary
    assert page.errors == []
    _only_agent(page.requests, served_demo.base)


def test_overview_links_reach_every_kind_of_report(page: Any, served_demo: ServedDemo) -> None:
    page.goto(served_demo.base + "/ui/")
    assert page.locator("section.version").count() == 2  # demo + candidate
    for kind, chart in (("drift", "#map"), ("canary", "#histogram"), ("migrate", "#forest")):
        page.goto(served_demo.base + "/ui/")
        page.locator(f"a[href^='{kind}/']").first.click()
        page.wait_for_selector(f"{chart} .main-svg")
        assert page.inner_text("#verdict").strip()
    assert page.errors == []
    _only_agent(page.requests, served_demo.base)


def test_pages_read_without_javascript(browser: Any, served_demo: ServedDemo) -> None:
    context = browser.new_context(java_script_enabled=False)
    pg = context.new_page()
    try:
        pg.goto(served_demo.drift_url)
        assert "drift at alpha" in pg.inner_text("#verdict")
        assert "mmd" in pg.inner_text("#tests")
        pg.goto(served_demo.canary_url)
        assert "no longer reproduces" in pg.inner_text("#verdict")
    finally:
        context.close()


def test_the_main_charts_are_drawn_not_blank(page: Any, served_demo: ServedDemo) -> None:
    for url, chart in ((served_demo.drift_url, "#map"), (served_demo.canary_url, "#histogram")):
        page.goto(url)
        page.wait_for_selector(f"{chart} .main-svg")
        box = page.locator(chart).bounding_box()
        assert box is not None and box["width"] > 600 and box["height"] > 300
        png = page.locator(chart).screenshot()
        colours = _distinct_colours(png)
        assert colours > 20, f"{chart} on {url} looks blank ({colours} colours)"


def _distinct_colours(png: bytes) -> int:
    """Distinct pixel values in a PNG, decoded with the standard library only."""
    import struct
    import zlib

    pos, chunks = 8, []
    width = height = 0
    while pos < len(png):
        length, kind = struct.unpack(">I4s", png[pos : pos + 8])
        data = png[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height = struct.unpack(">II", data[:8])
            depth, colour = data[8], data[9]
            assert depth == 8 and colour in (2, 6), "an 8-bit RGB(A) PNG"
            bpp = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            chunks.append(data)
        pos += 12 + length
    raw = zlib.decompress(b"".join(chunks))
    stride = width * bpp
    seen: set[bytes] = set()
    prev = bytearray(stride)
    for row in range(height):
        filt = raw[row * (stride + 1)]
        line = bytearray(raw[row * (stride + 1) + 1 : (row + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if filt == 1:
                line[i] = (line[i] + a) & 255
            elif filt == 2:
                line[i] = (line[i] + b) & 255
            elif filt == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif filt == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        seen.update(bytes(line[i : i + bpp]) for i in range(0, stride, bpp * 7))
        prev = line
    return len(seen)


def test_report_file_opens_offline_with_the_map(
    browser: Any, served_demo: ServedDemo, tmp_path: Path
) -> None:
    out = tmp_path / "r.html"
    run_id = served_demo.drift_url.rsplit("/", 1)[1]
    exe = Path(DRIFTMON)
    config = served_demo.folder / "driftmon.toml"
    done = subprocess.run(
        [str(exe), "report", "drift", run_id, "-o", str(out), "-c", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=served_demo.folder,
    )
    assert done.returncode == 0, done.stderr
    assert f"wrote {out}" in done.stdout
    context = browser.new_context(offline=True)
    pg = context.new_page()
    requests: list[str] = []
    pg.on("request", lambda r: requests.append(r.url))
    try:
        pg.goto(out.as_uri())
        pg.wait_for_selector("#map .scatterlayer .point")
        text, label = _hover_first_current_point(pg)
        assert text[:40] in label
        assert [u for u in requests if not u.startswith("file:")] == []
    finally:
        context.close()


@pytest.mark.parametrize(
    "args, message",
    [
        pytest.param(["drift", "999999"], "no drift run 999999 is stored", id="unknown-id"),
        pytest.param(["drift", "x1"], "run id must be a number", id="bad-id"),
        pytest.param(["sideways", "1"], "invalid choice", id="bad-kind"),
    ],
)
def test_report_mistakes_are_one_line(
    served_demo: ServedDemo, tmp_path: Path, args: list[str], message: str
) -> None:
    exe = Path(DRIFTMON)
    config = served_demo.folder / "driftmon.toml"
    done = subprocess.run(
        [str(exe), "report", *args, "-o", str(tmp_path / "x.html"), "-c", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=served_demo.folder,
    )
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_unknown_pages_are_404_and_posts_are_refused(served_demo: ServedDemo) -> None:
    import httpx

    with httpx.Client(base_url=served_demo.base, timeout=10) as client:
        assert client.get("/ui/drift/999999").status_code == 404
        assert client.get("/ui/drift/abc").status_code == 404
        assert client.get("/ui/nothing/1").status_code == 404
        assert client.post("/ui/", content=b"x").status_code == 405
        js = client.get("/ui/static/plotly.min.js")
        assert js.status_code == 200 and len(js.content) > 1_000_000
        assert "max-age" in js.headers["cache-control"]
