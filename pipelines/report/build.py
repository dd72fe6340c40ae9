"""`unmet report`: one HTML file with the opportunity landscape, the ranked table with intervals, trends,
the explicit/implicit split and quotes. Plotly draws the charts; its JavaScript is embedded, so the file
opens with no network."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import duckdb
import pandas as pd
import plotly.graph_objects as go
from jinja2 import Environment, select_autoescape
from plotly.offline import get_plotlyjs

from pipelines.storage import WarehouseError, connect

TOP_TRENDS = 5
TOP_BARS = 15


@dataclass
class ReportData:
    ranking: pd.DataFrame
    trends: pd.DataFrame
    segments: pd.DataFrame
    fit: dict
    totals: dict
    edits: pd.DataFrame
    hidden: int


def load_report_data(con: duckdb.DuckDBPyConnection) -> ReportData:
    fit = con.execute("""SELECT theme_fit_id, kind, n_mentions, n_outliers, period, created_at
                         FROM v_latest_theme_fit""").df()
    if fit.empty:
        raise WarehouseError("no ranking in this database yet: run `unmet run INPUT` first")
    totals = con.execute("""SELECT count(*) AS documents, min(created_at) AS first, max(created_at) AS last,
                                   count(DISTINCT source_name) AS sources FROM v_feedback""").df().iloc[0].to_dict()
    return ReportData(
        ranking=rating_columns(con.execute("SELECT * FROM v_unmet_needs ORDER BY rank").df()),
        trends=con.execute("SELECT * FROM v_theme_trends").df(),
        segments=con.execute("""SELECT segment, segment_value, count(*) AS themes, sum(mentions) AS mentions
                                FROM v_unmet_needs_by_segment GROUP BY ALL ORDER BY segment, mentions DESC""").df(),
        fit=fit.iloc[0].to_dict(), totals=totals,
        edits=con.execute("SELECT * FROM v_theme_edits WHERE is_active").df(),
        hidden=con.execute("""SELECT count(*) FROM themes WHERE is_hidden
                              AND theme_fit_id = (SELECT theme_fit_id FROM v_latest_theme_fit)""").fetchone()[0])


def _layout(fig: go.Figure, title: str, height: int = 460) -> go.Figure:
    fig.update_layout(title=title, template="plotly_white", height=height, margin={"l": 60, "r": 20, "t": 60, "b": 50},
                      font={"family": "system-ui, sans-serif", "size": 13})
    return fig


def landscape(ranking: pd.DataFrame) -> go.Figure:
    """Importance vs satisfaction; bubbles = volume; bottom-right (important, unsatisfied) = opportunity."""
    size = 12 + 48 * (ranking["mentions"] / max(ranking["mentions"].max(), 1)) ** 0.5
    fig = go.Figure(go.Scatter(
        x=ranking["importance"], y=ranking["satisfaction"], mode="markers+text", text=ranking["theme_label"],
        textposition="top center", marker={"size": size, "color": ranking["opportunity_score"], "colorscale": "YlOrRd",
                                           "showscale": True, "colorbar": {"title": "opportunity"},
                                           "line": {"width": 1, "color": "#555"}},
        customdata=ranking[["rank", "mentions", "opportunity_score"]].to_numpy(),
        hovertemplate="<b>%{text}</b><br>rank %{customdata[0]}<br>%{customdata[1]} mentions<br>"
                      "importance %{x:.1f}, satisfaction %{y:.1f}<br>opportunity %{customdata[2]:.1f}<extra></extra>"))
    fig.add_shape(type="line", x0=0, y0=0, x1=10, y1=10, line={"dash": "dot", "color": "#999"})
    fig.add_annotation(x=9, y=1, text="unmet: important, unsatisfied", showarrow=False, font={"color": "#b30000"})
    fig.update_xaxes(title="importance (0–10)", range=[-0.5, 10.8])
    fig.update_yaxes(title="satisfaction (0–10)", range=[-0.5, 10.8])
    return _layout(fig, "Opportunity landscape", 560)


def ranked_bars(ranking: pd.DataFrame) -> go.Figure:
    top = ranking.head(TOP_BARS).iloc[::-1]
    labels = [f"#{r} {label}" for r, label in zip(top["rank"], top["theme_label"], strict=True)]
    fig = go.Figure(go.Bar(
        x=top["opportunity_score"], y=labels,
        orientation="h", marker_color="#d7301f",
        error_x={"type": "data", "symmetric": False, "array": top["ci_high"] - top["opportunity_score"],
                 "arrayminus": top["opportunity_score"] - top["ci_low"]},
        hovertemplate="%{y}: %{x:.1f}<extra></extra>"))
    fig.update_xaxes(title="opportunity score (0–20) with 95% interval")
    return _layout(fig, f"Top {len(top)} unmet needs", 40 + 28 * len(top) + 80)


def trend_lines(ranking: pd.DataFrame, trends: pd.DataFrame) -> go.Figure:
    fig = go.Figure()
    for row in ranking.head(TOP_TRENDS).itertuples():
        series = trends[trends["theme_id"] == row.theme_id]
        fig.add_trace(go.Scatter(x=series["period_start"], y=series["share"], mode="lines+markers",
                                 name=f"#{row.rank} {row.theme_label} ({row.trend})"))
    fig.update_yaxes(title="share of need mentions", tickformat=".0%")
    return _layout(fig, f"Trend of the top {TOP_TRENDS} themes")


def need_split(ranking: pd.DataFrame) -> go.Figure:
    top = ranking.head(TOP_BARS).iloc[::-1]
    labels = [f"#{r} {label}" for r, label in zip(top["rank"], top["theme_label"], strict=True)]
    fig = go.Figure([
        go.Bar(y=labels, x=top["mentions"] * top["explicit_share"], name="explicit (stated)", orientation="h",
               marker_color="#2b8cbe"),
        go.Bar(y=labels, x=top["mentions"] * top["implicit_share"], name="implicit (implied by a pain)",
               orientation="h", marker_color="#fdae6b")])
    fig.update_layout(barmode="stack")
    fig.update_xaxes(title="need mentions")
    return _layout(fig, "Explicit vs implicit needs", 40 + 28 * len(top) + 80)


def hierarchy(ranking: pd.DataFrame) -> go.Figure:
    parents = ranking.groupby(["parent_theme_id", "parent_theme_label"], as_index=False)["mentions"].sum()
    ids = [f"p{p}" for p in parents["parent_theme_id"]] + [f"t{t}" for t in ranking["theme_id"]]
    fig = go.Figure(go.Treemap(
        ids=ids, labels=list(parents["parent_theme_label"]) + list(ranking["theme_label"]),
        parents=[""] * len(parents) + [f"p{p}" for p in ranking["parent_theme_id"]],
        values=list(parents["mentions"]) + list(ranking["mentions"]), branchvalues="total",
        marker={"colors": [0.0] * len(parents) + list(ranking["negative_share"]), "colorscale": "Reds"},
        hovertemplate="<b>%{label}</b><br>%{value} mentions<extra></extra>"))
    return _layout(fig, "Parent themes (area = mentions, colour = negative share)", 520)


def quotes(ranking: pd.DataFrame, limit: int = 20) -> list[dict]:
    sections = []
    for row in ranking.head(limit).itertuples():
        sections.append({"rank": row.rank, "label": row.theme_label, "terms": ", ".join(list(row.top_terms)[:6]),
                         "emerging": bool(row.is_emerging), "quotes": json.loads(row.example_quotes),
                         "need_statement": row.need_statement, "requests": json.loads(row.top_requests or "[]")})
    return sections


def rating_columns(ranking: pd.DataFrame) -> pd.DataFrame:
    """Mean rating, rating impact and recommend impact (percentage points) as the table shows them
    ("−0.91 (−1.07 to −0.75)"); empty without ratings or flags."""
    def signed(value: float) -> str:
        return f"{value:+.2f}".replace("-", "−")

    def interval(value: float, low: float, high: float, scale: float = 1.0) -> str:
        return f"{signed(scale * value)} ({signed(scale * low)} to {signed(scale * high)})" if pd.notna(value) else ""

    return ranking.assign(
        mean_rating_text=[f"{m:.2f}" if pd.notna(m) else "" for m in ranking["mean_rating"]],
        impact_text=[interval(*row) for row in zip(ranking["rating_impact"], ranking["rating_impact_ci_low"],
                                                   ranking["rating_impact_ci_high"], strict=True)],
        recommend_text=[interval(*row, scale=100) for row in zip(
            ranking["recommend_impact"], ranking["recommend_impact_ci_low"], ranking["recommend_impact_ci_high"],
            strict=True)])


def build_report(db_path: str | Path, out_path: str | Path) -> Path:
    """Write the report for the latest ranking in ``db_path``; returns the path written."""
    con = connect(db_path, read_only=True)
    try:
        data = load_report_data(con)
    finally:
        con.close()
    figures = [landscape(data.ranking), ranked_bars(data.ranking), trend_lines(data.ranking, data.trends),
               need_split(data.ranking), hierarchy(data.ranking)]
    charts = [fig.to_html(full_html=False, include_plotlyjs=False, div_id=f"chart-{i}",
                          config={"displaylogo": False, "responsive": True}) for i, fig in enumerate(figures)]
    template = resources.files("pipelines.report").joinpath("report.html.j2").read_text(encoding="utf-8")
    html = Environment(autoescape=select_autoescape(default=True)).from_string(template).render(
        plotly_js=get_plotlyjs(), charts=charts, ranking=data.ranking.to_dict("records"), quotes=quotes(data.ranking),
        fit=data.fit, totals=data.totals, dated=bool(pd.notna(data.totals["first"])),
        segments=data.segments.to_dict("records"), edits=data.edits.to_dict("records"), hidden=data.hidden,
        rated=bool(data.ranking["rated_documents"].fillna(0).sum() > 0),
        flagged=bool(data.ranking["recommend_documents"].fillna(0).sum() > 0),
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), db=str(db_path))
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html, encoding="utf-8")
    return out
