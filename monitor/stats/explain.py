"""Explanation of a drift: which reference topics grew or shrank, which new ones emerged.

1. Spherical k-means (cosine; Dhillon & Modha 2001) with k-means++ seeding
   (Arthur & Vassilvitskii 2007) is fitted on the unit-normalised ``ref``.
2. ``ref`` and ``cur`` are assigned to the nearest centroid; the 2 x k
   occupancy table gets Pearson's chi-square homogeneity test, and each
   cluster its adjusted residual (Agresti 2013, §2.4.5), which is N(0, 1) under
   homogeneity. A cluster "grew" / "shrank" when the residual exceeds the
   two-sided Bonferroni critical value ``z_{1 - alpha / (2k)}``.
3. Current points flagged novel (see ``novelty``) are grouped among
   themselves by single-linkage clustering on the cosine, cut at the novelty
   threshold ``t``: two novel points are linked when they are at least as
   similar as ``t``, the similarity that 99 % of reference points exceed to
   their nearest reference neighbour. So a group is a chain of novel points
   that are as close to each other as reference points are to reference
   points, while all are far from the reference. Groups of at least
   ``max(3, 0.5 % of m)`` points are reported; ``cohesion`` is their mean
   pairwise cosine.
4. For each cluster and group the most central members (highest cosine to the
   centre) are returned as indices into ``cur`` and ``ref``, so a caller can
   show example queries.

References
----------
Dhillon, I. S. and Modha, D. S. (2001). Concept decompositions for large
sparse text data using clustering. Machine Learning 42, 143-175.
Arthur, D. and Vassilvitskii, S. (2007). k-means++: the advantages of careful
seeding. SODA, 1027-1035.
Agresti, A. (2013). Categorical Data Analysis, 3rd ed. Wiley.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats
from scipy.cluster import hierarchy
from scipy.spatial.distance import squareform

from monitor.stats._checks import check_alpha, check_int, check_seed, require_samples
from monitor.stats._neighbours import neighbours
from monitor.stats._workspace import STREAM_KMEANS, Workspace
from monitor.stats.novelty import novelty_threshold
from monitor.stats.result import ClusterShift, EmergingGroup, Explanation

__all__ = ["explain", "explain_from_workspace", "spherical_kmeans"]

N_EXAMPLES = 5
_MAX_NOVEL = 2_000
_MAX_MEMBERS = 100
_MAX_GROUPS = 10


def spherical_kmeans(
    unit: NDArray[np.floating[Any]], k: int, rng: np.random.Generator, n_iter: int = 30
) -> tuple[NDArray[np.floating[Any]], NDArray[np.intp]]:
    """Spherical k-means of unit rows (n, d): centroids (k, d) of unit norm and labels (n,)."""
    n = unit.shape[0]
    k = max(1, min(k, n))
    centres = np.empty((k, unit.shape[1]), dtype=unit.dtype)
    centres[0] = unit[rng.integers(n)]
    best = unit @ centres[0]
    for j in range(1, k):  # k-means++ on the cosine distance 1 - cos
        dist = np.clip(1.0 - best.astype(np.float64), 0.0, None)
        total = dist.sum()
        pick = int(rng.choice(n, p=dist / total)) if total > 0 else int(rng.integers(n))
        centres[j] = unit[pick]
        best = np.maximum(best, unit @ centres[j])
    labels = np.full(n, -1, dtype=np.intp)
    for _ in range(n_iter):
        sims = unit @ centres.T
        new = np.argmax(sims, axis=1)
        if np.array_equal(new, labels):
            break
        labels = new
        sums = _cluster_sums(unit, labels, k)
        counts = np.bincount(labels, minlength=k)
        for empty in np.flatnonzero(counts == 0):  # re-seed an empty cluster at the worst fit
            worst = int(np.argmin(sims[np.arange(n), labels]))
            sums[empty] = unit[worst]
            labels[worst] = empty
            counts[j] = 1
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        centres = (sums / np.where(norms > 0, norms, 1.0)).astype(unit.dtype)
    return centres, labels


def _cluster_sums(
    unit: NDArray[np.floating[Any]], labels: NDArray[np.intp], k: int
) -> NDArray[np.float64]:
    """Per-cluster sums of rows, shape (k, d), as one (k, n) @ (n, d) product."""
    onehot = np.zeros((k, unit.shape[0]), dtype=unit.dtype)
    onehot[labels, np.arange(unit.shape[0])] = 1.0
    return np.asarray(onehot @ unit, dtype=np.float64)


def _central(
    unit: NDArray[np.floating[Any]],
    members: NDArray[np.intp],
    centre: NDArray[np.floating[Any]],
    count: int,
) -> tuple[int, ...]:
    if members.size == 0:
        return ()
    sims = unit[members] @ centre
    order = np.argsort(-sims, kind="stable")[:count]
    return tuple(int(i) for i in members[order])


def _occupancy(ws: Workspace, k: int, alpha: float) -> tuple[float, float, list[ClusterShift]]:
    n = ws.n_ref
    unit = ws.unit
    centres, ref_labels = spherical_kmeans(unit[:n], k, ws.rng(STREAM_KMEANS))
    k = centres.shape[0]
    cur_labels = np.argmax(unit[n:] @ centres.T, axis=1)
    rc = np.bincount(ref_labels, minlength=k).astype(np.float64)
    cc = np.bincount(cur_labels, minlength=k).astype(np.float64)
    used = (rc + cc) > 0
    if used.sum() >= 2:
        test = stats.chi2_contingency(np.vstack([rc[used], cc[used]]), correction=False)
        chi2, p = float(test[0]), float(test[1])
    else:
        chi2, p = 0.0, 1.0
    total = rc + cc
    big_n = float(ws.n)
    expected_c = total * ws.n_cur / big_n
    denom = np.sqrt(expected_c * (1 - ws.n_cur / big_n) * (1 - total / big_n))
    with np.errstate(divide="ignore", invalid="ignore"):
        resid = np.where(denom > 0, (cc - expected_c) / denom, 0.0)
    z = float(stats.norm.isf(alpha / (2 * k)))
    clusters = []
    for j in range(k):
        ref_share, cur_share = rc[j] / n, cc[j] / ws.n_cur
        status: Literal["grew", "shrank", "stable"] = (
            "grew" if resid[j] > z else "shrank" if resid[j] < -z else "stable"
        )
        clusters.append(
            ClusterShift(
                cluster=j,
                ref_count=int(rc[j]),
                cur_count=int(cc[j]),
                ref_share=float(ref_share),
                cur_share=float(cur_share),
                ratio=float(cur_share / ref_share) if ref_share > 0 else None,
                residual=float(resid[j]),
                status=status,
                cur_examples=_central(
                    unit[n:], np.flatnonzero(cur_labels == j), centres[j], N_EXAMPLES
                ),
                ref_examples=_central(
                    unit[:n], np.flatnonzero(ref_labels == j), centres[j], N_EXAMPLES
                ),
            )
        )
    clusters.sort(key=lambda c: -abs(c.residual))
    return float(chi2), float(p), clusters


def _within_similarity(unit: NDArray[np.floating[Any]], labels: NDArray[np.intp]) -> float:
    """Size-weighted mean pairwise cosine inside the clusters given by ``labels``."""
    sums = _cluster_sums(unit, labels, int(labels.max()) + 1)
    counts = np.bincount(labels).astype(np.float64)
    ok = counts > 1
    within = (np.einsum("ij,ij->i", sums, sums)[ok] - counts[ok]) / (counts[ok] * (counts[ok] - 1))
    return float(np.sum(within * counts[ok]) / counts[ok].sum()) if ok.any() else 1.0


def _emerging(
    ws: Workspace, novel: NDArray[np.intp], tau: float, min_group: int
) -> list[EmergingGroup]:
    if novel.size < min_group:
        return []
    if novel.size > _MAX_NOVEL:
        novel = np.sort(ws.rng(STREAM_KMEANS, 1).choice(novel, _MAX_NOVEL, replace=False))
    n = ws.n_ref
    unit_c = ws.unit[n:]
    u = unit_c[novel].astype(np.float64)
    dist = np.clip(1.0 - u @ u.T, 0.0, 2.0)  # zero vectors: cosine 0, distance 1
    np.fill_diagonal(dist, 0.0)
    tree = hierarchy.linkage(squareform(dist, checks=False), method="single")
    labels = hierarchy.fcluster(tree, t=max(1.0 - tau, 1e-12), criterion="distance")
    sizes = np.bincount(labels)
    groups: list[EmergingGroup] = []
    for lab in np.argsort(-sizes, kind="stable"):
        if sizes[lab] < min_group or len(groups) >= _MAX_GROUPS:
            break
        members = novel[labels == lab]
        centre = unit_c[members].astype(np.float64).sum(axis=0)
        centre /= max(float(np.linalg.norm(centre)), 1e-300)
        centre_w = centre.astype(ws.unit.dtype)
        to_ref = ws.unit[:n] @ centre_w
        nearest = np.argsort(-to_ref, kind="stable")[:3]
        groups.append(
            EmergingGroup(
                group=len(groups),
                size=int(members.size),
                share=members.size / ws.n_cur,
                cohesion=_within_similarity(unit_c[members], np.zeros(members.size, dtype=np.intp)),
                max_cosine_to_ref=float(to_ref[nearest[0]]),
                cur_examples=_central(unit_c, members, centre_w, N_EXAMPLES),
                nearest_ref=tuple(int(i) for i in nearest),
                members=tuple(int(i) for i in members[:_MAX_MEMBERS]),
            )
        )
    return groups


def default_clusters(n_ref: int, n_cur: int) -> int:
    """``k = clip(min(n, m) // 25, 2, 20)``: about 25+ points per cluster and side."""
    return int(np.clip(min(n_ref, n_cur) // 25, 2, 20))


def explain_from_workspace(
    ws: Workspace,
    *,
    alpha: float,
    n_clusters: int | None = None,
    quantile: float = 0.01,
) -> Explanation:
    """:func:`explain` on a prepared workspace."""
    k = default_clusters(ws.n_ref, ws.n_cur) if n_clusters is None else n_clusters
    chi2, p, clusters = _occupancy(ws, k, alpha)
    nb = neighbours(ws)
    thr = novelty_threshold(ws, quantile)
    novel = np.flatnonzero(thr.novel(nb.cur_score))
    min_group = max(3, math.ceil(0.005 * ws.n_cur))
    return Explanation(
        k=len(clusters),
        statistic=chi2,
        p_value=p,
        clusters=tuple(clusters),
        emerging=tuple(_emerging(ws, novel, thr.cosine, min_group)),
        novel_share=novel.size / ws.n_cur,
        novelty_threshold=thr.cosine,
    )


def explain(
    ref: ArrayLike,
    cur: ArrayLike,
    *,
    alpha: float = 0.01,
    n_clusters: int | None = None,
    quantile: float = 0.01,
    seed: int = 0,
) -> Explanation:
    """Cluster-level explanation of how ``cur`` differs from ``ref``.

    Parameters
    ----------
    ref : array_like, shape (n, d)
    cur : array_like, shape (m, d)
    alpha : float
        Level for flagging a cluster as grown/shrunk (Bonferroni over clusters).
    n_clusters : int, optional
        Number of reference clusters; default ``clip(min(n, m) // 25, 2, 20)``.
    quantile : float
        Novelty quantile (see :func:`monitor.stats.novelty_test`).
    seed : int
        Seed of k-means seeding and subsampling.

    Returns
    -------
    Explanation
    """
    alpha = check_alpha(alpha)
    quantile = check_alpha(quantile, "quantile")
    ws = Workspace(ref, cur, seed=check_seed(seed))
    require_samples(ws.n_ref, ws.n_cur, 2, "explain")
    if n_clusters is not None:
        n_clusters = check_int(n_clusters, "n_clusters", 1)
    return explain_from_workspace(ws, alpha=alpha, n_clusters=n_clusters, quantile=quantile)
