"""``Board``: a dashboard builder that lays panels out left to right in the 24-column grid."""

from __future__ import annotations

from typing import Any

from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import stat, statetimeline, table, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common as cm
from grafana_foundation_sdk.models import dashboard as dm

from .kit import DATASOURCES, PROM, SQL, Kind, Override, SqlQuery, Target, agent_url_var

Panel = stat.Panel | table.Panel | timeseries.Panel | statetimeline.Panel


def _new(kind: Kind) -> Panel:
    """A panel of ``kind`` with the options every driftmon panel of that kind shares."""
    if kind == "stat":
        return (
            stat.Panel()
            .reduce_options(cb.ReduceDataOptions().calcs(["lastNotNull"]).fields("").values(False))
            .color_mode(cm.BigValueColorMode.BACKGROUND)
            .graph_mode(cm.BigValueGraphMode.NONE)
            .text_mode(cm.BigValueTextMode.VALUE_AND_NAME)
        )
    if kind == "table":
        return table.Panel().show_header(True).cell_height(cm.TableCellHeight.SM)
    if kind == "state-timeline":
        return (
            statetimeline.Panel()
            .merge_values(True)
            .show_value(cm.VisibilityMode.AUTO)
            .align_value(cm.TimelineValueAlignment.LEFT)
            .row_height(0.8)
        )
    return timeseries.Panel()


class Board:
    """A dashboard; panels flow left to right in Grafana's 24-column grid."""

    def __init__(self, uid: str, title: str, description: str, variables: list[Any]) -> None:
        self.sdk = (
            db.Dashboard(title)
            .uid(uid)
            .description(description)
            .tags(["driftmon"])
            .editable()
            .tooltip(dm.DashboardCursorSync.CROSSHAIR)
            .version(1)
            .refresh("1m")
            .time("now-7d", "now")
            .timezone("utc")
            .link(
                db.DashboardLink("driftmon")
                .type(dm.DashboardLinkType.DASHBOARDS)
                .tags(["driftmon"])
                .as_dropdown(False)
                .include_vars(True)
                .keep_time(True)
            )
        )
        for v in [*DATASOURCES, *variables, agent_url_var()]:
            self.sdk.with_variable(v)
        self._next_id = 1
        self._x = self._y = self._row_h = 0

    def _place(self, w: int, h: int) -> dm.GridPos:
        if self._x + w > 24:
            self._x, self._y, self._row_h = 0, self._y + self._row_h, 0
        pos = dm.GridPos(x=self._x, y=self._y, w=w, h=h)
        self._x += w
        self._row_h = max(self._row_h, h)
        return pos

    def _id(self) -> int:
        self._next_id += 1
        return self._next_id - 1

    def row(self, title: str) -> None:
        self._x = 24  # start a new line, and the next panel below it
        self.sdk.with_row(db.Row(title).id(self._id()).grid_pos(self._place(24, 1)))

    def add(
        self,
        kind: Kind,
        title: str,
        description: str,
        *targets: Target,
        w: int = 12,
        h: int = 8,
        unit: str = "",
        min: float | None = None,
        max: float | None = None,
        decimals: int | None = None,
        thresholds: db.ThresholdsConfig | None = None,
        mappings: list[dm.ValueMapping] | None = None,
        color_by_thresholds: bool = False,
        dashed: bool = False,
        log_scale: bool = False,
        transformations: list[dm.DataTransformerConfig] | None = None,
        overrides: list[Override] | None = None,
    ) -> None:
        p = _new(kind).id(self._id()).title(title).description(description)
        p.datasource(SQL if isinstance(targets[0], SqlQuery) else PROM)
        for i, t in enumerate(targets):
            p.with_target(t.ref_id(chr(ord("A") + i)))
        if unit:
            p.unit(unit)
        if min is not None:
            p.min(min)
        if max is not None:
            p.max(max)
        if decimals is not None:
            p.decimals(decimals)
        if thresholds is not None:
            p.thresholds(thresholds)
        if mappings:
            p.mappings(mappings)
        if color_by_thresholds:
            p.color_scheme(db.FieldColor().mode(dm.FieldColorModeId.THRESHOLDS))
        if isinstance(p, timeseries.Panel):
            if dashed:
                p.thresholds_style(
                    cb.GraphThresholdsStyleConfig().mode(cm.GraphTresholdsStyleMode.DASHED)
                )
            if log_scale:
                p.scale_distribution(
                    cb.ScaleDistributionConfig().type(cm.ScaleDistribution.LOG).log(10)
                )
        for transformation in transformations or []:
            p.with_transformation(transformation)
        for matcher, properties in overrides or []:
            p.with_override(matcher, properties)
        built = p.grid_pos(self._place(w, h))
        self.sdk.with_panel(built)

    def json(self) -> dict[str, Any]:
        """The dashboard as Grafana's JSON model (plain dicts and lists)."""
        encoded: dict[str, Any] = _plain(JSONEncoder().default(self.sdk.build()))
        return encoded


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    to_json = getattr(value, "to_json", None)
    return _plain(to_json()) if callable(to_json) else value
