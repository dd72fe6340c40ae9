"""Opportunity scores for themes, after Ulwick: importance + max(importance − satisfaction, 0).

On a 0–10 scale per component (so the score is 0–20):
- importance   = 10 × (documents raising the theme / documents raising the most-raised theme)
- satisfaction = 10 × (1 − share of the theme's mentions that are negative)

A 95 % interval comes from a Poisson bootstrap over documents; themes are ranked by the interval's
lower bound, so a theme with 3 mentions cannot outrank one with 300 by noise.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse

SCALE = 10.0


def opportunity(importance: np.ndarray, satisfaction: np.ndarray) -> np.ndarray:
    return importance + np.maximum(importance - satisfaction, 0.0)


def _components(doc_counts, mentions, negatives):
    """Importance and satisfaction on 0–10 from per-theme counts (last axis = themes)."""
    top = np.maximum(doc_counts.max(axis=-1, keepdims=True), 1e-12)
    importance = SCALE * doc_counts / top
    satisfaction = SCALE * (1.0 - negatives / np.maximum(mentions, 1e-12))
    return importance, satisfaction


def _bootstrap_scores(raised, mention_matrix, negative_matrix, n_bootstrap: int, seed: int, block: int = 25):
    """Opportunity per bootstrap replicate (Poisson document weights), ``block`` replicates at a time so the
    weights never need n_bootstrap × documents floats (2.4 GB for 300 replicates of a million documents)."""
    rng = np.random.default_rng(seed)
    for start in range(0, n_bootstrap, block):
        weights = rng.poisson(1.0, size=(min(block, n_bootstrap - start), raised.shape[0])).astype(float)
        boot_i, boot_s = _components(np.asarray(raised.T @ weights.T).T, np.asarray(mention_matrix.T @ weights.T).T,
                                     np.asarray(negative_matrix.T @ weights.T).T)
        yield opportunity(boot_i, boot_s)


def rank_themes(mentions: pd.DataFrame, n_bootstrap: int = 300, seed: int = 0, level: float = 0.95) -> pd.DataFrame:
    """One row per theme, ranked. ``mentions`` has feedback_id, theme_id, need_kind, sentiment."""
    columns = ["theme_id", "rank", "mentions", "documents", "explicit_share", "negative_share", "importance",
               "satisfaction", "opportunity_score", "ci_low", "ci_high"]
    if mentions.empty:
        return pd.DataFrame(columns=columns)
    docs, doc_index = np.unique(mentions["feedback_id"].to_numpy(), return_inverse=True)
    themes, theme_index = np.unique(mentions["theme_id"].to_numpy(), return_inverse=True)
    negative = (mentions["sentiment"].to_numpy() == "negative").astype(float)
    shape = (len(docs), len(themes))
    mention_matrix = sparse.csr_matrix((np.ones(len(mentions)), (doc_index, theme_index)), shape=shape)
    negative_matrix = sparse.csr_matrix((negative, (doc_index, theme_index)), shape=shape)
    raised = (mention_matrix > 0).astype(float)

    doc_counts = np.asarray(raised.sum(axis=0)).ravel()
    mention_counts = np.asarray(mention_matrix.sum(axis=0)).ravel()
    negative_counts = np.asarray(negative_matrix.sum(axis=0)).ravel()
    importance, satisfaction = _components(doc_counts, mention_counts, negative_counts)
    score = opportunity(importance, satisfaction)

    boot = np.vstack(list(_bootstrap_scores(raised, mention_matrix, negative_matrix, n_bootstrap, seed)))
    alpha = (1 - level) / 2
    low, high = np.quantile(boot, [alpha, 1 - alpha], axis=0)

    explicit = mentions.groupby("theme_id")["need_kind"].apply(lambda k: (k == "explicit").mean())
    table = pd.DataFrame({
        "theme_id": themes, "mentions": mention_counts.astype(int), "documents": doc_counts.astype(int),
        "explicit_share": explicit.reindex(themes).to_numpy(), "negative_share": negative_counts / mention_counts,
        "importance": importance, "satisfaction": satisfaction, "opportunity_score": score,
        "ci_low": np.minimum(low, score), "ci_high": np.maximum(high, score),
    })
    table = table.sort_values(["ci_low", "opportunity_score", "mentions", "theme_id"],
                              ascending=[False, False, False, True]).reset_index(drop=True)
    table["rank"] = np.arange(1, len(table) + 1)
    return table[columns]
