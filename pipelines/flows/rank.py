"""rank_needs: group the current need mentions into themes (keeping theme ids between runs) and rank them."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
from prefect import flow, task
from prefect.cache_policies import NONE

from models import registry
from models.themes import OUTLIER, ThemeModel
from pipelines.config import DEFAULT_DB_PATH
from pipelines.ranking import rank_themes
from pipelines.ranking.segments import rank_by_segment
from pipelines.ranking.theme_ids import match_refit
from pipelines.ranking.trend import choose_period, period_start, theme_shares, trend_tests
from pipelines.storage.runs import recorded_run
from pipelines.storage.theme_store import PreviousFit, load_previous_fit, mention_keys, write_fit

log = logging.getLogger("unmet.rank")
THEME_MODEL = "unmet.themes.v2"

MENTIONS_SQL = """
SELECT s.sentence_id, s.feedback_id, s.sentence_index, s.text, s.need_kind, s.sentiment, s.aspect, e.embedding,
       e.encoder, d.source_id, d.source_kind, d.source_name, d.product, d.url, d.created_at
FROM sentences s
JOIN v_current_analysis a USING (feedback_id, analysis_version)
JOIN sentence_embeddings e USING (sentence_id)
JOIN documents d USING (feedback_id)
WHERE s.need_kind IN ('explicit', 'implicit')
ORDER BY s.sentence_id
"""


@dataclass
class ThemeFit:
    kind: str                 # initial | incremental | refit
    model: ThemeModel
    id_map: pd.DataFrame      # old → new ids, refits only


@task(cache_policy=NONE)
def fit_themes(embeddings: np.ndarray, texts: list[str], aspects: list[str | None], keys: list[str],
               encoder: str, previous: PreviousFit | None, refit: bool, seed: int) -> ThemeFit:
    """Incremental when a fit in the same embedding space exists; otherwise (or when asked) a full fit."""
    params = {"random_state": seed}
    if previous and not refit and previous.encoder == encoder:
        model = ThemeModel.from_state(previous.state, **params)
        known = [previous.assignments.get(key) for key in keys]
        return ThemeFit("incremental", model.partial_fit(embeddings, texts, aspects, known=known), pd.DataFrame())
    first_id = previous.next_theme_id if previous else 0
    model = registry.get(THEME_MODEL, **params).fit(embeddings, texts, aspects, first_id=first_id)
    if not previous:
        return ThemeFit("initial", model, pd.DataFrame())
    if previous.encoder != encoder:
        log.info("embedding space changed (%s → %s): full refit", previous.encoder, encoder)
    renames, id_map = match_refit(keys, model.labels_.tolist(), previous.assignments)
    model.renumber(renames)
    return ThemeFit("refit", model, id_map)


@task(cache_policy=NONE)
def score_themes(mentions: pd.DataFrame, period: str, n_bootstrap: int, seed: int,
                 min_segment_mentions: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Overall ranking with trend columns, per-period shares, and rankings per segment (outliers not ranked)."""
    themed = mentions[mentions["theme_id"] != OUTLIER]
    ranking = rank_themes(themed, n_bootstrap=n_bootstrap, seed=seed)
    ranking["implicit_share"] = 1.0 - ranking["explicit_share"].astype(float)
    shares = theme_shares(themed, period)
    trends = trend_tests(shares, ranking["theme_id"].tolist())
    ranking = ranking.merge(trends, on="theme_id", how="left")
    segments = rank_by_segment(themed, min_mentions=min_segment_mentions, n_bootstrap=n_bootstrap, seed=seed)
    return ranking, shares, segments


def mentions_digest(sentence_ids: list[str], parameters: dict) -> str:
    """Same mentions and settings → same digest → the previous fit is kept as it is."""
    settings = {k: v for k, v in parameters.items() if k != "refit"}
    return hashlib.sha256(json.dumps([THEME_MODEL, settings, sentence_ids]).encode()).hexdigest()[:16]


def quotes_json(rows: list[dict]) -> str:
    return json.dumps([{"sentence": row["text"], "feedback_id": row["feedback_id"], "source_id": row["source_id"],
                        "source_name": row["source_name"], "url": row["url"]} for row in rows])


def embedding_matrix(column: pa.ChunkedArray) -> np.ndarray:
    """(rows, dim) float32 from a list<float> column in one copy, without a Python object per row."""
    lists = column.combine_chunks()
    if len(lists) == 0:
        return np.zeros((0, 0), dtype=np.float32)
    values = lists.flatten().to_numpy(zero_copy_only=False).astype(np.float32, copy=False)
    return values.reshape(len(lists), -1)


@flow(name="rank_needs", log_prints=True)
def rank_needs(db_path: str = str(DEFAULT_DB_PATH), n_bootstrap: int = 300, seed: int = 0, refit: bool = False,
               period: str = "auto", min_segment_mentions: int = 30, wait_s: float = 60.0) -> dict:
    """Assign new mentions to existing themes (ids kept; misfits may form emerging themes), then rank.

    ``refit=True`` clusters everything afresh and records how old ids map to new ones. An unchanged set
    of mentions reuses its fit.
    """
    parameters = {"n_bootstrap": n_bootstrap, "seed": seed, "refit": refit, "period": period,
                  "min_segment_mentions": min_segment_mentions}
    with recorded_run(db_path, "rank_needs", parameters, wait_s) as run:
        con, run_id = run.con, run.run_id
        started = time.perf_counter()
        data = con.execute(MENTIONS_SQL).fetch_arrow_table()
        if data.num_rows == 0:
            log.warning("no need mentions yet: nothing to rank")
            run.complete(counts={"mentions": 0, "themes": 0})
            return {"run_id": run_id, "mentions": 0, "themes": 0, "outliers": 0, "theme_fit_id": None}
        ids = data.column("sentence_id").to_pylist()
        previous = load_previous_fit(con)
        digest = mentions_digest(ids, parameters)
        if previous and not refit and previous.mentions_digest == digest:
            log.info("need mentions unchanged since fit %s: ranking kept", previous.fit_id)
            run.complete(counts={"mentions": len(ids), "reused_fit": True})
            return {"run_id": run_id, "mentions": len(ids), "themes": previous.n_themes,
                    "outliers": previous.n_outliers, "theme_fit_id": previous.fit_id, "kind": "reused"}

        fit_id = hashlib.sha256(json.dumps([digest, refit, previous and previous.fit_id]).encode()).hexdigest()[:16]
        encoder = data.column("encoder")[0].as_py()
        embeddings = embedding_matrix(data.column("embedding"))
        data = data.drop_columns(["embedding"])  # the matrix is the only copy kept: half the memory at 1M mentions
        texts, aspects = data.column("text").to_pylist(), data.column("aspect").to_pylist()
        fit = fit_themes(embeddings, texts, aspects, mention_keys(data), encoder, previous, refit, seed)
        frame = data.select(["feedback_id", "need_kind", "sentiment", "source_kind", "source_name", "product",
                             "created_at"]).to_pandas()
        frame["theme_id"] = fit.model.labels_
        chosen_period = choose_period(frame["created_at"]) if period == "auto" else period
        frame["period"] = period_start(frame["created_at"], chosen_period).astype(str).replace("NaT", None)
        ranking, shares, segments = score_themes(frame, chosen_period, n_bootstrap, seed, min_segment_mentions)
        quoted = data.select(["text", "feedback_id", "source_id", "source_name", "url"])
        quotes = {t["theme_id"]: quotes_json(quoted.take(t["representatives"]).to_pylist())
                  for t in fit.model.themes_}
        ranking["example_quotes"] = ranking["theme_id"].map(quotes)
        write_fit(con, fit_id=fit_id, digest=digest, kind=fit.kind, model_name=THEME_MODEL, model=fit.model,
                  params=parameters, encoder=encoder,
                  period=chosen_period, previous=previous, run_id=run_id,
                  sentence_ids=ids, ranking=ranking, shares=shares, segments=segments, id_map=fit.id_map)
        counts = {"mentions": len(ids), "themes": len(fit.model.themes_), "outliers": fit.model.outliers_["size"],
                  "emerging": sum(t["emerging"] for t in fit.model.themes_)}
        run.complete(counts=counts, model_versions={"themes": THEME_MODEL},
                     timings={"rank_s": round(time.perf_counter() - started, 3)})
        log.info("%s fit %s: %d need mentions in %d themes, %d outliers (%.1f%%), %d emerging", fit.kind, fit_id,
                 len(ids), counts["themes"], counts["outliers"], 100 * fit.model.outliers_["share"],
                 counts["emerging"])
        return {"run_id": run_id, **counts, "theme_fit_id": fit_id, "kind": fit.kind}
