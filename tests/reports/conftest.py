"""A served demo (``driftmon demo --serve``) and a real Chromium for the report pages."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright import sync_api as playwright_api
from reports_support import ServedDemo
from support import DRIFTMON, free_port


def chromium_path() -> str:
    """Debian's Chromium; CI installs it (apt-get install chromium)."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail("Chromium is not installed: apt-get install chromium (.ci/run does)")
    return found


@pytest.fixture(scope="session")
def served_demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedDemo]:
    folder = tmp_path_factory.mktemp("served-demo")
    port = free_port()
    exe = Path(DRIFTMON)
    proc = subprocess.Popen(
        [str(exe), "demo", "--serve", "--listen", f"127.0.0.1:{port}", "--dir", str(folder)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    lines: list[str] = []
    deadline = time.monotonic() + 240
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith("Serving "):
            break
    output = "".join(lines)
    try:
        urls = dict(re.findall(r"(http://\S+/ui/(drift|canary)/\d+)", output))
        by_kind = {kind: url for url, kind in urls.items()}
        assert set(by_kind) == {"drift", "canary"}, output
        yield ServedDemo(
            folder, f"http://127.0.0.1:{port}", by_kind["drift"], by_kind["canary"], output
        )
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()
