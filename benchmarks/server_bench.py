"""Load and abuse of the daemon's HTTP server, on loopback: ``python benchmarks/server_bench.py``.

- ingest throughput with keep-alive at 1, 4 and 16 clients (500-record batches) on
  SQLite and, with DRIFTMON_TEST_POSTGRES_URL, PostgreSQL: records/s, p50, p99;
- RSS and threads of the daemon under 200 idle and 80 slow connections;
- abuse: a negative length followed by 20 MiB, a 2 MiB body over a 1 MiB cap;
- redaction time of 1 MiB adversarial texts (the old patterns on 20,000 characters);
- the candidates side by side: uvicorn (this server) and waitress serving /healthz.

Every loop is bounded in count and time; all traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import httpx

TOKEN = "bench-token"
AUTH = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
DRIFTMON = str(Path(sys.executable).with_name("driftmon"))


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _proc_status(pid: int) -> tuple[float, int]:
    text = Path(f"/proc/{pid}/status").read_text()
    rss = int(re.search(r"VmRSS:\s+(\d+)", text).group(1)) / 1024  # type: ignore[union-attr]
    threads = int(re.search(r"Threads:\s+(\d+)", text).group(1))  # type: ignore[union-attr]
    return rss, threads


def start_daemon(folder: Path, db_url: str) -> tuple[subprocess.Popen[bytes], str]:
    port = _port()
    cfg = folder / "driftmon.toml"
    cfg.write_text(
        textwrap.dedent(
            f"""
            [database]
            url = "{db_url}"
            [server]
            listen = "127.0.0.1:{port}"
            max_connections = 100
            [[models]]
            name = "m"
            provider = "hash"
            dimensions = 16
            [[sources]]
            name = "app"
            kind = "http"
            token_env = "BENCH_TOKEN"
            metadata_fields = ["tenant"]
            max_body_bytes = 1048576
            [sampling]
            window = "1h"
            max_per_window = 2000
            max_future = "1000d"
            [schedule]
            sample = "1h"
            canary = "1h"
            drift = "1h"
            alerts = "1h"
            deliver = "1h"
            """
        )
    )
    subprocess.run([DRIFTMON, "db", "upgrade", "-c", str(cfg)], check=True, capture_output=True)
    proc = subprocess.Popen(
        [DRIFTMON, "run", "-c", str(cfg)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "BENCH_TOKEN": TOKEN},
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return proc, url
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit("the daemon did not start")


def load(url: str, clients: int, seconds: float) -> dict[str, float]:
    latencies: list[float] = []
    sent = [0]
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client(cid: int) -> None:
        with httpx.Client(timeout=60) as c:  # one keep-alive connection per client
            b = 0
            while time.monotonic() < stop:
                batch = [
                    {"query": f"query {cid} {b} {i}", "ts": "2026-03-02T11:30:00Z", "tenant": "t"}
                    for i in range(500)
                ]
                t0 = time.perf_counter()
                resp = c.post(url + "/v1/queries", content=json.dumps(batch), headers=AUTH)
                dt = time.perf_counter() - t0
                with lock:
                    latencies.append(dt)
                    if resp.status_code == 202:
                        sent[0] += 500
                b += 1

    t0 = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [latencies[0]] * 99
    return {
        "records_per_s": sent[0] / elapsed,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * q[98],
        "requests": len(latencies),
    }


def idle_and_slow(url: str, pid: int) -> dict[str, float]:
    port = int(url.rsplit(":", 1)[1])
    base = _proc_status(pid)
    idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(200)]
    time.sleep(1)
    with_idle = _proc_status(pid)
    for s in idle:
        s.close()
    slow = []
    for _ in range(20):
        for payload in (
            b"POST /v1/queries HTTP/1.1\r\nHost: x\r\n",
            b"",
            b"POST /v1/queries HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n[",
            b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: b",
        ):
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(payload)
            s.setblocking(False)
            slow.append(s)
    start = time.monotonic()
    open_ = set(range(len(slow)))
    peak = _proc_status(pid)
    while open_ and time.monotonic() - start < 60:
        for i in list(open_):
            try:
                if i % 4 == 0:
                    slow[i].send(b"X")  # the trickling client: one byte a second
                data = slow[i].recv(4096)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if data == b"" or data.startswith(b"HTTP/1.1 408"):
                open_.discard(i)
        peak = max(peak, _proc_status(pid))
        time.sleep(1)
    cut_after = time.monotonic() - start
    for s in slow:
        s.close()
    return {
        "rss_base_mb": base[0],
        "threads_base": base[1],
        "rss_200_idle_mb": with_idle[0],
        "threads_200_idle": with_idle[1],
        "rss_80_slow_peak_mb": peak[0],
        "threads_80_slow_peak": peak[1],
        "slow_still_open": len(open_),
        "all_slow_cut_after_s": cut_after,
    }


def abuse(url: str, pid: int) -> dict[str, object]:
    port = int(url.rsplit(":", 1)[1])
    rss0 = _proc_status(pid)[0]
    out: dict[str, object] = {}
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n")
        try:
            for _ in range(20):
                s.sendall(b"x" * (1 << 20))
        except OSError:
            pass
        out["negative_length"] = s.recv(200).split(b"\r\n")[0].decode()
    big = b"[" + b" " * (2 << 20) + b"]"
    out["2MiB_over_1MiB_cap"] = httpx.post(
        url + "/v1/queries", content=big, headers=AUTH
    ).status_code
    out["rss_growth_mb"] = _proc_status(pid)[0] - rss0
    return out


def redaction() -> dict[str, float]:
    from monitor.sources import redact

    old = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
    mib = 1 << 20
    cases = {"digits": "7" * mib, "letters": "a" * mib, "a@a.a": "a@a.a" * (mib // 5)}
    cases["mixed"] = "jane@x.org 555 123 4567 (12) a.b@c 999999 " * (mib // 42)
    out = {}
    for name, text in cases.items():
        t0 = time.perf_counter()
        redact(text)
        out[f"new_1MiB_{name}_ms"] = 1000 * (time.perf_counter() - t0)
    t0 = time.perf_counter()
    old.sub("<email>", "7" * 20000)
    out["old_email_pattern_20000_digits_ms"] = 1000 * (time.perf_counter() - t0)
    return out


def waitress_side_by_side(clients: int = 4, seconds: float = 5) -> dict[str, float]:
    """The same /healthz on waitress (threads) for the choice of server; needs waitress."""
    code = textwrap.dedent(
        """
        import sys, waitress
        def app(environ, start):
            start("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "3")])
            return [b"ok\\n"]
        waitress.serve(app, host="127.0.0.1", port=int(sys.argv[1]), threads=8,
                       connection_limit=100)
        """
    )
    port = _port()
    proc = subprocess.Popen([sys.executable, "-c", code, str(port)], stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                httpx.get(url + "/healthz", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        return {
            "waitress_" + k: v for k, v in healthz_rate(url, proc.pid, clients, seconds).items()
        }
    finally:
        proc.terminate()
        proc.wait(10)


def healthz_rate(url: str, pid: int, clients: int, seconds: float) -> dict[str, float]:
    count = [0]
    stop = time.monotonic() + seconds

    def run() -> None:
        with httpx.Client(timeout=10) as c:
            while time.monotonic() < stop:
                c.get(url + "/healthz")
                count[0] += 1

    threads = [threading.Thread(target=run) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    port = int(url.rsplit(":", 1)[1])
    idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(200)]
    time.sleep(1)
    rss, thr = _proc_status(pid)
    for s in idle:
        s.close()
    return {"healthz_per_s": count[0] / seconds, "rss_200_idle_mb": rss, "threads_200_idle": thr}


def main() -> None:
    results: dict[str, object] = {"cpus": os.cpu_count(), "load_avg": os.getloadavg()[0]}
    results["redaction"] = redaction()
    backends = {"sqlite": None, "postgresql": os.environ.get("DRIFTMON_TEST_POSTGRES_URL")}
    for name, pg in backends.items():
        if name == "postgresql" and not pg:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{tmp}/bench.db" if pg is None else pg
            if pg is not None:
                from support import fresh_postgres_schema  # tests/ on sys.path

                ctx = fresh_postgres_schema("bench_")
                url = ctx.__enter__()
            proc, base = start_daemon(Path(tmp), url)
            try:
                results[f"{name}_load"] = {n: load(base, n, 8) for n in (1, 4, 16)}
                if name == "sqlite":
                    results["daemon_healthz"] = healthz_rate(base, proc.pid, 4, 5)
                    results["idle_and_slow"] = idle_and_slow(base, proc.pid)
                    results["abuse"] = abuse(base, proc.pid)
            finally:
                proc.terminate()
                proc.wait(60)
                if pg is not None:
                    ctx.__exit__(None, None, None)
    try:
        results["side_by_side"] = waitress_side_by_side()
    except (ImportError, OSError) as exc:
        results["side_by_side"] = f"waitress not available: {exc}"
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    main()
