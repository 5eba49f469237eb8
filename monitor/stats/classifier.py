"""Domain classifier (classifier two-sample test): can a model tell ``cur`` from ``ref``?

Model. L2-regularised logistic regression of "is cur" on label-free features
of the pooled sample -- the standardised scores on the top pooled principal
components and their squares (so changes of spread are separable, not only
shifts). It is fitted by one step of the Böhning-Lindsay MM algorithm from
``β = 0``: the logistic Hessian is bounded by ``X'X / 4``, so the step
``β = (X_c'X_c / 4 + λ I)^{-1} ∇`` with class-balanced weights gives
``β ∝ (X_c'X_c / 4 + λ I)^{-1} (mean_cur - mean_ref)`` (``X_c`` = centred
training features), a ridge-regularised linear discriminant. Near "no
drift", the regime where detection is hard, it agrees with the converged fit
to first order; and it is linear in the labels, which makes the exact test
below cheap.

Test. Stratified ``k``-fold cross-fitting gives out-of-fold scores; ranks are
compared within each fold (scores of different folds come from different
models) and summed: ``U = Σ_f U_f`` (van Elteren 1960), reported as
``AUC = U / Σ_f n_f m_f``. The Mann-Whitney normal approximation on these
scores is *not* valid: ``U_f`` and ``U_g`` are positively correlated under
the null (the model for fold ``f`` is trained on fold ``g``'s chance pattern
and vice versa), which roughly doubles the variance of ``U`` -- measured
false-alarm rate 0.12 at nominal 0.05. The p-value therefore comes from label
permutations within folds (which keep the stratification), re-running the
whole cross-fitting for each: per fold and batch of ``b`` relabellings it is
two ``(N, p) x (p, b)`` products and a column-wise ranking, with
Besag-Clifford early stopping.

References
----------
Lopez-Paz, D. and Oquab, M. (2017). Revisiting classifier two-sample tests.
ICLR.
Böhning, D. and Lindsay, B. G. (1988). Monotonicity of quadratic
approximation algorithms. Ann. Inst. Statist. Math. 40(4), 641-663.
van Elteren, P. H. (1960). On the combination of independent two-sample tests
of Wilcoxon. Bull. Int. Statist. Inst. 37, 351-361.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from monitor.stats._checks import check_alpha, check_int, check_seed, require_samples
from monitor.stats._workspace import STREAM_FOLDS, Workspace
from monitor.stats.permutation import (
    Permuter,
    permutation_test,
    stopping_rules,
)
from monitor.stats.result import TestResult
from monitor.stats.univariate import DEFAULT_COMPONENTS, pca_scores

__all__ = [
    "CrossFitted",
    "classifier_from_workspace",
    "classifier_test",
    "stratified_folds",
]

N_FEATURE_COMPONENTS = 32


def stratified_folds(
    labels: NDArray[np.bool_], k: int, rng: np.random.Generator
) -> NDArray[np.intp]:
    """Fold id in ``0..k-1`` for each row, each class spread evenly over folds."""
    folds = np.empty(labels.size, dtype=np.intp)
    for cls in (False, True):
        idx = np.flatnonzero(labels == cls)
        idx = idx[rng.permutation(idx.size)]
        folds[idx] = np.arange(idx.size) % k
    return folds


def _features(ws: Workspace, k: int) -> NDArray[np.float64]:
    kk = min(k, DEFAULT_COMPONENTS)
    scores = pca_scores(ws, DEFAULT_COMPONENTS)[:, :kk]
    sd = scores.std(axis=0)
    z = scores / np.where(sd > 0, sd, 1.0)
    sq = z * z
    sq = (sq - sq.mean(axis=0)) / np.where(sq.std(axis=0) > 0, sq.std(axis=0), 1.0)
    return np.concatenate([z, sq], axis=1)


def _u_statistic(scores: NDArray[np.float64], is_ref: NDArray[np.bool_]) -> NDArray[np.float64]:
    """Mann-Whitney U of cur over ref per row (ties count 1/2); scores and is_ref (b, n)."""
    order = np.argsort(scores, axis=1)
    ranked = np.take_along_axis(scores, order, axis=1)
    if np.any(ranked[:, 1:] == ranked[:, :-1]):
        ranks = stats.rankdata(scores, axis=1)  # mid-ranks for ties
        n_cur = (~is_ref).sum(axis=1)
        u = np.einsum("ij,ij->i", ranks, ~is_ref) - n_cur * (n_cur + 1) / 2.0
        return np.asarray(u, dtype=np.float64)
    ref_sorted = np.take_along_axis(is_ref, order, axis=1)
    below = np.cumsum(ref_sorted, axis=1)  # ref rows ranked below each position
    return np.asarray(np.einsum("ij,ij->i", below, ~ref_sorted), dtype=np.float64)


class CrossFitted:
    """Out-of-fold AUC of the one-step L2 logistic model for many labellings.

    Parameters
    ----------
    x : ndarray, shape (N, p)
        Label-free features of the pooled rows.
    folds : ndarray of int, shape (N,)
        Fold id per row.
    n_ref : int
        Rows ``0..n_ref-1`` are ref in the true labelling.
    l2 : float
        Ridge penalty ``λ`` on the standardised features.
    groups : ndarray of int, shape (N,), optional
        Id of each row's distinct value; identical rows are scored once so that
        they tie exactly.
    """

    def __init__(
        self,
        x: NDArray[np.float64],
        folds: NDArray[np.intp],
        n_ref: int,
        l2: float,
        groups: NDArray[np.intp] | None = None,
    ) -> None:
        self.k = int(folds.max()) + 1
        # rows reordered so that every fold is a contiguous block
        self.order = np.argsort(folds, kind="stable")
        self.x = x[self.order]
        bounds = np.concatenate([[0], np.cumsum(np.bincount(folds, minlength=self.k))])
        self.blocks = [slice(int(bounds[f]), int(bounds[f + 1])) for f in range(self.k)]
        self.rows = [self.order[b] for b in self.blocks]  # pooled row indices per fold
        ids = np.arange(x.shape[0]) if groups is None else groups[self.order]
        self.distinct = []
        for b in self.blocks:
            _, first, inverse = np.unique(ids[b], return_index=True, return_inverse=True)
            self.distinct.append((self.x[b][first], inverse.ravel()))
        is_ref = self.order < n_ref
        self.n_ref_test = [int(is_ref[b].sum()) for b in self.blocks]
        self.n_ref_train = [n_ref - nr for nr in self.n_ref_test]
        self.x32 = self.x.astype(np.float32)
        total = self.x.sum(axis=0)
        # H_f^{-1} for the training part of each fold (all rows but block f)
        self.inverse = []
        self.train_sums = [total - self.x[b].sum(axis=0) for b in self.blocks]
        for b in self.blocks:
            train = np.delete(self.x, b, axis=0)
            xc = train - train.mean(axis=0)
            h = xc.T @ xc / 4.0
            h[np.diag_indices_from(h)] += l2
            self.inverse.append(np.linalg.inv(h))  # SPD and well conditioned (ridge)
        self.pairs = float(
            sum(
                nr * (b.stop - b.start - nr)
                for nr, b in zip(self.n_ref_test, self.blocks, strict=True)
            )
        )

    def auc(self, indicator: NDArray[np.bool_]) -> NDArray[np.float64]:
        """Stratified out-of-fold AUC for each labelling column (True = ref), shape (b,)."""
        at = np.ascontiguousarray(indicator[self.order].T)  # (b, N), rows = labellings
        at32 = at.astype(np.float32)
        ref_all = (at32 @ self.x32).astype(np.float64)  # (b, p): ref sums over every row
        u = np.zeros(at.shape[0])
        for f, blk in enumerate(self.blocks):
            ref_train = ref_all - (at32[:, blk] @ self.x32[blk]).astype(np.float64)
            n_r = self.n_ref_train[f]
            n_c = (self.x.shape[0] - (blk.stop - blk.start)) - n_r
            cur_train = self.train_sums[f][None, :] - ref_train
            beta = (cur_train / n_c - ref_train / n_r) @ self.inverse[f]  # (b, p); H symmetric
            x_distinct, inverse = self.distinct[f]
            scores = (beta @ x_distinct.T)[:, inverse]  # (b, rows of the fold)
            u += _u_statistic(scores, at[:, blk])
        return u / self.pairs


def classifier_from_workspace(
    ws: Workspace,
    *,
    alpha: float,
    n_permutations: int = 1000,
    n_folds: int = 5,
    l2: float = 1.0,
    n_components: int = N_FEATURE_COMPONENTS,
    sequential: bool = True,
) -> TestResult:
    """:func:`classifier_test` on a prepared workspace."""
    x = _features(ws, n_components)
    k = max(2, min(n_folds, ws.n_ref, ws.n_cur))
    folds = stratified_folds(~ws.is_ref, k, ws.rng(STREAM_FOLDS))
    model = CrossFitted(x, folds, ws.n_ref, l2, groups=ws.distinct[1])
    permuter = Permuter(ws.n_ref, ws.n_cur, ws.seed, model.rows)
    observed = float(model.auc(permuter.observed())[0])
    out = permutation_test(
        observed,
        model.auc,
        permuter,
        n_permutations,
        rel_tol=1e-12,
        **stopping_rules(alpha, n_permutations, sequential, ws.verdict_family),
    )
    return TestResult(
        name="classifier",
        statistic=observed,
        p_value=out.p_value,
        threshold=out.quantile(alpha),
        drift=out.p_value <= alpha,
        effect=observed,
        effect_label="out-of-fold ROC AUC of a ref-vs-cur classifier (0.5 = indistinguishable)",
        n_ref=ws.n_ref,
        n_cur=ws.n_cur,
        seed=ws.seed,
        details={
            "n_folds": k,
            "l2": l2,
            "n_features": int(x.shape[1]),
            "model": "L2 logistic regression, one Böhning-Lindsay step, on pooled-PCA "
            "scores and their squares",
            "n_permutations_used": out.n_used,
        },
    )


def classifier_test(
    ref: ArrayLike,
    cur: ArrayLike,
    *,
    alpha: float = 0.01,
    n_permutations: int = 1000,
    n_folds: int = 5,
    l2: float = 1.0,
    n_components: int = N_FEATURE_COMPONENTS,
    seed: int = 0,
    sequential: bool = True,
) -> TestResult:
    """Classifier two-sample test with cross-fitted logistic regression.

    Parameters
    ----------
    ref : array_like, shape (n, d)
    cur : array_like, shape (m, d)
    alpha : float
        Level of the verdict.
    n_permutations : int
        Maximum permutations (within folds) of the cross-fitting.
    n_folds : int
        Number of stratified folds (at least 2, at most the smaller sample).
    l2 : float
        L2 penalty on the standardised features.
    n_components : int
        Pooled principal components used as features (up to 64); their
        squares are added.
    seed : int
        Seed of the PCA, the fold assignment and the permutations.
    sequential : bool
        Besag-Clifford early stopping (same verdict as all permutations).

    Returns
    -------
    TestResult
        ``statistic`` = ``effect`` = fold-stratified out-of-fold AUC;
        ``threshold`` = 1 - alpha quantile of the permutation AUCs.
    """
    alpha = check_alpha(alpha)
    n_folds = check_int(n_folds, "n_folds", 2)
    n_components = check_int(n_components, "n_components", 1)
    if not np.isfinite(l2) or l2 <= 0:
        raise ValueError(f"l2 must be a positive number, got {l2!r}")
    ws = Workspace(ref, cur, seed=check_seed(seed))
    require_samples(ws.n_ref, ws.n_cur, 2, "classifier")
    return classifier_from_workspace(
        ws,
        alpha=alpha,
        n_permutations=check_int(n_permutations, "n_permutations", 1),
        n_folds=n_folds,
        l2=l2,
        n_components=n_components,
        sequential=sequential,
    )
