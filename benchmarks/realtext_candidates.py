"""Candidate statistics for the verdict, measured on the real-text corpus (a search, not a test).

Each candidate is evaluated on the same ``--permutations`` label permutations
of each pair of ``realtext_bench.make_pair``; a candidate's p-value is its
permutation p-value, a combination's is the p-value of the maximum
standardised statistic over its members (as ``monitor.stats.combined``).
Printed: the share of pairs with p <= ``--alpha`` per cell and candidate.

Candidates: RBF MMD² at 0.25 / 0.5 / 1 / 2 x the median squared distance;
linear MMD² (centroid distance); Hotelling-like mean difference and RBF MMD²
in the pooled sample's top 16 / 64 principal components, whitened; Schilling's
k-NN share (k = 3, 10); isolation (share of current rows whose 3 or 5 nearest
pooled neighbours are all current); χ² of the 2 x k table of pooled k-means
clusters (k = 10, 30). Every transform depends on the pooled rows only, so
every permutation p-value is exact.

``--oracle`` prints, per topic, the Mahalanobis distance between the topic
and the rest that the held-out AUC of a linear discriminant implies
(sqrt 2 x probit of the AUC; fitted on 8000 rows, AUC on the rest) and the
power at alpha 0.05 of a z-test that *knew* the topic's direction; then the
power of Hotelling's test of the mean in the top r principal components with
the covariance known (``hotelling_bound``): what a test that must search r
directions for the shift can do. ``--neighbours`` prints how often the
nearest pooled neighbours of a new topic's rows are current rows.

    python benchmarks/realtext_candidates.py --cells new-5:1000 new-10:1000 null:1000 --pairs 20
    python benchmarks/realtext_candidates.py --oracle
    python benchmarks/realtext_candidates.py --neighbours --pairs 12
    python benchmarks/realtext_candidates.py --data benchmarks/.cache/w120/realtext.npz
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy.cluster.vq import kmeans2
from scipy.stats import norm

sys.path.insert(0, str(Path(__file__).resolve().parent))

import realtext_bench

COMBOS = {
    "verdict (mmd+knn10+iso5)": ["mmd1.0", "knn10", "iso5"],
    "mmdagg (4 bandwidths)": ["mmd0.25", "mmd0.5", "mmd1.0", "mmd2.0"],
    "mmdagg+knn10+iso5": ["mmd0.25", "mmd0.5", "mmd1.0", "mmd2.0", "knn10", "iso5"],
    "mmdagg+clu30+iso5": ["mmd0.25", "mmd0.5", "mmd1.0", "mmd2.0", "clu30", "iso5"],
    "whitened (hot, mmdW)+iso5": ["hot16", "hot64", "mmdW16", "mmdW64", "iso5"],
}


def candidates(
    x: np.ndarray, n: int, perms: int, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Statistic per candidate: index 0 observed, then ``perms`` permutations."""
    size = x.shape[0]
    gram = x @ x.T
    sq = np.diag(gram)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2 * gram, 0)
    upper = np.triu_indices(size, 1)
    med = float(np.median(d2[upper]))
    ref = np.zeros((size, perms + 1))
    ref[:n, 0] = 1.0
    for b in range(1, perms + 1):
        ref[rng.permutation(size)[:n], b] = 1.0
    cur = 1.0 - ref

    def mmd(k: np.ndarray) -> np.ndarray:
        k = k.copy()
        np.fill_diagonal(k, 0.0)
        kr, kc = k @ ref, k @ cur
        m = size - n
        return (
            (ref * kr).sum(0) / (n * (n - 1))
            + (cur * kc).sum(0) / (m * (m - 1))
            - 2 * (ref * kc).sum(0) / (n * m)
        )

    out = {f"mmd{f}": mmd(np.exp(-d2 / (f * med))) for f in (0.25, 0.5, 1.0, 2.0)}
    out["linear"] = mmd(gram)
    u = np.linalg.svd(x - x.mean(0), full_matrices=False)[0]
    for r in (16, 64):
        w = u[:, :r] * np.sqrt(size)
        gw = w @ w.T
        out[f"hot{r}"] = mmd(gw)
        sw = np.diag(gw)
        dw = np.maximum(sw[:, None] + sw[None, :] - 2 * gw, 0)
        out[f"mmdW{r}"] = mmd(np.exp(-dw / float(np.median(dw[upper]))))
    np.fill_diagonal(d2, np.inf)
    nb = np.argpartition(d2, 10, axis=1)[:, :10]
    nb = np.take_along_axis(nb, np.take_along_axis(d2, nb, 1).argsort(1), 1)
    is_ref = ref.T.astype(bool)
    same = is_ref[:, nb] == is_ref[:, :, None]
    out["knn10"], out["knn3"] = same.mean((1, 2)), same[:, :, :3].mean((1, 2))
    is_cur = ~is_ref
    for k in (3, 5):
        out[f"iso{k}"] = (is_cur[:, nb[:, :k]].all(2) & is_cur).sum(1) / (size - n)
    for k in (10, 30):
        labels = kmeans2(x, k, seed=1, minit="++")[1]
        onehot = np.eye(k)[labels]
        a, b = ref.T @ onehot, cur.T @ onehot
        e_a = (a + b) * n / size
        e_b = (a + b) - e_a
        with np.errstate(invalid="ignore", divide="ignore"):
            chi = (a - e_a) ** 2 / e_a + (b - e_b) ** 2 / e_b
        out[f"clu{k}"] = np.nansum(np.where(a + b > 0, chi, 0.0), 1)
    return out


def p_value(t: np.ndarray) -> float:
    return float((1 + np.count_nonzero(t[1:] >= t[0])) / t.size)


def max_z(stats: dict[str, np.ndarray], names: list[str]) -> np.ndarray:
    z = [(stats[k] - stats[k][1:].mean()) / (stats[k][1:].std() or 1.0) for k in names]
    return np.max(z, axis=0)


def oracle(emb: np.ndarray, topic: np.ndarray, names: np.ndarray) -> None:
    rng = np.random.default_rng(0)
    order = rng.permutation(topic.size)
    fit, held = order[:8000], order[8000:]
    z = norm.ppf(0.95)
    print("| topic | AUC (held out) | Mahalanobis | oracle power 5 % / 10 %, n = 1000 |")
    print("|---|---:|---:|---:|")
    for t in range(int(topic.max()) + 1):
        a, b = emb[fit][topic[fit] == t], emb[fit][topic[fit] != t]
        cov = np.cov(np.concatenate([a - a.mean(0), b - b.mean(0)]).T) + 1e-3 * np.eye(emb.shape[1])
        w = np.linalg.solve(cov, a.mean(0) - b.mean(0))
        s1, s0 = emb[held][topic[held] == t] @ w, emb[held][topic[held] != t] @ w
        auc = float((s1[:, None] > s0[None, :]).mean())
        dist = float(np.sqrt(2) * norm.ppf(auc))  # the separation the held-out AUC implies
        power = [float(norm.cdf(p * dist * np.sqrt(1000 / 2) - z)) for p in (0.05, 0.10)]
        print(f"| {names[t]} | {auc:.3f} | {dist:.2f} | {power[0]:.2f} / {power[1]:.2f} |")


def hotelling_bound(emb: np.ndarray, topic: np.ndarray, names: np.ndarray) -> None:
    """Power of the best test of the *mean* confined to the top r principal components.

    Per topic: ``delta`` = topic mean minus the mean of the rest, ``C`` = the
    covariance of the rest (the reference), ``D2_r`` = ``delta' C^-1 delta``
    restricted to the top ``r`` components of ``C``. A new topic at share p
    shifts the mean by ``p delta``; Hotelling's test in those r components with
    ``C`` known has a non-central chi-square with r degrees of freedom and
    ``lambda = (n / 2) p^2 D2_r`` (n per side). No omnibus mean test that must
    look in r directions does better; MMD and the neighbour tests also see
    changes of shape, so they can exceed it a little.
    """
    from scipy.stats import chi2, ncx2

    cells = ((0.05, 1000), (0.10, 1000), (0.20, 200))
    ranks = (4, 16, 64)
    print(
        "| topic | "
        + " | ".join(f"D2, r = {r}" for r in ranks)
        + " | "
        + " | ".join(f"power r = {r} (5 % / 10 % / 20 % at n = 200)" for r in ranks)
        + " |"
    )
    print("|---|" + "---:|" * (2 * len(ranks)))
    table = []
    for t in range(int(topic.max()) + 1):
        a, b = emb[topic == t], emb[topic != t]
        delta = a.mean(0) - b.mean(0)
        vals, vecs = np.linalg.eigh(np.cov(b.T))
        order = np.argsort(vals)[::-1]
        d2s, powers = [], []
        for r in ranks:
            top = order[:r]
            d2 = float(((vecs[:, top].T @ delta) ** 2 / vals[top]).sum())
            crit = chi2.isf(0.05, r)
            d2s.append(d2)
            powers.append([float(ncx2.sf(crit, r, n / 2 * p * p * d2)) for p, n in cells])
        table.append(powers)
        print(
            f"| {names[t]} | "
            + " | ".join(f"{d:.2f}" for d in d2s)
            + " | "
            + " | ".join(" / ".join(f"{v:.2f}" for v in pw) for pw in powers)
            + " |"
        )
    mean = np.mean(np.asarray(table), axis=0)
    print("| mean | | | | " + " | ".join(" / ".join(f"{v:.2f}" for v in pw) for pw in mean) + " |")


def neighbour_shares(emb: np.ndarray, topic: np.ndarray, pairs: int) -> None:
    """Share of current rows among the k nearest pooled neighbours, by kind of row.

    For the new-topic scenarios: the new topic's rows (the last rows of
    ``cur`` in ``make_pair``), the other current rows and the reference rows.
    Under "no drift" every share is about 0.5; a clump of new-topic rows would
    push theirs towards 1.
    """
    ks = (1, 5, 10, 20)
    for scenario, n in (("new-5", 1000), ("new-10", 1000), ("new-20", 200)):
        shares: dict[tuple[int, str], list[float]] = {}
        for pair in range(pairs):
            rng = np.random.default_rng([n, realtext_bench.SCENARIOS.index(scenario), pair])
            ref, cur, _ = realtext_bench.make_pair(topic, scenario, n, pair, rng)
            x = np.concatenate([emb[ref], emb[cur]]).astype(np.float64)
            size, new = x.shape[0], int(round(int(scenario[4:]) / 100 * n))
            sims = x @ x.T
            np.fill_diagonal(sims, -np.inf)
            near = np.argsort(-sims, axis=1)[:, : max(ks)]
            is_cur = np.arange(size) >= n
            kinds = {
                "new topic": np.arange(size) >= size - new,
                "other cur": is_cur & (np.arange(size) < size - new),
                "ref": ~is_cur,
            }
            for k in ks:
                share = is_cur[near[:, :k]].mean(axis=1)
                for kind, rows in kinds.items():
                    shares.setdefault((k, kind), []).append(float(share[rows].mean()))
        print(f"{scenario} n={n} pairs={pairs}")
        for k in ks:
            print(
                f"  k={k:>2}: "
                + "  ".join(f"{kind} {np.mean(shares[(k, kind)]):.3f}" for kind in kinds)
            )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cells", nargs="+", default=["null:1000", "new-5:1000", "new-10:1000"])
    ap.add_argument("--pairs", type=int, default=10, help="shifted pairs per cell (null: twice)")
    ap.add_argument("--permutations", type=int, default=200)
    ap.add_argument("--alpha", type=float, default=0.05)
    ap.add_argument("--oracle", action="store_true")
    ap.add_argument("--neighbours", action="store_true", help="current share among neighbours")
    ap.add_argument("--data", type=Path, help="another corpus file (realtext_corpus.py --words)")
    args = ap.parse_args()
    emb, topic = realtext_bench.load(args.data, partial=False)
    if args.neighbours:
        neighbour_shares(emb, topic, args.pairs)
        return
    if args.oracle:
        import realtext_corpus

        names = realtext_corpus.load(args.data)["topics"]
        oracle(emb.astype(np.float64), topic, names)
        print()
        hotelling_bound(emb.astype(np.float64), topic, names)
        return
    for cell in args.cells:
        scenario, n = cell.split(":")[0], int(cell.split(":")[1])
        rows: list[dict[str, float]] = []
        for pair in range(args.pairs * (2 if scenario == "null" else 1)):
            rng = np.random.default_rng([n, realtext_bench.SCENARIOS.index(scenario), pair])
            ref, cur, _ = realtext_bench.make_pair(topic, scenario, n, pair, rng)
            x = np.concatenate([emb[ref], emb[cur]]).astype(np.float64)
            stats = candidates(x, n, args.permutations, np.random.default_rng(pair + 99))
            ps = {k: p_value(v) for k, v in stats.items()}
            for name, members in COMBOS.items():
                ps[name] = p_value(max_z(stats, members))
            rows.append(ps)
        rates = {k: np.mean([r[k] <= args.alpha for r in rows]) for k in rows[0]}
        print(
            f"{scenario} n={n} pairs={len(rows)} "
            + " ".join(f"{k}={v:.2f}" for k, v in rates.items())
        )


if __name__ == "__main__":
    main()
