"""Detection power and false-alarm rate of the drift verdict on mixtures with a new cluster.

Reference windows are drawn from a mixture of 10 clusters; in the current
window a share ``p`` comes from an 11th cluster never seen in the reference.
For each ``n`` (rows per side) and ``p`` it runs ``--reps`` seeded pairs and
prints the share of pairs where the verdict says drift (p = 0 is the false
alarm rate), and which primary test fired (Holm-adjusted p <= alpha).

Two data kinds:

* ``gauss``: a Gaussian mixture in R^d, centres ~ N(0, 4/d I) * sqrt(d)/2 apart
  (centre distance about 2.8, within-cluster covariance I / d * 4: overlapping);
* ``sphere``: the same mixture normalised to unit length (embedding-like,
  same-cluster cosine about 0.5).

Only the verdict family (mmd, novelty, classifier) is run: the other tests do
not change the verdict. With ``--peers`` the MMD permutation test of frouros
(from the ``--peers-python`` venv, never the project's) runs on the same arrays
for n <= ``--peer-max-n``, at the same alpha.

    python benchmarks/detection_bench.py --quick
    python benchmarks/detection_bench.py --n 200 1000 5000 --reps 20
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monitor.stats import PRIMARY_TESTS, run_suite  # noqa: E402

SHARES = (0.0, 0.02, 0.05, 0.1, 0.2, 0.5)
K = 10


def mixture(rng: np.random.Generator, n: int, d: int, share: float, kind: str) -> np.ndarray:
    centres = np.random.default_rng(2024 + d).standard_normal((K + 1, d)) * 2.0 / np.sqrt(d)
    which = rng.integers(0, K, size=n)
    which[: int(round(share * n))] = K
    x = centres[which] + rng.standard_normal((n, d)) * 2.0 / np.sqrt(d)
    if kind == "sphere":
        x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x.astype(np.float32)


PEER_SCRIPT = """
import json, sys
from functools import partial
import numpy as np
from frouros.callbacks.batch import PermutationTestDistanceBased
from frouros.detectors.data_drift import MMD
from frouros.utils.kernels import rbf_kernel
data = np.load(sys.argv[1])
ref, cur, b = data["ref"].astype(float), data["cur"].astype(float), int(sys.argv[2])
pooled = np.concatenate([ref, cur])
i = np.random.default_rng(0).integers(0, len(pooled), (2, 20000))
sigma = float(np.median(np.linalg.norm(pooled[i[0]] - pooled[i[1]], axis=1)))
det = MMD(kernel=partial(rbf_kernel, sigma=sigma),
          callbacks=[PermutationTestDistanceBased(num_permutations=b, random_state=0,
                                                  num_jobs=1, name="perm")])
det.fit(X=ref)
_, logs = det.compare(X=cur)
print(json.dumps({"p": float(logs["perm"]["p_value"])}))
"""


def peer_p(python: str, ref: np.ndarray, cur: np.ndarray, b: int, timeout: float) -> float | None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "pair.npz"
        np.savez(path, ref=ref, cur=cur)
        try:
            proc = subprocess.run(
                [python, "-c", PEER_SCRIPT, str(path), str(b)],
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return None
    if proc.returncode != 0:
        return None
    return float(json.loads(proc.stdout.strip().splitlines()[-1])["p"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="n 200 1000, 10 reps, sphere only")
    parser.add_argument("--n", type=int, nargs="+", default=[200, 1000, 5000])
    parser.add_argument("--d", type=int, default=64)
    parser.add_argument("--shares", type=float, nargs="+", default=list(SHARES))
    parser.add_argument("--kinds", nargs="+", default=["sphere", "gauss"])
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--alpha", type=float, default=0.01)
    parser.add_argument("--permutations", type=int, default=1000)
    parser.add_argument("--peers", action="store_true")
    parser.add_argument("--peers-python", default="/tmp/peers-venv/bin/python")
    parser.add_argument("--peer-max-n", type=int, default=1000)
    parser.add_argument("--peer-timeout", type=float, default=300.0)
    args = parser.parse_args(argv)
    sizes, kinds, reps = args.n, args.kinds, args.reps
    if args.quick:
        sizes, kinds, reps = [200, 1000], ["sphere"], 10
    print(
        f"alpha={args.alpha} permutations={args.permutations} d={args.d} reps={reps} "
        f"policy=Holm over {', '.join(PRIMARY_TESTS)}"
    )
    cols = " ".join(f"{t:>10}" for t in PRIMARY_TESTS)
    head = f"{'kind':<7}{'n/side':>7}{'share':>7}{'verdict':>9} {cols}"
    head += f"{'frouros':>9}" if args.peers else ""
    print(head + f"{'s/pair':>8}")
    for kind in kinds:
        for n in sizes:
            for share in args.shares:
                hits = 0
                fired = dict.fromkeys(PRIMARY_TESTS, 0)
                peer_hits, peer_runs = 0, 0
                t0 = time.perf_counter()
                for rep in range(reps):
                    rng = np.random.default_rng([n, rep, int(share * 1000)])
                    ref = mixture(rng, n, args.d, 0.0, kind)
                    cur = mixture(rng, n, args.d, share, kind)
                    res = run_suite(
                        ref,
                        cur,
                        alpha=args.alpha,
                        n_permutations=args.permutations,
                        seed=rep,
                        tests=PRIMARY_TESTS,
                        explain=False,
                    )
                    hits += res.drift
                    for t in PRIMARY_TESTS:
                        fired[t] += res.tests[t].details["holm_p_value"] <= args.alpha
                    if args.peers and n <= args.peer_max_n:
                        p = peer_p(
                            args.peers_python, ref, cur, args.permutations, args.peer_timeout
                        )
                        if p is not None:
                            peer_runs += 1
                            peer_hits += p <= args.alpha
                secs = (time.perf_counter() - t0) / reps
                line = f"{kind:<7}{n:>7}{share:>7.2f}{hits / reps:>9.2f} "
                line += " ".join(f"{fired[t] / reps:>10.2f}" for t in PRIMARY_TESTS)
                if args.peers:
                    line += f"{peer_hits / peer_runs:>9.2f}" if peer_runs else f"{'-':>9}"
                print(line + f"{secs:>8.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
