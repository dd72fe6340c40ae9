"""Trends: each theme's share of need mentions per period, and whether the latest change is significant.

Share, not count, so that a busy week does not make every theme "rising". The change between the two
latest periods is tested with a two-proportion z-test; p-values are Benjamini-Hochberg adjusted over
themes, so with 40 themes one is not flagged by chance every night.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import norm

from models.errors import ConfigError

PERIODS = {"day": "D", "week": "W-MON", "month": "MS"}


def choose_period(created_at: pd.Series) -> str:
    """day, week or month, so that the data spans enough periods to see a trend."""
    dates = pd.to_datetime(created_at, utc=True).dropna()
    if dates.empty:
        return "day"
    span_days = (dates.max() - dates.min()).days
    return "month" if span_days >= 120 else "week" if span_days >= 28 else "day"


def period_start(created_at: pd.Series, period: str) -> pd.Series:
    if period not in PERIODS:
        raise ConfigError(f"unknown period {period!r}: use one of {', '.join(PERIODS)} or auto")
    dates = pd.to_datetime(created_at, utc=True).dt.tz_localize(None)
    return dates.dt.to_period({"day": "D", "week": "W", "month": "M"}[period]).dt.start_time.dt.date


def theme_shares(mentions: pd.DataFrame, period: str) -> pd.DataFrame:
    """theme_id, period_start, mentions, period_mentions, share; every theme gets every period (0 when absent)."""
    dated = mentions.dropna(subset=["created_at"])
    columns = ["theme_id", "period_start", "mentions", "period_mentions", "share"]
    if dated.empty:
        return pd.DataFrame(columns=columns)
    frame = pd.DataFrame({"theme_id": dated["theme_id"].to_numpy(),
                          "period_start": period_start(dated["created_at"], period).to_numpy()})
    counts = frame.groupby(["theme_id", "period_start"]).size().unstack(fill_value=0)
    totals = frame.groupby("period_start").size()
    counts = counts.reindex(columns=totals.index, fill_value=0)
    long = counts.stack().rename("mentions").reset_index()
    long["period_mentions"] = long["period_start"].map(totals).to_numpy()
    long["share"] = long["mentions"] / long["period_mentions"]
    return long[columns].sort_values(["theme_id", "period_start"]).reset_index(drop=True)


def benjamini_hochberg(p: np.ndarray) -> np.ndarray:
    p = np.asarray(p, dtype=float)
    if p.size == 0:
        return p
    order = np.argsort(p)
    scaled = p[order] * len(p) / np.arange(1, len(p) + 1)
    adjusted = np.minimum.accumulate(scaled[::-1])[::-1]
    out = np.empty_like(p)
    out[order] = np.minimum(adjusted, 1.0)
    return out


def trend_tests(shares: pd.DataFrame, themes: list[int], alpha: float = 0.05) -> pd.DataFrame:
    """Per theme: share in the previous and latest period, growth, adjusted p-value and a verdict."""
    columns = ["theme_id", "share_previous", "share_latest", "trend_growth", "trend_p_value", "trend"]
    periods = sorted(shares["period_start"].unique()) if not shares.empty else []
    if len(periods) < 2:
        return pd.DataFrame({"theme_id": themes, "share_previous": np.nan, "share_latest": np.nan,
                             "trend_growth": np.nan, "trend_p_value": np.nan, "trend": "unknown"})[columns]
    previous, latest = periods[-2], periods[-1]
    table = shares.set_index(["theme_id", "period_start"])
    rows = []
    for theme in themes:
        k1, n1 = _count(table, theme, previous)
        k2, n2 = _count(table, theme, latest)
        p1, p2 = k1 / n1, k2 / n2
        pooled = (k1 + k2) / (n1 + n2)
        se = np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
        p_value = 2 * norm.sf(abs(p2 - p1) / se) if se > 0 else 1.0
        rows.append((theme, p1, p2, p2 - p1, p_value))
    result = pd.DataFrame(rows, columns=columns[:-1])
    result["trend_p_value"] = benjamini_hochberg(result["trend_p_value"].to_numpy())
    significant = result["trend_p_value"] < alpha
    result["trend"] = np.where(significant & (result["trend_growth"] > 0), "rising",
                               np.where(significant & (result["trend_growth"] < 0), "falling", "steady"))
    return result[columns]


def _count(table: pd.DataFrame, theme: int, period) -> tuple[int, int]:
    if (theme, period) in table.index:
        row = table.loc[(theme, period)]
        return int(row["mentions"]), max(int(row["period_mentions"]), 1)
    totals = table.xs(period, level="period_start")["period_mentions"]
    return 0, max(int(totals.iloc[0]) if len(totals) else 1, 1)
