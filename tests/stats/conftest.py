"""Fixtures of the statistics tests (data generators live in stats_data.py)."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20260302)
