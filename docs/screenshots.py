"""Screenshots of the run reports for the README: a served demo, Debian's Chromium, PNGs in docs/.

python docs/screenshots.py            # needs the test extra (playwright) and chromium
"""

from __future__ import annotations

import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

DOCS = Path(__file__).resolve().parent


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> int:
    browser_path = shutil.which("chromium")
    if browser_path is None:
        print("chromium is not installed (apt-get install chromium)", file=sys.stderr)
        return 2
    port = _port()
    folder = tempfile.mkdtemp(prefix="driftmon-shots-")
    exe = Path(sys.executable).with_name("driftmon")
    cmd = [str(exe), "demo", "--serve", "--listen", f"127.0.0.1:{port}", "--dir", folder]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    output = ""
    for line in proc.stdout:
        output += line
        if line.startswith("Serving "):
            break
    try:
        urls = dict((kind, url) for url, kind in re.findall(r"(http://\S+/ui/(\w+)/\d+)", output))
        targets = {
            "report-overview.png": f"http://127.0.0.1:{port}/ui/",
            "report-drift.png": urls["drift"],
            "report-canary.png": urls["canary"],
            "report-migrate.png": f"http://127.0.0.1:{port}/ui/migrate/latest",
        }
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=browser_path, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            for name, url in targets.items():
                page.goto(url)
                page.wait_for_load_state("networkidle")
                page.screenshot(path=str(DOCS / name), full_page=True)
                print(f"wrote docs/{name} from {url}")
            browser.close()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
