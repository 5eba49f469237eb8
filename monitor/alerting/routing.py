"""Routing: which sinks a notification goes to."""

from __future__ import annotations

from collections.abc import Mapping

from monitor.alerting.rules import SEVERITY_RANK
from monitor.config import SinkSettings

__all__ = ["sink_accepts"]


def sink_accepts(sink: SinkSettings, severity: str, labels: Mapping[str, str]) -> bool:
    """The sink's minimum severity and label matchers."""
    if SEVERITY_RANK[severity] < SEVERITY_RANK[sink.min_severity]:
        return False
    return all(labels.get(k) == v for k, v in sink.match.items())
