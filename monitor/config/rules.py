"""Alert rule settings and the built-in rules (the default of ``alerts.rules``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from monitor.config.values import doc

__all__ = ["RuleSettings", "default_rules"]


@dataclass(frozen=True)
class RuleSettings:
    name: str = doc("alert name, as in alerts/ Prometheus rules")
    signal: Literal[
        "canary_changed",
        "canary_benign_change",
        "model_identity_changed",
        "canary_min_cosine",
        "drift",
        "drift_p_value",
        "novelty_rate",
        "retrieval_drop",
        "job_failures",
        "job_staleness",
    ] = doc("stored result the rule reads", "drift")
    test: str = doc(
        "drift_p_value: the test name; retrieval_drop: the measure (e.g. "
        "'ndcg@10'); job_*: the job name",
        "",
    )
    model: str = doc("only this model (empty = every model)", "")
    op: Literal["<", "<=", ">", ">=", "==", "!="] = doc("comparison with threshold", ">=")
    threshold: float = doc("value compared with the signal", 1.0)  # finite: checks.py
    for_runs: int = doc(
        "consecutive runs the condition must hold before firing", 1, lo=1, hi=10_000
    )
    severity: Literal["info", "warning", "critical"] = doc("severity", "warning")
    labels: dict[str, str] = doc("extra labels sent with the alert", factory=dict)
    summary: str = doc("summary template; {model}, {model_version}, {value} are filled", "")
    description: str = doc("description template, same fields as summary", "")
    runbook_url: str = doc("runbook link sent with the alert", "")


def default_rules() -> list[RuleSettings]:
    runbook = "https://github.com/driftmon/driftmon/blob/main/alerts/RUNBOOK.md#"
    return [
        RuleSettings(
            name="EmbeddingSilentModelChange",
            signal="canary_changed",
            op=">=",
            threshold=1.0,
            for_runs=1,
            severity="critical",
            summary="Canary embeddings of {model} ({model_version}) changed",
            description="Re-embedded canary set {canary_set} no longer matches its "
            "baseline: the provider changed the model behind the same name.",
            runbook_url=runbook + "embeddingsilentmodelchange",
        ),
        RuleSettings(
            name="EmbeddingBenignModelChange",
            signal="canary_benign_change",
            op=">=",
            threshold=1.0,
            for_runs=1,
            severity="info",
            summary="Canary embeddings of {model} ({model_version}) changed without "
            "affecting retrieval",
            description="Canary set {canary_set} no longer matches its baseline, but its "
            "top-10 results and retrieval measures held (e.g. quantised output).",
            runbook_url=runbook + "embeddingbenignmodelchange",
        ),
        RuleSettings(
            name="EmbeddingProviderIdentityChanged",
            signal="model_identity_changed",
            op=">=",
            threshold=1.0,
            for_runs=1,
            severity="info",
            summary="The endpoint of {model} ({model_version}) reports another model identity",
            description="The model name, digest or sha the provider reports changed "
            "since the previous canary run.",
            runbook_url=runbook + "embeddingprovideridentitychanged",
        ),
        RuleSettings(
            name="EmbeddingQueryDrift",
            signal="drift",
            op=">=",
            threshold=1.0,
            for_runs=2,
            severity="warning",
            summary="Query distribution drift on {model} ({model_version})",
            description="Two consecutive drift runs rejected 'no drift' at the configured alpha.",
            runbook_url=runbook + "embeddingquerydrift",
        ),
        RuleSettings(
            name="EmbeddingNoveltyHigh",
            signal="novelty_rate",
            op=">",
            threshold=0.05,
            for_runs=2,
            severity="warning",
            summary="{value:.1%} of queries on {model} ({model_version}) are far from "
            "every reference query",
            runbook_url=runbook + "embeddingnoveltyhigh",
        ),
        RuleSettings(
            name="EmbeddingRetrievalDrop",
            signal="retrieval_drop",
            test="ndcg@10",
            op=">",
            threshold=0.05,
            for_runs=1,
            severity="warning",
            summary="nDCG@10 of {model} ({model_version}) on canary set {canary_set} "
            "fell {value:.3f} below its trailing mean",
            runbook_url=runbook + "embeddingretrievaldrop",
        ),
        RuleSettings(
            name="DriftmonJobFailing",
            signal="job_failures",
            op=">=",
            threshold=3.0,
            for_runs=1,
            severity="warning",
            summary="driftmon job {job} failed {value:.0f} times in a row",
            runbook_url=runbook + "driftmonjobfailing",
        ),
        RuleSettings(
            name="DriftmonJobStale",
            signal="job_staleness",
            op=">",
            threshold=3.0,
            for_runs=1,
            severity="warning",
            summary="driftmon job {job} has not succeeded for {value:.1f} intervals",
            runbook_url=runbook + "driftmonjobstale",
        ),
    ]
