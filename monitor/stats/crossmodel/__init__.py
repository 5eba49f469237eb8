"""Blue-green comparison of two model versions on one labelled canary set.

Both versions (A, the serving one, and B, the candidate) embed the same canary
queries and documents, possibly at different dimensions. Each version searches
its own space (:func:`monitor.stats.retrieval.search`); the comparison reports:

* per-query retrieval deltas ``B - A`` for every measure of
  :mod:`monitor.stats.retrieval`, their mean, a paired bootstrap percentile
  confidence interval (queries resampled with replacement, the same resample
  for A and B), and a two-sided paired **sign-flip permutation test** of
  "mean difference = 0": the signs of the per-query differences are flipped at
  random, ``p = (1 + #{|mean*| >= |mean|}) / (1 + n_perm)``; all ``2**n`` sign
  vectors are enumerated instead when ``2**n <= n_perm`` (exact p-value);
* agreement of the two top-k lists per query (``k = max(ks)``): Jaccard overlap
  ``|A_k ∩ B_k| / |A_k ∪ B_k|`` and rank-biased overlap in its *extrapolated*
  form for two lists of the same depth ``k`` (Webber et al. 2010)::

      RBO_ext = (X_k / k) p^k + ((1 - p) / p) sum_{d=1..k} (X_d / d) p^d,

  ``X_d`` the overlap of the two depth-``d`` prefixes, ``p = 0.9``; 1 for
  identical lists, 0 for disjoint ones; lists are tie-free (ties broken by doc id);
* linear CKA between the two embedding matrices (queries stacked on documents,
  rows paired): with column-centred ``X`` (n, d1) and ``Y`` (n, d2),
  ``CKA = ||Y'X||_F^2 / (||X'X||_F ||Y'Y||_F)`` (Kornblith et al. 2019);
  invariant to orthogonal transforms and isotropic scaling of either side, and
  defined for ``d1 != d2``. Computed in the feature form, or in the ``n x n``
  Gram form ``<XX', YY'>_F / (||XX'||_F ||YY'||_F)`` when ``n < d1 + d2``;
* a verdict ``ready`` / ``not_ready`` from a policy given as data (see
  :func:`compare_models`); the p-values are reported but do not decide it.

References
----------
W. Webber, A. Moffat and J. Zobel, "A similarity measure for indefinite
rankings", ACM TOIS 28(4), 2010. S. Kornblith, M. Norouzi, H. Lee and G. Hinton,
"Similarity of neural network representations revisited", ICML 2019.
B. Efron and R. Tibshirani, *An Introduction to the Bootstrap*, 1993 (percentile
intervals). E. Pitman, "Significance tests which may be applied to samples from
any populations", JRSS Suppl. 4, 1937 (sign-flip test).
"""

from monitor.stats.crossmodel.agreement import _agreement as _agreement
from monitor.stats.crossmodel.agreement import linear_cka, rbo
from monitor.stats.crossmodel.compare import (
    CrossModelResult,
    MetricDelta,
    ReembedEstimate,
    compare_models,
    reembed_estimate,
)
from monitor.stats.crossmodel.inference import paired_bootstrap, sign_flip_test
from monitor.stats.crossmodel.policy import PolicyCheck, default_policy

__all__ = [
    "CrossModelResult",
    "MetricDelta",
    "PolicyCheck",
    "ReembedEstimate",
    "compare_models",
    "default_policy",
    "linear_cka",
    "paired_bootstrap",
    "rbo",
    "reembed_estimate",
    "sign_flip_test",
]
