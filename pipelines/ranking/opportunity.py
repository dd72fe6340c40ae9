"""Opportunity scores for themes, after Ulwick: importance + max(importance − satisfaction, 0).

On a 0–10 scale per component (so the score is 0–20):
- importance   = 10 × (documents raising the theme / documents raising the most-raised theme)
- satisfaction = 10 × share of satisfied votes. A document with a star rating is one vote, satisfied when
  its rating is in the top two boxes (4–5 of 5, 9–10 of 10: Ulwick's own measure of satisfaction); one with a
  recommend flag but no rating votes its flag; a document with neither (tweets) votes once per mention,
  satisfied unless the mention is negative. Without any ratings
  this is 1 − the theme's negative-mention share, as before; with ratings the customer's own verdict decides,
  so a theme raised in 5-star reviews is not scored as unmet because its sentences sound negative.

Where documents carry ratings, each theme also gets its **impact**: the mean rating of the rated documents
that raise it minus that of the rated documents that do not, with a 95 % (Welch, normal) interval; and where
they carry a recommend flag, the same for the share that recommends.

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


def _components(doc_counts, votes, satisfied):
    """Importance and satisfaction on 0–10 from per-theme counts (last axis = themes)."""
    top = np.maximum(doc_counts.max(axis=-1, keepdims=True), 1e-12)
    importance = SCALE * doc_counts / top
    satisfaction = SCALE * satisfied / np.maximum(votes, 1e-12)
    return importance, satisfaction


def _bootstrap_scores(raised, vote_matrix, satisfied_matrix, n_bootstrap: int, seed: int, block: int = 25):
    """Opportunity per bootstrap replicate (Poisson document weights), ``block`` replicates at a time so the
    weights never need n_bootstrap × documents floats (2.4 GB for 300 replicates of a million documents)."""
    rng = np.random.default_rng(seed)
    for start in range(0, n_bootstrap, block):
        weights = rng.poisson(1.0, size=(min(block, n_bootstrap - start), raised.shape[0])).astype(float)
        boot_i, boot_s = _components(np.asarray(raised.T @ weights.T).T, np.asarray(vote_matrix.T @ weights.T).T,
                                     np.asarray(satisfied_matrix.T @ weights.T).T)
        yield opportunity(boot_i, boot_s)


def top_box(ratings: np.ndarray) -> np.ndarray:
    """1 where a rating is in the top two boxes of its scale (5-point up to 5, 10-point up to 10, else its max)."""
    known = ratings[~np.isnan(ratings)]
    top = 5.0 if not len(known) or known.max() <= 5 else 10.0 if known.max() <= 10 else float(known.max())
    return (ratings >= top - 1).astype(float)


def rating_impact(raised_documents: pd.Series, ratings: pd.Series, z: float = 1.96) -> dict:
    """Mean rating with and without the theme among rated documents, their difference and its interval."""
    rated = ratings.dropna()
    inside = rated[rated.index.isin(raised_documents)]
    outside = rated[~rated.index.isin(raised_documents)]
    if len(inside) < 2 or len(outside) < 2:
        return {"rated_documents": int(len(inside)), "mean_rating": float(inside.mean()) if len(inside) else np.nan,
                "mean_rating_without": np.nan, "rating_impact": np.nan, "rating_impact_ci_low": np.nan,
                "rating_impact_ci_high": np.nan}
    difference = float(inside.mean() - outside.mean())
    error = float(np.sqrt(inside.var(ddof=1) / len(inside) + outside.var(ddof=1) / len(outside)))
    return {"rated_documents": int(len(inside)), "mean_rating": float(inside.mean()),
            "mean_rating_without": float(outside.mean()), "rating_impact": difference,
            "rating_impact_ci_low": difference - z * error, "rating_impact_ci_high": difference + z * error}


def recommend_impact(raised_documents: pd.Series, flags: pd.Series, z: float = 1.96) -> dict:
    """Share recommending with and without the theme among flagged documents, their difference and its interval."""
    known = flags.dropna().astype(float)
    inside = known[known.index.isin(raised_documents)]
    outside = known[~known.index.isin(raised_documents)]
    result = {"recommend_documents": int(len(inside)), "recommend_share": float(inside.mean()) if len(inside)
              else np.nan, "recommend_share_without": np.nan, "recommend_impact": np.nan,
              "recommend_impact_ci_low": np.nan, "recommend_impact_ci_high": np.nan}
    if len(inside) < 2 or len(outside) < 2:
        return result
    p, q = float(inside.mean()), float(outside.mean())
    error = float(np.sqrt(p * (1 - p) / len(inside) + q * (1 - q) / len(outside)))
    return {**result, "recommend_share_without": q, "recommend_impact": p - q,
            "recommend_impact_ci_low": p - q - z * error, "recommend_impact_ci_high": p - q + z * error}


RATING_COLUMNS = ["rated_documents", "mean_rating", "mean_rating_without", "rating_impact", "rating_impact_ci_low",
                  "rating_impact_ci_high"]
RECOMMEND_COLUMNS = ["recommend_documents", "recommend_share", "recommend_share_without", "recommend_impact",
                     "recommend_impact_ci_low", "recommend_impact_ci_high"]


def documents_in_content_order(mentions: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The distinct documents, and each mention's row among them, ordered by ``document_key`` (the
    warehouse's hash of the document's text and rating) where the mentions have one, then by id.

    The bootstrap draws one weight per document in this order, so the intervals depend on what customers wrote,
    not on ``feedback_id``, which hashes the warehouse's own author salt: two warehouses of the same reviews gave
    different intervals, and the needs ranked by their lower bound came out in another order."""
    ids = mentions["feedback_id"].to_numpy()
    docs, first, doc_index = np.unique(ids, return_index=True, return_inverse=True)
    if "document_key" not in mentions:
        return docs, doc_index
    order = np.lexsort((docs, mentions["document_key"].to_numpy()[first]))
    position = np.empty(len(order), dtype=np.int64)
    position[order] = np.arange(len(order))
    return docs[order], position[doc_index]


def rank_themes(mentions: pd.DataFrame, n_bootstrap: int = 300, seed: int = 0, level: float = 0.95,
                verdicts: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per theme, ranked. ``mentions`` has feedback_id, theme_id, need_kind, sentiment and, optionally,
    the document's ``rating``, ``recommend`` and ``document_key`` (see ``documents_in_content_order``).
    ``verdicts`` (indexed by feedback_id, columns rating and recommend, for every document with or without needs)
    gives each theme its rating and recommend impact."""
    columns = ["theme_id", "rank", "mentions", "documents", "explicit_share", "negative_share", "importance",
               "satisfaction", "opportunity_score", "ci_low", "ci_high", "satisfaction_basis", *RATING_COLUMNS,
               *RECOMMEND_COLUMNS]
    if mentions.empty:
        return pd.DataFrame(columns=columns)
    docs, doc_index = documents_in_content_order(mentions)
    themes, theme_index = np.unique(mentions["theme_id"].to_numpy(), return_inverse=True)
    negative = (mentions["sentiment"].to_numpy() == "negative").astype(float)
    shape = (len(docs), len(themes))
    mention_matrix = sparse.csr_matrix((np.ones(len(mentions)), (doc_index, theme_index)), shape=shape)
    negative_matrix = sparse.csr_matrix((negative, (doc_index, theme_index)), shape=shape)
    raised = (mention_matrix > 0).astype(float)
    rating, recommend = np.full(len(docs), np.nan), np.full(len(docs), np.nan)
    for column, values in (("rating", rating), ("recommend", recommend)):
        if column in mentions:
            values[doc_index] = pd.to_numeric(mentions[column].astype(object).where(mentions[column].notna()),
                                              errors="coerce").to_numpy(dtype=float)
    verdict = np.where(~np.isnan(rating), top_box(rating), recommend)  # the customer's own, where given
    rated = sparse.diags((~np.isnan(verdict)).astype(float))
    unrated = sparse.diags(np.isnan(verdict).astype(float))
    vote_matrix = (rated @ raised + unrated @ mention_matrix).tocsr()
    satisfied_matrix = (sparse.diags(np.nan_to_num(verdict)) @ rated @ raised
                        + unrated @ (mention_matrix - negative_matrix)).tocsr()

    doc_counts = np.asarray(raised.sum(axis=0)).ravel()
    mention_counts = np.asarray(mention_matrix.sum(axis=0)).ravel()
    negative_counts = np.asarray(negative_matrix.sum(axis=0)).ravel()
    rated_counts = np.asarray((rated @ raised).sum(axis=0)).ravel()
    importance, satisfaction = _components(doc_counts, np.asarray(vote_matrix.sum(axis=0)).ravel(),
                                           np.asarray(satisfied_matrix.sum(axis=0)).ravel())
    score = opportunity(importance, satisfaction)

    boot = np.vstack(list(_bootstrap_scores(raised, vote_matrix, satisfied_matrix, n_bootstrap, seed)))
    alpha = (1 - level) / 2
    low, high = np.quantile(boot, [alpha, 1 - alpha], axis=0)

    explicit = mentions.groupby("theme_id")["need_kind"].apply(lambda k: (k == "explicit").mean())
    table = pd.DataFrame({
        "theme_id": themes, "mentions": mention_counts.astype(int), "documents": doc_counts.astype(int),
        "explicit_share": explicit.reindex(themes).to_numpy(), "negative_share": negative_counts / mention_counts,
        "importance": importance, "satisfaction": satisfaction, "opportunity_score": score,
        "ci_low": np.minimum(low, score), "ci_high": np.maximum(high, score),
        "satisfaction_basis": np.where(rated_counts == 0, "sentiment",
                                       np.where(rated_counts == doc_counts, "ratings", "ratings and sentiment")),
    })
    impacts = []
    for theme in themes:
        raised_by = mentions.loc[mentions["theme_id"] == theme, "feedback_id"]
        row = dict.fromkeys(RATING_COLUMNS + RECOMMEND_COLUMNS, np.nan)
        if verdicts is not None and verdicts["rating"].notna().any():
            row.update(rating_impact(raised_by, verdicts["rating"]))
        if verdicts is not None and verdicts["recommend"].notna().any():
            row.update(recommend_impact(raised_by, verdicts["recommend"]))
        impacts.append(row)
    table = pd.concat([table, pd.DataFrame(impacts, columns=RATING_COLUMNS + RECOMMEND_COLUMNS)], axis=1)
    table = table.sort_values(["ci_low", "opportunity_score", "mentions", "theme_id"],
                              ascending=[False, False, False, True]).reset_index(drop=True)
    table["rank"] = np.arange(1, len(table) + 1)
    return table[columns]
