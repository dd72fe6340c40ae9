"""The same opportunity ranking, cut by segment: source kind, source name, product/entity and period."""

from __future__ import annotations

import pandas as pd

from pipelines.ranking.opportunity import rank_themes

SEGMENTS = ("source_kind", "source_name", "product", "period")


def mapped_segments(mentions: pd.DataFrame) -> pd.DataFrame:
    """The ``segments`` column ((segment, value) pairs from ``--segment``) spread into one column per segment; a
    mapped segment named like a built-in one (product, period, …) is left to the built-in."""
    if "segments" not in mentions or mentions["segments"].isna().all():
        return mentions.drop(columns=["segments"], errors="ignore")
    spread = pd.DataFrame([{pair["segment"]: pair["value"] for pair in pairs} if pairs is not None else {}
                           for pairs in mentions["segments"]], index=mentions.index)
    spread = spread.drop(columns=[c for c in spread.columns if c in SEGMENTS or c in mentions], errors="ignore")
    return pd.concat([mentions.drop(columns=["segments"]), spread], axis=1)


def rank_by_segment(mentions: pd.DataFrame, min_mentions: int = 30, max_values: int = 50,
                    n_bootstrap: int = 300, seed: int = 0) -> pd.DataFrame:
    """One ranking per segment value with at least ``min_mentions`` mentions (the largest ``max_values``), for the
    built-in segments and every segment mapped with ``--segment``.

    A segment with a single value repeats the overall ranking and is left out.
    """
    tables = []
    known = set(mentions.columns)
    mentions = mapped_segments(mentions)
    for segment in [*SEGMENTS, *[c for c in mentions.columns if c not in known]]:
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
