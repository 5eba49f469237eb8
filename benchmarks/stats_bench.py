"""Speed and peak memory of monitor.stats next to the pooled Gram-matrix product.

For each size (n rows per side, dimension d) it measures, each in a fresh
subprocess so that peak RSS (``resource.getrusage(...).ru_maxrss``) belongs to
that one measurement:

* ``gram``       the unavoidable product: centred pooled float32 ``Z Z'``
                 (per stratum above the block size, as the suite does it);
* ``suite-null`` the full default suite (``run_suite``), nothing changed;
* ``suite-drift`` the same with a new topic in 10 % of the current window;
* ``verdict-null``, ``verdict-drift`` only what the verdict needs (``tests=["mmd"]``,
                 no explanation: MMD, the k-NN graph and the combined loop);
* ``mmd-null``   ``mmd_test`` alone, nothing changed;
* peers' MMD (frouros: permutation test; evidently: MMD²_u with a bootstrap
  threshold; alibi-detect: needs PyTorch) when ``--peers`` and they import
  from the interpreter given with ``--peers-python`` (a throwaway venv, never
  the project's).

Times are medians over ``--repeats`` runs inside the subprocess (after one
warm-up run for the small sizes). Data: unit vectors from 20 topics, a
same-topic cosine of about 0.5, float32, like sentence embeddings.

    python benchmarks/stats_bench.py --quick
    python benchmarks/stats_bench.py --n 1000 5000 20000 --d 384 768 1536
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def embeddings(n: int, d: int, seed: int, new: float = 0.0) -> np.ndarray:
    """Unit float32 vectors from 20 topics; a share ``new`` from an unseen 21st topic.

    Generated in float32 chunks so that the harness itself stays small.
    """
    centres = np.random.default_rng(12345 + d).standard_normal((21, d)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    rng = np.random.default_rng(seed)
    which = rng.integers(0, 20, size=n)
    which[: int(round(new * n))] = 20
    out = np.empty((n, d), dtype=np.float32)
    for lo in range(0, n, 4096):
        hi = min(lo + 4096, n)
        x = centres[which[lo:hi]] + rng.standard_normal((hi - lo, d), dtype=np.float32) / np.sqrt(d)
        out[lo:hi] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _child(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one measurement in this (fresh) process."""
    sys.path.insert(0, str(ROOT))
    n, d, what = spec["n"], spec["d"], spec["what"]
    ref = embeddings(n, d, seed=1)
    cur = embeddings(n, d, seed=2, new=0.1 if what.endswith("drift") else 0.0)
    base_mb = _peak_mb()
    out: dict[str, Any] = {}
    if what == "gram":
        from monitor.stats._workspace import Workspace

        ws = Workspace(ref, cur, seed=0)

        def run() -> None:
            for rows in ws.strata:
                zz = ws.centred_rows(rows)
                g = zz @ zz.T
                del g, zz

    elif what.startswith(("suite", "verdict")):
        from monitor.stats import run_suite

        # verdict-*: only what the verdict needs (mmd, the k-NN graph, the combined loop)
        only = {"tests": ["mmd"], "explain": False} if what.startswith("verdict") else {}

        def run() -> None:
            r = run_suite(
                ref,
                cur,
                alpha=spec["alpha"],
                n_permutations=spec["permutations"],
                seed=0,
                **only,  # type: ignore[arg-type]
            )
            out["verdict"] = r.verdict
            out["used"] = {k: t.details.get("n_permutations_used") for k, t in r.tests.items()}

    elif what == "mmd-null":
        from monitor.stats import mmd_test

        def run() -> None:
            r = mmd_test(ref, cur, alpha=spec["alpha"], n_permutations=spec["permutations"], seed=0)
            out["p_value"] = r.p_value

    elif what == "frouros":
        run = _frouros(ref, cur, spec["permutations"], out)
    elif what == "alibi":
        run = _alibi(ref, cur, spec["permutations"], out)
    elif what == "evidently":
        run = _evidently(ref, cur, out)
    else:
        raise SystemExit(f"unknown measurement {what!r}")
    times, cpu = [], []
    if spec.get("warmup"):
        run()
    for _ in range(spec["repeats"]):
        r0 = resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
        r1 = resource.getrusage(resource.RUSAGE_SELF)
        cpu.append(r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime)
    out.update(
        times=times,
        median_s=statistics.median(times),
        cpu_s=statistics.median(cpu),
        peak_rss_mb=_peak_mb(),
        data_rss_mb=base_mb,
        load_avg_1m=os.getloadavg()[0],
    )
    return out


def _frouros(ref: np.ndarray, cur: np.ndarray, b: int, out: dict[str, Any]) -> Any:
    from functools import partial

    from frouros.callbacks.batch import PermutationTestDistanceBased
    from frouros.detectors.data_drift import MMD
    from frouros.utils.kernels import rbf_kernel

    pooled = np.concatenate([ref, cur]).astype(np.float64)
    i = np.random.default_rng(0).integers(0, len(pooled), (2, 20_000))
    sigma = float(np.median(np.linalg.norm(pooled[i[0]] - pooled[i[1]], axis=1)))

    def run() -> None:
        detector = MMD(
            kernel=partial(rbf_kernel, sigma=sigma),
            callbacks=[
                PermutationTestDistanceBased(
                    num_permutations=b, random_state=0, num_jobs=1, name="perm"
                )
            ],
        )
        detector.fit(X=ref.astype(np.float64))
        _, logs = detector.compare(X=cur.astype(np.float64))
        out["p_value"] = float(logs["perm"]["p_value"])

    return run


def _evidently(ref: np.ndarray, cur: np.ndarray, out: dict[str, Any]) -> Any:
    import pandas as pd
    from evidently.legacy.metrics.data_drift.embedding_drift_methods import MMDDriftMethod

    ref_df, cur_df = pd.DataFrame(ref), pd.DataFrame(cur)

    def run() -> None:
        # evidently's MMD: one MMD²_u and a bootstrap threshold from ref (no p-value)
        stat, drift, _ = MMDDriftMethod(bootstrap=True)(cur_df, ref_df)
        out["verdict"] = f"mmd2={stat:.3g} drift={bool(drift)}"

    return run


def _alibi(ref: np.ndarray, cur: np.ndarray, b: int, out: dict[str, Any]) -> Any:
    from alibi_detect.cd import MMDDrift

    def run() -> None:
        detector = MMDDrift(ref, backend="pytorch", p_val=0.01, n_permutations=b)
        out["p_value"] = float(detector.predict(cur)["data"]["p_val"])

    return run


def measure(spec: dict[str, Any], python: str, timeout: float) -> dict[str, Any]:
    cmd = [python, __file__, "--child", json.dumps(spec)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {"error": f"did not finish in {timeout:.0f} s"}
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["?"])[-1]
        return {"error": tail[:160]}
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {"python": platform.python_version(), "numpy": np.__version__}
    try:
        import scipy

        info["scipy"] = scipy.__version__
    except ImportError:  # pragma: no cover
        pass
    try:
        with open("/proc/cpuinfo") as f:
            models = [ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")]
        info["cpu"] = models[0] if models else platform.processor()
    except OSError:
        info["cpu"] = platform.processor()
    info["cores"] = os.cpu_count()
    info["load_avg_1m"] = os.getloadavg()[0]
    try:
        from threadpoolctl import threadpool_info

        info["blas"] = [
            {k: p.get(k) for k in ("internal_api", "version", "num_threads", "architecture")}
            for p in threadpool_info()
            if p.get("user_api") == "blas"
        ]
    except ImportError:
        deps = np.show_config(mode="dicts")["Build Dependencies"]["blas"]  # type: ignore[index]
        info["blas"] = {k: deps.get(k) for k in ("name", "version")}
    info["OPENBLAS_CORETYPE"] = os.environ.get("OPENBLAS_CORETYPE")
    return info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true", help="n 1000 5000, d 768, 3 repeats")
    parser.add_argument("--n", type=int, nargs="+", default=[1000, 5000, 20000])
    parser.add_argument("--d", type=int, nargs="+", default=[384, 768, 1536])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--permutations", type=int, default=1000)
    parser.add_argument(
        "--alpha", type=float, default=0.01, help="level of the suite (drift.alpha default 0.01)"
    )
    parser.add_argument(
        "--what", nargs="+", default=["gram", "suite-null", "suite-drift", "mmd-null"]
    )
    parser.add_argument("--peers", action="store_true", help="also time peers' MMD")
    parser.add_argument("--peers-python", default="/tmp/peers-venv/bin/python")
    parser.add_argument("--peer-max-n", type=int, default=5000)
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument("--json-out", type=Path, help="write all results as JSON here")
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(_child(json.loads(args.child))))
        return 0
    sizes_n, sizes_d, repeats = args.n, args.d, args.repeats
    if args.quick:
        sizes_n, sizes_d = [1000, 5000], [768]
    facts = machine()
    print("machine:", json.dumps(facts))
    rows = []
    header = (
        f"{'n/side':>7} {'d':>5} {'what':<12} {'median s':>9} {'x gram':>7} {'cpu s':>7} "
        f"{'peak MB':>8} {'load':>5}  notes"
    )
    print(header)
    for n in sizes_n:
        for d in sizes_d:
            gram_s = None
            whats = list(args.what)
            if args.peers and n <= args.peer_max_n:
                whats += ["frouros", "evidently", "alibi"]
            for what in whats:
                peer = what in ("frouros", "evidently", "alibi")
                spec = {
                    "n": n,
                    "d": d,
                    "what": what,
                    "permutations": args.permutations,
                    "alpha": args.alpha,
                    "repeats": 1 if (peer or n >= 20000) else repeats,
                    "warmup": n <= 1000 and not peer,
                }
                python = args.peers_python if peer else sys.executable
                res = measure(spec, python, args.timeout)
                res.update(n=n, d=d, what=what)
                rows.append(res)
                if "error" in res:
                    print(
                        f"{n:>7} {d:>5} {what:<12} {'-':>9} {'-':>7} {'-':>7} {'-':>8} {'-':>5}  "
                        f"{res['error']}"
                    )
                    continue
                if what == "gram":
                    gram_s = res["median_s"]
                ratio = f"{res['median_s'] / gram_s:.2f}" if gram_s else "-"
                notes = res.get("verdict") or (
                    f"p={res['p_value']:.4g}" if "p_value" in res else ""
                )
                print(
                    f"{n:>7} {d:>5} {what:<12} {res['median_s']:>9.3f} {ratio:>7} "
                    f"{res['cpu_s']:>7.2f} {res['peak_rss_mb']:>8.0f} {res['load_avg_1m']:>5.1f}  "
                    f"{notes}",
                    flush=True,
                )
    if args.json_out:
        args.json_out.write_text(json.dumps({"machine": facts, "results": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
