"""The pieces every driftmon dashboard shares, on Grafana's Foundation SDK builders.

Panels use two datasource variables (``$datasource`` for Prometheus, ``$sqldb`` for
PostgreSQL), the query variables ``$model`` and ``$model_version``, and the textbox
``$driftmon_url`` (where people reach the agent: table rows link to its run reports).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, TypedDict

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import prometheus
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models import dashboard as dm
from grafana_foundation_sdk.models import prometheus as pm

PROM = dm.DataSourceRef(type_val="prometheus", uid="${datasource}")
SQL = dm.DataSourceRef(type_val="grafana-postgresql-datasource", uid="${sqldb}")
MV = 'model=~"$model",model_version=~"$model_version"'
SQL_MV = "mv.model_name IN ($model) AND mv.version IN ($model_version)"
ALPHA = 0.01  # drift.alpha default: the line drawn on p-value panels
AGENT_URL = "http://127.0.0.1:9108"  # server.listen's default: where the run reports are

Kind = Literal["stat", "table", "timeseries", "state-timeline"]
Report = Literal["drift", "canary", "migrate"]


# --------------------------------------------------------------------------- targets


@dataclass
class PostgresQuery(cogvariants.Dataquery):
    """A raw-SQL target of Grafana's PostgreSQL datasource (the SDK has no builder for it)."""

    raw_sql: str
    format: Literal["table", "time_series"] = "table"
    ref_id: str = ""

    def to_json(self) -> dict[str, object]:
        return {
            "datasource": SQL.to_json(),
            "editorMode": "code",
            "format": self.format,
            "rawQuery": True,
            "rawSql": self.raw_sql,
            "refId": self.ref_id,
        }


class SqlQuery(cogbuilder.Builder[PostgresQuery]):
    def __init__(self, raw: str, fmt: Literal["table", "time_series"]) -> None:
        self._internal = PostgresQuery(" ".join(raw.split()), fmt)

    def ref_id(self, ref_id: str) -> SqlQuery:
        self._internal.ref_id = ref_id
        return self

    def build(self) -> PostgresQuery:
        return self._internal


Target = prometheus.Dataquery | SqlQuery


def prom(expr: str, legend: str = "", *, table: bool = False) -> prometheus.Dataquery:
    """A PromQL target; ``table`` makes it an instant query shown as a table."""
    q = prometheus.Dataquery().expr(expr).legend_format(legend).datasource(PROM)
    if table:
        return q.instant().format(pm.PromQueryFormat.TABLE)
    return q.range().format(pm.PromQueryFormat.TIME_SERIES)


def sql(raw: str, fmt: Literal["table", "time_series"] = "table") -> SqlQuery:
    """A PostgreSQL target (``fmt`` is table or time_series)."""
    return SqlQuery(raw, fmt)


# --------------------------------------------------------------------------- field config


def mapping(*states: tuple[int, str, str]) -> list[dm.ValueMapping]:
    """Value mappings from (value, text, colour), e.g. ``(1, "DRIFT", "red")``."""
    options = {
        str(value): dm.ValueMappingResult(text=text, color=color, index=i)
        for i, (value, text, color) in enumerate(states)
    }
    return [dm.ValueMap(options=options)]


def steps(*pairs: tuple[float | None, str]) -> db.ThresholdsConfig:
    return (
        db.ThresholdsConfig()
        .mode(dm.ThresholdsMode.ABSOLUTE)
        .steps([dm.Threshold(value=v, color=c) for v, c in pairs])
    )


def thresholds_for(ref_id: str, config: db.ThresholdsConfig) -> Override:
    """Thresholds for the series of one query (``ref_id``) only."""
    return (
        dm.MatcherConfig(id_val="byFrameRefID", options=ref_id),
        [dm.DynamicConfigValue(id_val="thresholds", value=config.build())],
    )


def organize(exclude: list[str], rename: dict[str, str] | None = None) -> dm.DataTransformerConfig:
    options: dict[str, Any] = {"excludeByName": dict.fromkeys(exclude, True)}
    if rename:
        options["renameByName"] = rename
    return dm.DataTransformerConfig(id_val="organize", options=options)


HIDE_PROM_COLUMNS = [organize(["Time", "Value", "__name__"])]
Override = tuple[dm.MatcherConfig, list[dm.DynamicConfigValue]]


class DataLink(TypedDict):
    title: str
    url: str
    targetBlank: bool


def report_link(report: Report, column: str) -> Override:
    """Make ``column`` (a run id) a link to that run's report on the agent."""
    link = DataLink(
        title=f"Open the {report} report",
        url=f"${{driftmon_url}}/ui/{report}/${{__value.raw}}",
        targetBlank=True,
    )
    return (
        dm.MatcherConfig(id_val="byName", options=column),
        [dm.DynamicConfigValue(id_val="links", value=[link])],
    )


# --------------------------------------------------------------------------- variables


def var(name: str, label: str, query: str) -> db.QueryVariable:
    """A multi-value query variable on the Prometheus datasource (All = every value)."""
    return (
        db.QueryVariable(name)
        .label(label)
        .datasource(PROM)
        .query(query)
        .refresh(dm.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(dm.VariableSort.ALPHABETICAL_ASC)
        .multi(True)
        .include_all(True)
    )


def ds_var(name: str, label: str, plugin: str, default: str, uid: str) -> db.DatasourceVariable:
    """A datasource variable preset to the datasource grafana/provisioning creates."""
    return (
        db.DatasourceVariable(name)
        .label(label)
        .type(plugin)
        .current(dm.VariableOption(text=default, value=uid))
    )


def agent_url_var() -> db.TextBoxVariable:
    current = dm.VariableOption(text=AGENT_URL, value=AGENT_URL)
    return (
        db.TextBoxVariable("driftmon_url")
        .label("driftmon URL")
        .description("where people reach the agent (server.public_url): run report links")
        .default_value(AGENT_URL)
        .current(current)
        .options([current])
    )


DATASOURCES = [
    ds_var("datasource", "Prometheus", "prometheus", "driftmon Prometheus", "driftmon-prometheus"),
    ds_var("sqldb", "PostgreSQL", SQL.type_val or "", "driftmon PostgreSQL", "driftmon-postgres"),
]
MODEL_VARS = [
    var("model", "Model", "label_values(driftmon_model_version_info, model)"),
    var(
        "model_version",
        "Model version",
        'label_values(driftmon_model_version_info{model=~"$model"}, model_version)',
    ),
]
