"""Provider client benchmark: client-side overhead per 1,000 texts, and throughput under latency."""

# The fake server (tests/providers/fake_embed_server.py) answers from a separate
# process behind a small asyncio HTTP/1.1 front that replays cached answers after
# the configured latency, so the server side stays cheap and the client's CPU time
# (time.process_time of this process, all threads) is the client-side cost.
# Run: python benchmarks/provider_bench.py [--quick] [--only overhead|throughput]

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import math
import multiprocessing as mp
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "providers"))

from monitor.config import ModelSettings  # noqa: E402
from monitor.providers import build_provider  # noqa: E402

KEY_ENV = "BENCH_FAKE_KEY"


async def _replay(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    fake: Any,
    latency: float,
    cache: dict[tuple[str, bytes], bytes],
) -> None:
    """Minimal HTTP/1.1 keep-alive front: the fake server's answers, cached, after ``latency``."""
    try:
        while True:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            method, target, _ = head[0].split(" ", 2)
            headers = {
                k.strip().lower(): v.strip()
                for k, _, v in (line.partition(":") for line in head[1:] if line)
            }
            raw = await reader.readexactly(int(headers.get("content-length", 0)))
            if latency:
                await asyncio.sleep(latency)
            out = cache.get((target, raw))
            if out is None:
                status, payload, *extra = fake.respond(method, target, headers, raw)
                data = (payload if isinstance(payload, str) else json.dumps(payload)).encode()
                lines = [
                    f"HTTP/1.1 {status} X",
                    "Content-Type: application/json",
                    f"Content-Length: {len(data)}",
                ]
                lines += [f"{k}: {v}" for k, v in (extra[0] if extra else {}).items()]
                out = ("\r\n".join(lines) + "\r\n\r\n").encode() + data
                cache[(target, raw)] = out
            writer.write(out)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


def _serve(dim: int, latency: float, conn: Any) -> None:
    from fake_embed_server import FakeEmbeddingServer

    async def main() -> None:
        fake = FakeEmbeddingServer(dim, record=False)  # its own port stays unused
        cache: dict[tuple[str, bytes], bytes] = {}
        server = await asyncio.start_server(
            lambda r, w: _replay(r, w, fake, latency, cache), "127.0.0.1", 0, backlog=256
        )
        host, port = server.sockets[0].getsockname()[:2]
        conn.send(f"http://{host}:{port}")
        await asyncio.get_running_loop().run_in_executor(None, conn.recv)  # until "stop"
        server.close()
        fake.close()

    asyncio.run(main())


class Server:
    def __init__(self, dim: int, latency: float) -> None:
        ctx = mp.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(dim, latency, child), daemon=True)
        self._proc.start()
        self.url = self._conn.recv()

    def stop(self) -> None:
        self._conn.send("stop")
        self._proc.join(10)


def _provider(url: str, dim: int, batch: int, concurrency: int) -> Any:
    settings = ModelSettings(
        name="bench",
        provider="openai",
        model="fake",
        dimensions=dim,
        base_url=url + "/v1",
        batch_size=batch,
        max_concurrency=concurrency,
        timeout="30s",
    )
    return build_provider(settings)


def _texts(n: int) -> list[str]:
    return [f"benchmark query number {i} about embedding drift" for i in range(n)]


class RawClient:
    """The least any client must do: same requests, json.loads, base64 decode; nothing else."""

    def __init__(self, url: str, dim: int, batch: int, concurrency: int, parse: bool) -> None:
        self.url, self.dim, self.batch, self.parse = url + "/v1/embeddings", dim, batch, parse
        self.loop = asyncio.new_event_loop()
        self.concurrency = concurrency
        self.client = httpx.AsyncClient(limits=httpx.Limits(max_connections=concurrency + 2))

    async def _one(self, sem: asyncio.Semaphore, texts: list[str]) -> Any:
        async with sem:
            r = await self.client.post(
                self.url,
                json={
                    "model": "fake",
                    "input": texts,
                    "encoding_format": "base64",
                    "dimensions": self.dim,
                },
            )
            if not self.parse:
                return None
            rows = [d["embedding"] for d in json.loads(r.content)["data"]]
            return np.frombuffer(b"".join(map(base64.b64decode, rows)), "<f4")

    async def _all(self, texts: list[str]) -> None:
        sem = asyncio.Semaphore(self.concurrency)
        await asyncio.gather(
            *(self._one(sem, texts[i : i + self.batch]) for i in range(0, len(texts), self.batch))
        )

    def embed(self, texts: list[str]) -> None:
        self.loop.run_until_complete(self._all(texts))

    def close(self) -> None:
        self.loop.run_until_complete(self.client.aclose())
        self.loop.close()


def _cpu(fn: Any, repeats: int) -> tuple[float, float]:
    cpu, wall = [], []
    for _ in range(repeats):
        c0, w0 = time.process_time(), time.perf_counter()
        fn()
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    return statistics.median(cpu) * 1e3, statistics.median(wall) * 1e3


def overhead(dim: int, batch: int, concurrency: int, repeats: int) -> dict[str, float]:
    """Median client CPU per 1,000 texts: driftmon, a bare httpx client, and its parts."""
    server = Server(dim, 0.0)
    provider = _provider(server.url, dim, batch, concurrency)
    bare = RawClient(server.url, dim, batch, concurrency, parse=True)
    transport = RawClient(server.url, dim, batch, concurrency, parse=False)
    texts = _texts(1000)
    try:
        for _ in range(3):  # warm: connections, the server's response cache
            provider.embed(texts, "query")
            bare.embed(texts)
            transport.embed(texts)
        out: dict[str, float] = {}
        for _ in range(2):  # interleave to even out noise; keep the better median
            for name, fn in (
                ("driftmon", lambda: provider.embed(texts, "query")),
                ("bare", lambda: bare.embed(texts)),
                ("transport", lambda: transport.embed(texts)),
            ):
                cpu, wall = _cpu(fn, repeats)
                if name not in out or cpu < out[name]:
                    out[name], out[name + "_wall"] = cpu, wall
    finally:
        provider.close()
        bare.close()
        transport.close()
        server.stop()
    rows = [
        base64.b64encode(
            np.random.default_rng(i).standard_normal(dim).astype("<f4").tobytes()
        ).decode()
        for i in range(1000)
    ]
    out["decode"], _ = _cpu(
        lambda: np.frombuffer(b"".join(map(base64.b64decode, rows)), "<f4"), repeats
    )
    return out


def throughput(
    dim: int, batch: int, concurrency: int, n: int, latency: float, repeats: int
) -> dict[str, float]:
    """Median texts/s with ``latency`` per request: driftmon, a bare client, the bound."""
    server = Server(dim, latency)
    provider = _provider(server.url, dim, batch, concurrency)
    bare = RawClient(server.url, dim, batch, concurrency, parse=True)
    texts = _texts(n)
    try:
        provider.embed(texts, "query")  # warm
        bare.embed(texts)
        _, ours = _cpu(lambda: provider.embed(texts, "query"), repeats)
        _, theirs = _cpu(lambda: bare.embed(texts), repeats)
    finally:
        provider.close()
        bare.close()
        server.stop()
    batches = math.ceil(n / batch)
    rounds = math.ceil(batches / concurrency)
    bound = n / (rounds * latency)
    return {
        "texts_per_s": n / ours * 1e3,
        "bare_per_s": n / theirs * 1e3,
        "bound_per_s": bound,
        "ratio": n / ours * 1e3 / bound,
    }


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores; Python {platform.python_version()}, "
        f"httpx {httpx.__version__}, numpy {np.__version__}, {platform.system()}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="fewer repeats")
    ap.add_argument("--only", choices=["overhead", "throughput"], help="run one part")
    args = ap.parse_args()
    repeats = 5 if args.quick else 15
    print(f"machine: {machine()}")
    if args.only != "throughput":
        _overhead_table(repeats)
    if args.only != "overhead":
        _throughput_table(repeats)


def _overhead_table(repeats: int) -> None:
    print("\n## client CPU per 1,000 texts, no server latency (ms, median)")
    print(
        "| dim | batch | conc | driftmon | bare httpx+json+b64 | transport only "
        "| b64 decode | driftmon beyond b64 | driftmon layer (vs bare) | driftmon wall "
        "| bare wall |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for dim in (256, 1536):
        for batch, conc in ((64, 4), (256, 4), (1000, 1)):
            r = overhead(dim, batch, conc, repeats)
            print(
                f"| {dim} | {batch} | {conc} | {r['driftmon']:.1f} | {r['bare']:.1f} | "
                f"{r['transport']:.1f} | {r['decode']:.1f} | "
                f"{r['driftmon'] - r['decode']:.1f} | {r['driftmon'] - r['bare']:.1f} | "
                f"{r['driftmon_wall']:.1f} | {r['bare_wall']:.1f} |"
            )


def _throughput_table(repeats: int) -> None:
    print("\n## throughput with 20 ms server latency (dim 256; 8 rounds of requests)")
    print(
        "| batch | concurrency | texts | driftmon texts/s | bare httpx texts/s "
        "| latency bound texts/s | driftmon / bound |"
    )
    print("|---|---|---|---|---|---|---|")
    for batch in (16, 64, 256):
        for conc in (1, 4, 16):
            n = batch * conc * 8
            r = throughput(256, batch, conc, n, 0.020, max(3, repeats // 2))
            print(
                f"| {batch} | {conc} | {n} | {r['texts_per_s']:.0f} | {r['bare_per_s']:.0f} | "
                f"{r['bound_per_s']:.0f} | {r['ratio']:.2f} |"
            )


if __name__ == "__main__":
    main()
