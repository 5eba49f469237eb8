"""driftmon / Query drift: tests, effect sizes, novelty and the query groups that moved."""

from __future__ import annotations

from .board import Board
from .kit import ALPHA, MODEL_VARS, MV, SQL_MV, prom, report_link, sql, steps, var
from .queries import DRIFT_FROM, DRIFT_MAPPING, DRIFT_VERDICT, json_examples, json_list


def drift() -> Board:
    test_var = var("test", "Test", f"label_values(driftmon_drift_p_value{{{MV}}}, test)")
    sel = MV + ',test=~"$test"'
    b = Board(
        "driftmon-drift",
        "driftmon / Query drift",
        "Per model version: drift verdicts, per-test p-values and effect sizes, novelty, "
        "and which query groups moved.",
        [*MODEL_VARS, test_var],
    )
    b.row("Verdict")
    b.add(
        "state-timeline",
        "Drift verdict over time",
        "Verdict of the latest drift run, over time. Red stretches are drifted runs; "
        "EmbeddingQueryDrift fires once two consecutive runs drifted. Blue: too few "
        "samples for a verdict.",
        prom(DRIFT_VERDICT, "{{model}} {{model_version}}"),
        w=24,
        h=5,
        mappings=DRIFT_MAPPING,
        color_by_thresholds=True,
        thresholds=steps((None, "green"), (1, "red"), (2, "blue")),
    )
    b.add(
        "timeseries",
        "Novel queries",
        "Share of each window's queries with no close neighbour in the reference window. "
        "The dashed line is the 5% the EmbeddingNoveltyHigh alert uses; novelty often "
        "rises before the two-sample tests reject.",
        prom(f"driftmon_drift_novelty_ratio{{{MV}}}", "{{model}} {{model_version}}"),
        unit="percentunit",
        dashed=True,
        min=0,
        thresholds=steps((None, "green"), (0.05, "orange")),
    )
    b.add(
        "timeseries",
        "Samples per run",
        "Queries compared in the latest drift run: reference and current window. Below "
        "drift.min_samples on either side there is no verdict; few samples make p-values "
        "coarse.",
        prom(f"driftmon_drift_samples{{{MV}}}", "{{model_version}} {{side}}"),
        min=0,
    )
    b.row("Tests")
    b.add(
        "timeseries",
        "p-value per test",
        f"p-value of each test in the latest drift run (log scale). Below the dashed line "
        f"(alpha {ALPHA}, the default drift.alpha) a test on its own rejects 'no drift'. "
        "Only mmd, novelty and classifier decide the verdict, after Holm's correction, so "
        "one diagnostic test dipping below the line is not a drift verdict.",
        prom(f"driftmon_drift_p_value{{{sel}}}", "{{model_version}} {{test}}"),
        dashed=True,
        log_scale=True,
        max=1,
        thresholds=steps((None, "red"), (ALPHA, "green")),
    )
    b.add(
        "timeseries",
        "Effect size per test",
        "How large the change is, on each test's own scale (e.g. MMD, classifier AUC above "
        "0.5, centroid shift). Compare a test with its own history, not tests with each "
        "other: a small p-value with a tiny effect is a real but small change.",
        prom(f"driftmon_drift_effect{{{sel}}}", "{{model_version}} {{test}}"),
    )
    b.add(
        "timeseries",
        "Statistic per test",
        "The raw statistic of each test, for comparison with the test's documentation in "
        "monitor/stats/.",
        prom(f"driftmon_drift_statistic{{{sel}}}", "{{model_version}} {{test}}"),
        w=24,
    )
    b.row("History and explanation (SQL)")
    b.add(
        "timeseries",
        "p-value per drift run",
        "The stored p-value of every drift run and test, from SQL: exact per-run points "
        "that outlive Prometheus retention. Read it like the p-value panel above.",
        sql(
            f"SELECT dr.created_at AS \"time\", mv.version || ' ' || dm.test AS metric, "
            f"dm.p_value AS value {DRIFT_FROM} JOIN drift_metrics dm ON dm.run_id = dr.id "
            f"WHERE $__timeFilter(dr.created_at) AND {SQL_MV} AND dm.test IN ($test) AND "
            "dm.p_value IS NOT NULL ORDER BY 1",
            "time_series",
        ),
        w=24,
        log_scale=True,
        max=1,
    )
    b.add(
        "table",
        "Emerging query groups",
        "Groups of current queries far from every reference query, from each drift run's "
        "explanation, newest run first: the top rows are the latest explanation. 'share' "
        "is the group's part of the window; the example queries (redacted) say what the "
        "new topic is.",
        sql(
            f'SELECT dr.created_at AS "time", mv.version AS model_version, dr.verdict, '
            f"(g ->> 'size')::int AS queries, (g ->> 'share')::float AS share, "
            f"(g ->> 'max_cosine_to_ref')::float AS closest_reference_cosine, "
            f"{json_examples('g')} AS example_queries {DRIFT_FROM} CROSS JOIN LATERAL "
            f"{json_list('dr.explanation', 'emerging')} AS g WHERE "
            f"$__timeFilter(dr.created_at) AND {SQL_MV} "
            "ORDER BY dr.created_at DESC, queries DESC LIMIT 100"
        ),
        w=24,
    )
    b.add(
        "table",
        "Reference clusters that grew or shrank",
        "Reference topic clusters whose share changed significantly between reference and "
        "current window (newest run first); ratio is current share / reference share.",
        sql(
            f'SELECT dr.created_at AS "time", mv.version AS model_version, '
            f"(c ->> 'cluster')::int AS cluster, c ->> 'status' AS status, "
            f"(c ->> 'ref_share')::float AS reference_share, "
            f"(c ->> 'cur_share')::float AS current_share, (c ->> 'ratio')::float AS ratio, "
            f"{json_examples('c')} AS example_queries {DRIFT_FROM} CROSS JOIN LATERAL "
            f"{json_list('dr.explanation', 'clusters')} AS c WHERE "
            f"$__timeFilter(dr.created_at) AND {SQL_MV} AND c ->> 'status' <> 'stable' "
            "ORDER BY dr.created_at DESC LIMIT 100"
        ),
        w=24,
    )
    b.add(
        "table",
        "Drift runs",
        "Every drift run in the time range, newest first: the windows compared, sample "
        "sizes, the verdict, and the tests that rejected on their own (unadjusted). "
        "Click a run_id for its report on the agent (dashboard variable driftmon_url).",
        sql(
            f'SELECT dr.created_at AS "time", dr.id AS run_id, mv.model_name AS model, '
            f"mv.version AS model_version, dr.verdict, dr.window_start, dr.window_end, "
            f"dr.n_ref, dr.n_cur, "
            f"(SELECT string_agg(dm.test, ', ' ORDER BY dm.test) FROM drift_metrics dm "
            f"WHERE dm.run_id = dr.id AND dm.drift) AS tests_below_alpha {DRIFT_FROM} "
            f"WHERE $__timeFilter(dr.created_at) AND {SQL_MV} "
            "ORDER BY dr.created_at DESC LIMIT 200"
        ),
        w=24,
        overrides=[report_link("drift", "run_id")],
    )
    return b
