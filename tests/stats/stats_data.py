"""Seeded data generators for the statistics tests: isotropic, embedding-like, topic mixtures."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Sampler = Callable[[np.random.Generator, int], np.ndarray]


def isotropic(d: int) -> Sampler:
    """Standard normal vectors in ``d`` dimensions."""

    def sample(rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.standard_normal((n, d))

    return sample


def embedding_like(d: int, rank: int = 3, seed: int = 7) -> Sampler:
    """Unit vectors around a common mean direction with a low-rank spread plus noise.

    Real sentence embeddings are anisotropic (a shared mean direction, a few
    dominant directions) and unit-normalised; this mimics that shape.
    """
    basis = np.random.default_rng(seed).standard_normal((rank, d))
    mean = np.zeros(d)
    mean[0] = 1.0

    def sample(rng: np.random.Generator, n: int) -> np.ndarray:
        x = mean + 0.5 * rng.standard_normal((n, rank)) @ basis / np.sqrt(d) * 3
        x = x + 0.3 * rng.standard_normal((n, d))
        return x / np.linalg.norm(x, axis=1, keepdims=True)

    return sample


def topics(d: int, k: int = 8, spread: float = 0.6, seed: int = 11) -> Callable[..., np.ndarray]:
    """Unit vectors from ``k`` topics; ``new`` > 0 draws that share from one unseen topic.

    Each topic is a random unit centre; a point is ``normalize(centre + spread * z / sqrt(d))``
    with ``z`` standard normal, so same-topic cosines are about ``1 / (1 + spread²)``.
    """
    g = np.random.default_rng(seed)
    centres = g.standard_normal((k + 1, d))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)

    def sample(rng: np.random.Generator, n: int, new: float = 0.0) -> np.ndarray:
        n_new = int(round(new * n))
        which = rng.integers(0, k, size=n)
        which[:n_new] = k
        x = centres[which] + spread * rng.standard_normal((n, d)) / np.sqrt(d)
        return x / np.linalg.norm(x, axis=1, keepdims=True)

    return sample
