"""The same opportunity ranking, cut by segment: source kind, source name, product/entity and period."""

from __future__ import annotations

import pandas as pd

from pipelines.ranking.opportunity import rank_themes

SEGMENTS = ("source_kind", "source_name", "product", "period")


def rank_by_segment(mentions: pd.DataFrame, min_mentions: int = 30, max_values: int = 50,
                    n_bootstrap: int = 300, seed: int = 0) -> pd.DataFrame:
    """One ranking per segment value with at least ``min_mentions`` mentions (the largest ``max_values``).

    A segment with a single value repeats the overall ranking and is left out.
    """
    tables = []
    for segment in SEGMENTS:
        if segment not in mentions or mentions[segment].nunique(dropna=True) < 2:
            continue
        sizes = mentions[segment].dropna().astype(str).value_counts()
        for value in sizes[sizes >= min_mentions].index[:max_values]:
            subset = mentions[mentions[segment].astype(str) == value]
            table = rank_themes(subset, n_bootstrap=n_bootstrap, seed=seed)
            table.insert(0, "segment_value", value)
            table.insert(0, "segment", segment)
            tables.append(table)
    if not tables:
        return pd.DataFrame(columns=["segment", "segment_value", *rank_themes(mentions.iloc[:0]).columns])
    return pd.concat(tables, ignore_index=True)
