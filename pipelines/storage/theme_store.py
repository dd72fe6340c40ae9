"""Reading the previous theme fit back, and writing a new one (themes, assignments, rankings) atomically."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from models.themes import ThemeModel
from pipelines.faults import checkpoint
from pipelines.storage.theme_edits import ThemeEdits

THEME_ROWS = pa.schema([
    ("theme_fit_id", pa.string()), ("theme_id", pa.int64()), ("label", pa.string()),
    ("top_terms", pa.list_(pa.string())),
    ("size", pa.int64()), ("representative_sentence_ids", pa.list_(pa.string())), ("parent_id", pa.int64()),
    ("parent_label", pa.string()), ("is_emerging", pa.bool_()), ("cohesion", pa.float64()), ("aspect", pa.string()),
    ("problem", pa.string()), ("need_statement", pa.string()), ("label_coverage", pa.float64()),
    ("top_request_sentence_ids", pa.list_(pa.string())), ("edited_label", pa.string()), ("merged_into", pa.int64()),
    ("is_hidden", pa.bool_())])


@dataclass
class PreviousFit:
    fit_id: str
    encoder: str | None
    mentions_digest: str | None
    state: dict
    n_themes: int
    n_outliers: int
    next_theme_id: int
    featurizer_fit_id: str | None = None


def load_previous_fit(con: duckdb.DuckDBPyConnection) -> PreviousFit | None:
    """The latest fit with a stored model state; fits from before stable ids (no centroids) count as none."""
    row = con.execute("""SELECT f.theme_fit_id, f.encoder, f.mentions_digest, f.min_similarity, f.cohesion_floor,
                                f.n_outliers, f.featurizer_fit_id
                         FROM v_latest_theme_fit f
                         WHERE EXISTS (SELECT 1 FROM theme_centroids c
                                       WHERE c.theme_fit_id = f.theme_fit_id)""").fetchone()
    if not row:
        return None
    fit_id, encoder, digest, min_similarity, cohesion_floor, n_outliers, featurizer_fit_id = row
    features = con.execute("""SELECT terms, idf, components, n_components, lexical_weight FROM theme_featurizers
                              WHERE theme_fit_id = ?""", [featurizer_fit_id]).fetchone()
    centroids = con.execute("""SELECT theme_id, parent_id, is_emerging, centroid FROM theme_centroids
                               WHERE theme_fit_id = ? ORDER BY theme_id""", [fit_id]).fetchall()
    state = {"theme_ids": [r[0] for r in centroids], "parents": [r[1] for r in centroids],
             "emerging": [r[2] for r in centroids], "centroids": [r[3] for r in centroids],
             "min_similarity": min_similarity, "cohesion_floor": cohesion_floor,
             "featurizer": dict(zip(["terms", "idf", "components", "n_components", "lexical_weight"], features,
                                    strict=True))}
    next_id = con.execute("SELECT coalesce(max(theme_id), -1) + 1 FROM theme_centroids").fetchone()[0]
    n_themes = con.execute("SELECT count(*) FROM themes WHERE theme_fit_id = ?", [fit_id]).fetchone()[0]
    return PreviousFit(fit_id, encoder, digest, state, n_themes, n_outliers or 0, next_id, featurizer_fit_id)


@dataclass(frozen=True)
class FitRecord:
    """One theme fit as the rank flow hands it to storage: the model and what was scored with it."""

    fit_id: str
    digest: str  # of the mentions and parameters, so an unchanged set reuses this fit
    kind: str  # initial, incremental or refit
    model_name: str  # the registered name of the theme model
    model: ThemeModel
    edits: ThemeEdits
    params: dict
    encoder: str
    period: str
    previous: PreviousFit | None
    run_id: str
    sentence_ids: pa.Array  # row i of the model's labels is this sentence
    ranking: pd.DataFrame
    shares: pd.DataFrame
    segments: pd.DataFrame
    id_map: pd.DataFrame  # old → new theme ids of a refit (empty otherwise)


def write_fit(con: duckdb.DuckDBPyConnection, record: FitRecord) -> None:
    """Everything about one fit in one transaction: readers see the old fit or the new one, never half."""
    fit_id, kind, model, edits, sentence_ids = (record.fit_id, record.kind, record.model, record.edits,
                                                record.sentence_ids)
    ranking, shares, segments, id_map, previous = (record.ranking, record.shares, record.segments, record.id_map,
                                                   record.previous)
    state = model.state_()
    previous_fit_id = previous.fit_id if previous else None
    featurizer_fit_id = previous.featurizer_fit_id if kind == "incremental" else fit_id
    themes = pa.Table.from_pylist([
        {"theme_fit_id": fit_id, "theme_id": t["theme_id"], "label": t["label"], "top_terms": t["top_terms"],
         "size": t["size"], "representative_sentence_ids": [sentence_ids[i].as_py() for i in t["representatives"]],
         "parent_id": t["parent_id"], "parent_label": t["parent_label"], "is_emerging": t["emerging"],
         "cohesion": t["cohesion"], "aspect": t["aspect"], "problem": t["problem"],
         "need_statement": t["need_statement"], "label_coverage": t["label_coverage"],
         "top_request_sentence_ids": [sentence_ids[i].as_py() for i in t["top_requests"]],
         "edited_label": edits.renames.get(t["theme_id"]),
         "merged_into": shown if (shown := edits.shown_as(t["theme_id"])) != t["theme_id"] else None,
         "is_hidden": edits.shown_as(t["theme_id"]) in edits.hidden} for t in model.themes_],
        schema=THEME_ROWS)
    centroids = pa.table({"theme_fit_id": [fit_id] * len(state["theme_ids"]), "theme_id": state["theme_ids"],
                          "parent_id": state["parents"], "is_emerging": state["emerging"],
                          "centroid": pa.array(list(np.asarray(state["centroids"], dtype=np.float32)),
                                               type=pa.list_(pa.float32()))})
    assignments = pa.table({"theme_fit_id": pa.repeat(fit_id, len(sentence_ids)), "sentence_id": sentence_ids,
                            "theme_id": np.asarray(model.labels_, dtype=np.int32)})
    ranking = ranking.assign(theme_fit_id=fit_id)
    shares = shares.assign(theme_fit_id=fit_id)
    segments = segments.assign(theme_fit_id=fit_id)
    id_map = id_map.assign(theme_fit_id=fit_id, previous_fit_id=previous_fit_id)
    staged = {"new_themes": themes, "new_centroids": centroids, "new_assignments": assignments,
              "new_ranking": ranking, "new_shares": shares, "new_segments": segments, "new_id_map": id_map}
    con.execute("BEGIN TRANSACTION")
    try:
        for name, table in staged.items():
            con.register(name, table)
        con.execute("""INSERT INTO theme_fits (theme_fit_id, model, params, n_mentions, run_id, created_at, kind,
                           previous_fit_id, encoder, min_similarity, cohesion_floor, n_outliers, period,
                           mentions_digest, featurizer_fit_id)
                       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                    [fit_id, record.model_name, json.dumps(record.params), len(sentence_ids), record.run_id,
                     datetime.now(UTC), kind, previous_fit_id, record.encoder, state["min_similarity"],
                     state["cohesion_floor"], model.outliers_["size"], record.period, record.digest,
                     featurizer_fit_id])
        if kind != "incremental":
            features = state["featurizer"]
            con.execute("INSERT INTO theme_featurizers VALUES (?, ?, ?, ?, ?, ?)",
                        [fit_id, features["terms"], features["idf"], features["components"],
                         features["n_components"], features["lexical_weight"]])
        con.execute(f"INSERT INTO themes ({', '.join(THEME_ROWS.names)}) SELECT * FROM new_themes")
        con.execute("INSERT INTO theme_centroids SELECT * FROM new_centroids")
        con.execute("INSERT INTO theme_assignments SELECT * FROM new_assignments")
        con.execute("""INSERT INTO need_rankings (theme_fit_id, theme_id, rank, mentions, documents, explicit_share,
                           negative_share, importance, satisfaction, opportunity_score, ci_low, ci_high, example_quotes,
                           implicit_share, share_previous, share_latest, trend_growth, trend_p_value, trend,
                           top_requests, satisfaction_basis, rated_documents, mean_rating, mean_rating_without,
                           rating_impact, rating_impact_ci_low, rating_impact_ci_high, recommend_documents,
                           recommend_share, recommend_share_without, recommend_impact, recommend_impact_ci_low,
                           recommend_impact_ci_high)
                       SELECT theme_fit_id, theme_id, rank, mentions, documents, explicit_share, negative_share,
                              importance, satisfaction, opportunity_score, ci_low, ci_high, example_quotes,
                              implicit_share, share_previous, share_latest, trend_growth, trend_p_value, trend,
                              top_requests, satisfaction_basis, rated_documents, mean_rating, mean_rating_without,
                              rating_impact, rating_impact_ci_low, rating_impact_ci_high, recommend_documents,
                              recommend_share, recommend_share_without, recommend_impact, recommend_impact_ci_low,
                              recommend_impact_ci_high
                       FROM new_ranking""")
        con.execute("""INSERT INTO theme_trends SELECT theme_fit_id, theme_id, period_start, mentions, period_mentions,
                       share FROM new_shares""")
        con.execute("""INSERT INTO segment_rankings SELECT theme_fit_id, segment, segment_value, theme_id, rank,
                           mentions, documents, explicit_share, negative_share, importance, satisfaction,
                           opportunity_score, ci_low, ci_high FROM new_segments""")
        if not id_map.empty:
            con.execute("""INSERT INTO theme_id_map SELECT theme_fit_id, previous_fit_id, old_theme_id, new_theme_id,
                           shared_mentions, share_of_old FROM new_id_map""")
        checkpoint("rank.before_commit")
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    finally:
        for name in staged:
            con.unregister(name)
