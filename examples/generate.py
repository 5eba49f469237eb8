"""Regenerate the quickstart's data files from the demo's topic generator."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from monitor.demo_data import canary_set, queries, write_queries

HERE = Path(__file__).parent


def main() -> None:
    rng = np.random.default_rng(7)
    items, qrels = canary_set(rng)
    (HERE / "canaries" / "core.jsonl").write_text("".join(json.dumps(i) + "\n" for i in items))
    (HERE / "canaries" / "core.qrels").write_text("\n".join(qrels) + "\n")
    out = HERE / "queries.jsonl"
    out.unlink(missing_ok=True)
    start = datetime(2026, 11, 1, tzinfo=UTC)
    for hour in range(8):  # six ordinary hours, then two with a new topic
        share = 0.0 if hour < 6 else 0.3
        write_queries(
            out,
            queries(200, rng, drift_share=share),
            start + timedelta(hours=hour),
            timedelta(hours=1),
        )


if __name__ == "__main__":
    main()
