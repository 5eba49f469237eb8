"""The batches of one ``embed`` call and the one dimension their answers must share."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from monitor.errors import ProviderError, ProviderResponseError

__all__ = ["Piece", "agreed_dimension"]


@dataclass
class Piece:
    """One batch's outcome: its input positions and either a matrix or an error."""

    positions: Sequence[int]
    matrix: np.ndarray | None = None
    tokens: int | None = None
    identity: dict[str, str] = field(default_factory=dict)
    error: ProviderError | None = None


def agreed_dimension(pieces: list[Piece], configured: int, where: str) -> tuple[int, int]:
    """(dimension of this answer, batches marked failed); ``where`` prefixes errors.

    Batches that all return another dimension are a valid answer (the caller sees
    the endpoint's dimension change); batches that disagree with each other mark
    those off the configured dimension as failed, or fail the call if none match.
    """
    dims = {p.matrix.shape[1] for p in pieces if p.matrix is not None and p.error is None}
    if len(dims) <= 1:
        return (dims.pop() if dims else configured), 0
    if configured not in dims:
        raise ProviderResponseError(
            f"{where}: batches returned different dimensions {sorted(dims)}, none the "
            f"configured {configured}"
        )
    marked = 0
    for p in pieces:
        if p.matrix is not None and p.matrix.shape[1] != configured:
            marked += 1
            p.error = ProviderResponseError(
                f"{where}: a batch has dimension {p.matrix.shape[1]} while others have {configured}"
            )
    return configured, marked
