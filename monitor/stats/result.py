"""Frozen result records of the drift tests, each serialisable to plain JSON."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

__all__ = [
    "ClusterShift",
    "EmergingGroup",
    "Explanation",
    "SuiteResult",
    "TestResult",
    "jsonable",
]

Verdict = Literal["drift", "no_drift", "insufficient_data"]


def jsonable(value: Any) -> Any:
    """Convert numpy scalars/arrays and tuples to JSON types; non-finite floats to None."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [jsonable(v) for v in value.tolist()]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        f = float(value)
        return f if math.isfinite(f) else None
    if value is None or isinstance(value, str):
        return value
    raise TypeError(f"cannot serialise {type(value).__name__} to JSON")


@dataclass(frozen=True)
class TestResult:
    """Outcome of one two-sample test of ``ref`` (n_ref, d) against ``cur`` (n_cur, d).

    Attributes
    ----------
    name : str
        Registry name of the test (``"mmd"``, ``"novelty"``, ...).
    statistic : float
        The test statistic (its meaning is given in each test's docstring).
    p_value : float or None
        P-value for "cur differs from ref"; None for tests without one.
    threshold : float or None
        Value of ``statistic`` above which the test would alarm, where defined
        (for permutation tests the ``1 - alpha`` quantile of the permutation
        distribution).
    drift : bool
        This test's own verdict at ``alpha`` (unadjusted for other tests).
    effect : float or None
        An effect size a person can read; ``effect_label`` says what it is.
    effect_label : str
        Human description of ``effect``.
    n_ref, n_cur : int
        Sample sizes used.
    seed : int or None
        Seed of the randomness used (None for deterministic tests).
    details : dict
        JSON-serialisable extras specific to the test.
    """

    __test__ = False  # not a pytest test class despite the name

    name: str
    statistic: float
    p_value: float | None
    threshold: float | None
    drift: bool
    effect: float | None
    effect_label: str
    n_ref: int
    n_cur: int
    seed: int | None
    details: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """Return a plain-JSON dict (non-finite floats become ``None``)."""
        return {
            "statistic": jsonable(self.statistic),
            "p_value": jsonable(self.p_value),
            "threshold": jsonable(self.threshold),
            "drift": bool(self.drift),
            "effect": jsonable(self.effect),
            "effect_label": self.effect_label,
            "name": self.name,
            "n_ref": int(self.n_ref),
            "n_cur": int(self.n_cur),
            "seed": self.seed,
            "details": jsonable(self.details),
        }


@dataclass(frozen=True)
class ClusterShift:
    """Occupancy of one reference cluster in ``ref`` and ``cur``.

    ``ratio`` is ``cur_share / ref_share``; ``status`` is ``"grew"`` or
    ``"shrank"`` when the cluster's adjusted residual is significant at the
    Bonferroni level over clusters, else ``"stable"``. ``cur_examples`` and
    ``ref_examples`` are row indices into ``cur`` and ``ref`` of the members
    closest to the cluster centroid (most central first).
    """

    cluster: int
    ref_count: int
    cur_count: int
    ref_share: float
    cur_share: float
    ratio: float | None
    residual: float
    status: Literal["grew", "shrank", "stable"]
    cur_examples: tuple[int, ...]
    ref_examples: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "cluster": self.cluster,
            "ref_count": self.ref_count,
            "cur_count": self.cur_count,
            "ref_share": jsonable(self.ref_share),
            "cur_share": jsonable(self.cur_share),
            "ratio": jsonable(self.ratio),
            "residual": jsonable(self.residual),
            "status": self.status,
            "cur_examples": list(self.cur_examples),
            "ref_examples": list(self.ref_examples),
        }


@dataclass(frozen=True)
class EmergingGroup:
    """A group of novel ``cur`` points that cluster among themselves.

    ``members`` are row indices into ``cur`` (capped); ``cur_examples`` the most
    central ones. ``nearest_ref`` are indices into ``ref`` of the reference
    points closest to the group centre, ``max_cosine_to_ref`` their cosine.
    """

    group: int
    size: int
    share: float
    cohesion: float
    max_cosine_to_ref: float
    cur_examples: tuple[int, ...]
    nearest_ref: tuple[int, ...]
    members: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "size": self.size,
            "share": jsonable(self.share),
            "cohesion": jsonable(self.cohesion),
            "max_cosine_to_ref": jsonable(self.max_cosine_to_ref),
            "cur_examples": list(self.cur_examples),
            "nearest_ref": list(self.nearest_ref),
            "members": list(self.members),
        }


@dataclass(frozen=True)
class Explanation:
    """Which topics moved: reference-cluster occupancy shift and emerging groups.

    Attributes
    ----------
    k : int
        Number of spherical k-means clusters fitted on ``ref``.
    statistic, p_value : float
        Pearson chi-square homogeneity test of the 2 x k occupancy table.
    clusters : tuple of ClusterShift
        Every reference cluster, largest absolute residual first.
    emerging : tuple of EmergingGroup
        Groups of novel current points, largest first.
    novel_share : float
        Share of ``cur`` flagged novel (top-1 cosine to ``ref`` below threshold).
    novelty_threshold : float
        The cosine threshold used.
    """

    k: int
    statistic: float
    p_value: float
    clusters: tuple[ClusterShift, ...]
    emerging: tuple[EmergingGroup, ...]
    novel_share: float
    novelty_threshold: float

    @property
    def changed(self) -> tuple[ClusterShift, ...]:
        """Clusters whose status is not ``"stable"``."""
        return tuple(c for c in self.clusters if c.status != "stable")

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": "spherical_kmeans",
            "k": self.k,
            "statistic": jsonable(self.statistic),
            "p_value": jsonable(self.p_value),
            "novel_share": jsonable(self.novel_share),
            "novelty_threshold": jsonable(self.novelty_threshold),
            "clusters": [c.to_dict() for c in self.clusters],
            "emerging": [g.to_dict() for g in self.emerging],
        }


@dataclass(frozen=True)
class SuiteResult:
    """Outcome of :func:`monitor.stats.run_suite`.

    ``verdict`` is decided by ``policy`` (see ``monitor.stats.suite``), never by
    a single unadjusted test; ``"insufficient_data"`` when either side is below
    the minimum sample size, in which case ``tests`` is empty.
    """

    verdict: Verdict
    tests: dict[str, TestResult]
    explanation: Explanation | None
    n_ref: int
    n_cur: int
    dim: int
    alpha: float
    seed: int
    policy: str
    method: dict[str, Any] | None = None

    @property
    def drift(self) -> bool:
        return self.verdict == "drift"

    def to_dict(self) -> dict[str, Any]:
        """The ``driftmon compare --json`` object."""
        return {
            "n_ref": int(self.n_ref),
            "n_cur": int(self.n_cur),
            "dim": int(self.dim),
            "alpha": float(self.alpha),
            "seed": int(self.seed),
            "drift": self.drift,
            "verdict": self.verdict,
            "method": None if self.method is None else jsonable(self.method),
            "tests": {name: t.to_dict() for name, t in self.tests.items()},
            "explanation": None if self.explanation is None else self.explanation.to_dict(),
        }
