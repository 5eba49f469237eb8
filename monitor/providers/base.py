"""The embedding provider interface and the result every provider returns."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np

__all__ = ["EmbeddingProvider", "EmbeddingResult", "Kind", "Usage"]

Kind = Literal["query", "document"]


@dataclass(frozen=True)
class Usage:
    """What one ``embed`` call cost.

    ``input_tokens`` is what the endpoint reported, or the client's estimate where it
    reports nothing; ``requests`` counts every HTTP attempt, ``retries`` the repeated
    ones and ``errors`` the failed ones; ``truncated`` counts inputs cut to
    ``max_input_tokens``; ``cost`` is ``input_tokens`` at the configured price.
    """

    input_tokens: int = 0
    requests: int = 0
    retries: int = 0
    errors: int = 0
    latency_seconds: float = 0.0
    cost: float = 0.0
    truncated: int = 0


@dataclass(frozen=True)
class EmbeddingResult:
    """Vectors in input order.

    ``vectors`` is (n, d) float32. Rows listed in ``failed`` are zero and must not
    be used: a partial failure keeps what succeeded. ``identity`` is whatever the
    endpoint says about itself (response ``model``, TEI ``model_sha``, ...).
    ``zero_rows`` lists rows the endpoint returned as all-zero vectors (kept, flagged).
    """

    vectors: np.ndarray
    usage: Usage = field(default_factory=Usage)
    failed: frozenset[int] = frozenset()
    identity: dict[str, str] = field(default_factory=dict)
    zero_rows: frozenset[int] = frozenset()

    @property
    def ok_indices(self) -> np.ndarray:
        mask = np.ones(len(self.vectors), dtype=bool)
        if self.failed:
            mask[list(self.failed)] = False
        return np.flatnonzero(mask)


class EmbeddingProvider(Protocol):
    """One configured embedding endpoint."""

    @property
    def dimension(self) -> int: ...

    def embed(self, texts: Sequence[str], kind: Kind) -> EmbeddingResult: ...

    def close(self) -> None: ...
