"""Queries and value mappings more than one dashboard uses."""

from __future__ import annotations

from .kit import MV, mapping

DRIFT_VERDICT = (
    f"driftmon_drift_detected{{{MV}}} or on (model, model_version) "
    f"(2 * driftmon_drift_insufficient_data{{{MV}}} == 2)"
)
DRIFT_MAPPING = mapping(
    (0, "no drift", "green"), (1, "DRIFT", "red"), (2, "too few samples", "blue")
)
CANARY_SEL = MV + ',canary_set=~"$canary_set"'


def canary_verdict(selector: str) -> str:
    """0 unchanged, 1 noise, 2 changed, from the driftmon_canary_verdict state set."""
    return (
        f'driftmon_canary_verdict{{{selector},state="noise"}} + ignoring (state) '
        f'2 * driftmon_canary_verdict{{{selector},state="changed"}}'
    )


CANARY_MAPPING = mapping((0, "unchanged", "green"), (1, "noise", "yellow"), (2, "CHANGED", "red"))


def json_examples(col: str) -> str:
    """SQL: the distinct example queries of a JSON object's 'examples' list, joined."""
    return (
        f"(SELECT string_agg(DISTINCT x, ' | ') FROM json_array_elements_text("
        f"COALESCE({col} -> 'examples', '[]'::json)) AS x)"
    )


def json_list(col: str, key: str) -> str:
    """SQL: the elements of a JSON list under ``key`` (none when it is not a list)."""
    return (
        f"json_array_elements(CASE WHEN json_typeof({col} -> '{key}') = 'array' "
        f"THEN {col} -> '{key}' ELSE '[]'::json END)"
    )


DRIFT_FROM = "FROM drift_runs dr JOIN model_versions mv ON mv.id = dr.model_version_id"
