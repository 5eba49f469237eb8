"""driftmon's four Grafana dashboards, built with Grafana's Foundation SDK."""

from __future__ import annotations

from .agent import agent
from .canary import canary
from .drift import drift
from .overview import overview

BOARDS = (overview, drift, canary, agent)

__all__ = ["BOARDS"]
