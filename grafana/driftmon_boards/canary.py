"""driftmon / Canary quality: self-similarity, norms, verdicts and retrieval quality."""

from __future__ import annotations

from .board import Board
from .kit import MODEL_VARS, MV, SQL_MV, prom, report_link, sql, steps, var
from .queries import CANARY_MAPPING, CANARY_SEL, canary_verdict


def canary() -> Board:
    set_var = var(
        "canary_set", "Canary set", f"label_values(driftmon_canary_min_cosine{{{MV}}}, canary_set)"
    )
    canary_from = (
        "FROM canary_runs cr JOIN model_versions mv ON mv.id = cr.model_version_id "
        "JOIN canary_sets cs ON cs.id = cr.set_id"
    )
    sql_sel = f"{SQL_MV} AND cs.name IN ($canary_set)"
    b = Board(
        "driftmon-canary",
        "driftmon / Canary quality",
        "Re-embedded canary sets compared with their baselines: self-similarity, "
        "norms and the verdict over time.",
        [*MODEL_VARS, set_var],
    )
    b.add(
        "state-timeline",
        "Canary verdict over time",
        "Verdict of each canary run. Green unchanged: vectors match the baseline to float "
        "round-off. Yellow noise: they differ, within the endpoint's own run-to-run noise. "
        "Red CHANGED: the model behind the name changed (EmbeddingSilentModelChange).",
        prom(canary_verdict(CANARY_SEL), "{{model_version}} {{canary_set}}"),
        w=24,
        h=5,
        mappings=CANARY_MAPPING,
        color_by_thresholds=True,
        thresholds=steps((None, "green"), (1, "yellow"), (2, "red")),
    )
    b.add(
        "timeseries",
        "Self-similarity to the baseline",
        "Cosine between each canary text's new embedding and its baseline: the lowest item, "
        "the mean, and the tolerance below which an item counts as changed. An unchanged "
        "model stays at 1; a different model drops far below the tolerance.",
        prom(
            f"driftmon_canary_min_cosine{{{CANARY_SEL}}}", "lowest {{model_version}} {{canary_set}}"
        ),
        prom(
            f"driftmon_canary_mean_cosine{{{CANARY_SEL}}}", "mean {{model_version}} {{canary_set}}"
        ),
        prom(
            f"driftmon_canary_tolerance_cosine{{{CANARY_SEL}}}",
            "tolerance {{model_version}} {{canary_set}}",
        ),
        max=1,
    )
    b.add(
        "timeseries",
        "Items below tolerance",
        "Share of canary items whose cosine to the baseline is below the tolerance. At 5% "
        "(dashed) or more the verdict is changed.",
        prom(
            f"driftmon_canary_items_below_tolerance_ratio{{{CANARY_SEL}}}",
            "{{model_version}} {{canary_set}}",
        ),
        unit="percentunit",
        dashed=True,
        min=0,
        max=1,
        thresholds=steps((None, "green"), (0.05, "red")),
    )
    b.add(
        "timeseries",
        "Norm ratio",
        "Mean vector norm relative to the baseline. 1 is unchanged; outside the dashed "
        "lines (1% either way) normalisation or quantisation changed.",
        prom(f"driftmon_canary_norm_ratio{{{CANARY_SEL}}}", "{{model_version}} {{canary_set}}"),
        dashed=True,
        thresholds=steps((None, "red"), (0.99, "green"), (1.01, "red")),
    )
    b.add(
        "stat",
        "Since the latest canary run",
        "Age of the latest canary run; canaries run hourly by default. A stale canary "
        "cannot catch a model change.",
        prom(
            f"time() - driftmon_canary_last_run_timestamp_seconds{{{CANARY_SEL}}}",
            "{{model_version}} {{canary_set}}",
        ),
        unit="s",
        thresholds=steps((None, "green"), (7200, "orange"), (10800, "red")),
    )
    b.row("Retrieval quality")
    b.add(
        "timeseries",
        "Retrieval quality on the canary judgements",
        "nDCG@10, recall@10 and MRR@10 of the canary queries over the canary documents "
        "(trec_eval definitions). A drop for one model version, with the canary unchanged, "
        "means the corpus or judgements moved; with the canary changed, the model did.",
        prom(
            f'driftmon_retrieval_metric{{{CANARY_SEL},metric=~"ndcg@10|recall@10|mrr@10"}}',
            "{{metric}} {{model_version}} {{canary_set}}",
        ),
        min=0,
        max=1,
    )
    b.add(
        "timeseries",
        "Stale-index overlap and score cut-offs",
        "Share of each canary query's top-10 documents that survive on an index built "
        "with the baseline vectors (1 = users see the same results; a silent model change "
        "collapses it), and the share of queries whose best cosine passes each configured "
        "cut-off (RAG retrieval thresholds move with the model).",
        prom(
            f'driftmon_retrieval_metric{{{CANARY_SEL},metric="top10_overlap_stale_index"}}',
            "stale-index overlap {{model_version}}",
        ),
        prom(
            f'driftmon_retrieval_metric{{{CANARY_SEL},metric=~"top1_pass@.*"}}',
            "{{metric}} {{model_version}}",
        ),
        unit="percentunit",
        min=0,
        max=1,
    )
    b.add(
        "table",
        "Matryoshka: quality per prefix length",
        "nDCG@10 and recall@10 of the latest canary run at each configured prefix length "
        "(canary_sets.matryoshka_dims): the quality-versus-storage table for choosing a "
        "dimension.",
        sql(
            "SELECT mv.version AS model_version, cs.name AS canary_set, rm.dims, "
            "MAX(CASE WHEN rm.metric = 'ndcg@10' THEN rm.value END) AS ndcg_at_10, "
            "MAX(CASE WHEN rm.metric = 'recall@10' THEN rm.value END) AS recall_at_10 "
            "FROM retrieval_metrics rm JOIN canary_runs cr ON cr.id = rm.canary_run_id "
            "JOIN model_versions mv ON mv.id = cr.model_version_id JOIN canary_sets cs ON "
            "cs.id = cr.set_id WHERE cr.id IN (SELECT MAX(id) FROM canary_runs GROUP BY "
            f"model_version_id, set_id) AND {sql_sel} AND rm.metric IN ('ndcg@10', "
            "'recall@10') GROUP BY mv.version, cs.name, rm.dims ORDER BY 1, 2, 3"
        ),
        w=12,
    )
    b.add(
        "table",
        "Migration checks",
        "The latest 'driftmon migrate-check' of each pair of model versions: the verdict "
        "and its reasons, and the linear CKA between the two embedding spaces. Click a "
        "check_id for its report.",
        sql(
            "SELECT mc.created_at AS \"time\", mc.id AS check_id, fa.model_name || ' ' || "
            "fa.version AS "
            "current_version, fb.model_name || ' ' || fb.version AS candidate, mc.verdict, "
            "mc.result ->> 'cka' AS cka, mc.result -> 'reasons' AS reasons FROM "
            "migrate_checks mc JOIN model_versions fa ON fa.id = mc.from_version_id JOIN "
            "model_versions fb ON fb.id = mc.to_version_id WHERE mc.id IN (SELECT MAX(id) "
            "FROM migrate_checks GROUP BY from_version_id, to_version_id) "
            "ORDER BY mc.created_at DESC"
        ),
        w=12,
        overrides=[report_link("migrate", "check_id")],
    )
    b.row("History (SQL)")
    b.add(
        "timeseries",
        "Lowest cosine per canary run",
        "The stored lowest per-item cosine of every canary run, from SQL: exact per-run "
        "points that outlive Prometheus retention.",
        sql(
            f"SELECT cr.created_at AS \"time\", mv.version || ' ' || cs.name AS metric, "
            f"cr.min_cosine AS value {canary_from} WHERE $__timeFilter(cr.created_at) AND "
            f"{sql_sel} ORDER BY 1",
            "time_series",
        ),
        w=24,
        max=1,
    )
    b.add(
        "table",
        "Canary runs",
        "Every canary run in the time range, newest first, with the numbers behind its "
        "verdict and the reasons a changed verdict gave. Click a run_id for its report.",
        sql(
            f'SELECT cr.created_at AS "time", cr.id AS run_id, mv.version AS model_version, '
            f"cs.name AS canary_set, cr.verdict, cr.n_items, cr.min_cosine, cr.p01_cosine, "
            f"cr.mean_cosine, cr.share_below, cr.norm_ratio, cr.tolerance, cr.dim_baseline, "
            f"cr.dim_current, (SELECT string_agg(r, '; ') FROM json_array_elements_text("
            f"COALESCE(cr.details -> 'reasons', '[]'::json)) AS r) AS reasons {canary_from} "
            f"WHERE $__timeFilter(cr.created_at) AND {sql_sel} "
            "ORDER BY cr.created_at DESC LIMIT 200"
        ),
        w=24,
        overrides=[report_link("canary", "run_id")],
    )
    b.add(
        "table",
        "Baselines",
        "Every baseline of the selected canary sets, whatever the time range. 'current' "
        "marks the one runs are compared with; noise_floor is the lowest cosine between "
        "repeated embeddings when it was taken.",
        sql(
            'SELECT cb.created_at AS "time", mv.version AS model_version, cs.name AS '
            "canary_set, cb.current, cb.fingerprint, cb.noise_floor, cb.reason, "
            "cb.created_by FROM canary_baselines cb JOIN model_versions mv ON mv.id = "
            "cb.model_version_id JOIN canary_sets cs ON cs.id = cb.set_id WHERE "
            f"{sql_sel} ORDER BY cb.created_at DESC LIMIT 100"
        ),
        w=24,
        h=6,
    )
    return b
