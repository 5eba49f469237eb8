"""The ready / not_ready policy of a blue-green comparison, given as data."""

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from monitor.stats.crossmodel.inference import _level
from monitor.stats.retrieval import (
    DEFAULT_KS,
)

__all__ = ["PolicyCheck", "default_policy"]

_RULE_KEYS = {"metric", "max_drop", "min_value", "confidence"}


@dataclass(frozen=True)
class PolicyCheck:
    """One policy rule applied: ``value`` is the CI lower bound (``max_drop``) or B's mean."""

    metric: str
    rule: str
    threshold: float
    confidence: float
    value: float
    passed: bool
    message: str


def default_policy(ks: Sequence[int] = DEFAULT_KS) -> list[dict[str, Any]]:
    """No drop of nDCG@K or recall@K (``K = max(ks)``) below -0.01 at 95 % confidence."""
    k = max(ks)
    return [
        {"metric": f"ndcg@{k}", "max_drop": 0.01, "confidence": 0.95},
        {"metric": f"recall@{k}", "max_drop": 0.01, "confidence": 0.95},
    ]


def _parse_policy(
    policy: Sequence[Mapping[str, Any]], names: tuple[str, ...], confidence: float
) -> list[tuple[str, str, float, float]]:
    """Validated rules as ``(metric, "max_drop" | "min_value", limit, confidence)``."""
    rules: list[tuple[str, str, float, float]] = []
    for i, rule in enumerate(policy):
        if not isinstance(rule, Mapping) or "metric" not in rule:
            raise ValueError(f"policy[{i}] must be a mapping with a 'metric' key, got {rule!r}")
        extra = set(rule) - _RULE_KEYS
        if extra:
            raise ValueError(
                f"policy[{i}]: unknown key(s) {sorted(extra)}; allowed: {sorted(_RULE_KEYS)}"
            )
        metric = rule["metric"]
        if metric not in names:
            raise ValueError(f"policy[{i}]: unknown metric {metric!r}; known: {', '.join(names)}")
        if "max_drop" not in rule and "min_value" not in rule:
            raise ValueError(f"policy[{i}] ({metric}) needs 'max_drop' or 'min_value'")
        level = _level(rule.get("confidence", confidence), f"policy[{i}].confidence")
        for kind in ("max_drop", "min_value"):
            if kind not in rule:
                continue
            limit = rule[kind]
            if (
                isinstance(limit, bool)
                or not isinstance(limit, numbers.Real)
                or not (math.isfinite(limit) and (kind == "min_value" or float(limit) >= 0))
            ):
                raise ValueError(
                    f"policy[{i}].{kind} must be a finite number"
                    f"{' >= 0' if kind == 'max_drop' else ''}, got {limit!r}"
                )
            rules.append((metric, kind, float(limit), level))
    return rules


def _apply_policy(
    rules: list[tuple[str, str, float, float]],
    names: tuple[str, ...],
    deltas: NDArray[np.float64],
    boot: NDArray[np.float64],
    means_b: NDArray[np.float64],
) -> tuple[PolicyCheck, ...]:
    checks: list[PolicyCheck] = []
    for metric, kind, limit, level in rules:
        j = names.index(metric)
        if kind == "max_drop":
            value = float(np.quantile(boot[:, j], (1 - level) / 2))
            passed = value >= -limit
            message = (
                f"{metric}: lower {level:.0%} CI bound of B - A is {value:+.4f} "
                f"(mean {deltas[j]:+.4f}), {'within' if passed else 'beyond'} "
                f"the allowed drop of {limit:g}"
            )
        else:
            value = float(means_b[j])
            passed = value >= limit
            message = (
                f"{metric}: B's mean {value:.4f} is "
                f"{'at or above' if passed else 'below'} the minimum {limit:g}"
            )
        checks.append(
            PolicyCheck(
                metric=metric,
                rule=kind,
                threshold=limit,
                confidence=level,
                value=value,
                passed=bool(passed),
                message=message,
            )
        )
    return tuple(checks)
