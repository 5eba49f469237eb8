"""Delivered alerts link to their report, and the link works on the running agent."""

from __future__ import annotations

import json
import re
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from reports_support import ServedDemo
from support import DRIFTMON

pytestmark = pytest.mark.slow


class _Receiver(ThreadingHTTPServer):
    def __init__(self) -> None:
        self.bodies: dict[str, list[Any]] = {"/hook": [], "/slack": []}
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                server.bodies.setdefault(self.path, []).append(json.loads(self.rfile.read(length)))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: object) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)


def _driftmon(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    exe = Path(DRIFTMON)
    return subprocess.run(
        [str(exe), *args], capture_output=True, text=True, timeout=120, cwd=folder
    )


def test_generic_and_slack_alerts_link_to_a_working_report(served_demo: ServedDemo) -> None:
    receiver = _Receiver()
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    hook = f"http://127.0.0.1:{receiver.server_address[1]}"
    config = (served_demo.folder / "driftmon.toml").read_text()
    config = config.split("[[alerts.sinks]]")[0]  # the demo's own sink stays out
    config = re.sub(r"\[server\]\n", f'[server]\npublic_url = "{served_demo.base}"\n', config)
    config += (
        f'\n[[alerts.sinks]]\nname = "hook"\nurl = "{hook}/hook"\nresend = "1s"\n'
        f'\n[[alerts.sinks]]\nname = "chat"\nkind = "slack"\nurl = "{hook}/slack"\nresend = "1s"\n'
    )
    path = served_demo.folder / "links.toml"
    path.write_text(config)
    try:
        for job in ("alerts", "deliver"):
            done = _driftmon(served_demo.folder, "run-once", job, "-c", str(path))
            assert done.returncode == 0, done.stdout + done.stderr
    finally:
        receiver.shutdown()
        receiver.server_close()
    generic = [b["alert"] for b in receiver.bodies["/hook"] if "report_url" in b["alert"]]
    assert generic, receiver.bodies
    slack_links = [
        element["url"]
        for body in receiver.bodies["/slack"]
        for block in body["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
    ]
    assert slack_links
    with httpx.Client(timeout=30) as client:
        for url in {a["report_url"] for a in generic} | set(slack_links):
            assert url.startswith(served_demo.base + "/ui/")
            page = client.get(url)
            assert page.status_code == 200, url
            assert 'id="verdict"' in page.text
    canary = [a for a in generic if "canary_set" in a["labels"]]  # the demo ends on a change
    assert canary and all("/ui/canary/" in a["report_url"] for a in canary)
