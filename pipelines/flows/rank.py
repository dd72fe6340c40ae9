"""rank_needs: group the current need mentions into themes and rank them by opportunity."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pyarrow as pa
from prefect import flow, task
from prefect.cache_policies import NONE

from models import registry
from pipelines.config import DEFAULT_DB_PATH
from pipelines.ranking import rank_themes
from pipelines.storage import connect, finish_run, start_run

log = logging.getLogger("unmet.rank")
THEME_MODEL = "unmet.themes.v1"

MENTIONS_SQL = """
SELECT s.sentence_id, s.feedback_id, s.text, s.need_kind, s.sentiment, s.aspect, e.embedding,
       d.source_id, d.source_name, d.url
FROM sentences s
JOIN v_current_analysis a USING (feedback_id, analysis_version)
JOIN sentence_embeddings e USING (sentence_id)
JOIN documents d USING (feedback_id)
WHERE s.need_kind IN ('explicit', 'implicit')
ORDER BY s.sentence_id
"""


@task(cache_policy=NONE)
def fit_themes(embeddings: np.ndarray, texts: list[str], aspects: list[str | None], seed: int) -> list[dict]:
    model = registry.get(THEME_MODEL, random_state=seed).fit(embeddings, texts, aspects)
    return [{**theme, "members": np.flatnonzero(model.labels_ == theme["theme_id"]).tolist()}
            for theme in model.themes_]


@task(cache_policy=NONE)
def score_themes(mentions: pd.DataFrame, n_bootstrap: int, seed: int) -> pd.DataFrame:
    return rank_themes(mentions, n_bootstrap=n_bootstrap, seed=seed)


@flow(name="rank_needs", log_prints=True)
def rank_needs(db_path: str = str(DEFAULT_DB_PATH), n_bootstrap: int = 300, seed: int = 0) -> dict:
    """Fit themes over all current need mentions; an unchanged set of mentions reuses its fit."""
    con = connect(db_path)
    run_id = start_run(con, "rank_needs", {"n_bootstrap": n_bootstrap, "seed": seed})
    try:
        started = time.perf_counter()
        data = con.execute(MENTIONS_SQL).fetch_arrow_table()
        if data.num_rows == 0:
            log.warning("no need mentions yet: nothing to rank")
            finish_run(con, run_id, "completed", counts={"mentions": 0, "themes": 0})
            return {"run_id": run_id, "mentions": 0, "themes": 0, "theme_fit_id": None}
        ids = data.column("sentence_id").to_pylist()
        params = {"model": THEME_MODEL, "seed": seed, "n_bootstrap": n_bootstrap}
        fit_id = hashlib.sha256(json.dumps([params, ids]).encode()).hexdigest()[:16]
        if con.execute("SELECT 1 FROM theme_fits WHERE theme_fit_id = ?", [fit_id]).fetchone():
            themes = con.execute("SELECT count(*) FROM themes WHERE theme_fit_id = ?", [fit_id]).fetchone()[0]
            log.info("need mentions unchanged since fit %s: ranking kept", fit_id)
            finish_run(con, run_id, "completed", counts={"mentions": len(ids), "themes": themes, "reused_fit": True})
            return {"run_id": run_id, "mentions": len(ids), "themes": themes, "theme_fit_id": fit_id}

        embeddings = np.stack(data.column("embedding").to_numpy(zero_copy_only=False)).astype(np.float32)
        texts, aspects = data.column("text").to_pylist(), data.column("aspect").to_pylist()
        themes = fit_themes(embeddings, texts, aspects, seed)
        theme_of = np.empty(len(ids), dtype=np.int64)
        for theme in themes:
            theme_of[theme["members"]] = theme["theme_id"]
        frame = data.select(["feedback_id", "need_kind", "sentiment"]).to_pandas()
        frame["theme_id"] = theme_of
        ranking = score_themes(frame, n_bootstrap, seed)
        rows = data.select(["sentence_id", "feedback_id", "text", "source_id", "source_name", "url"]).to_pylist()
        quotes = {t["theme_id"]: json.dumps([{"sentence": rows[i]["text"], "feedback_id": rows[i]["feedback_id"],
                                             "source_id": rows[i]["source_id"], "source_name": rows[i]["source_name"],
                                             "url": rows[i]["url"]} for i in t["representatives"]])
                  for t in themes}
        ranking["example_quotes"] = ranking["theme_id"].map(quotes)
        ranking.insert(0, "theme_fit_id", fit_id)

        con.execute("BEGIN TRANSACTION")
        con.execute("INSERT INTO theme_fits VALUES (?, ?, ?, ?, ?, ?)",
                    [fit_id, THEME_MODEL, json.dumps(params), len(ids), run_id, datetime.now(UTC)])
        theme_table = pa.Table.from_pylist([
            {"theme_fit_id": fit_id, "theme_id": t["theme_id"], "label": t["label"], "top_terms": t["top_terms"],
             "size": t["size"], "representative_sentence_ids": [ids[i] for i in t["representatives"]]}
            for t in themes])
        assignments = pa.table({"theme_fit_id": [fit_id] * len(ids), "sentence_id": ids, "theme_id": theme_of})
        con.register("new_themes", theme_table)
        con.register("new_assignments", assignments)
        con.register("new_ranking", ranking)
        con.execute("INSERT INTO themes SELECT * FROM new_themes")
        con.execute("INSERT INTO theme_assignments SELECT * FROM new_assignments")
        con.execute("""INSERT INTO need_rankings SELECT theme_fit_id, theme_id, rank, mentions, documents,
                       explicit_share, negative_share, importance, satisfaction, opportunity_score, ci_low,
                       ci_high, example_quotes FROM new_ranking""")
        con.execute("COMMIT")
        for name in ("new_themes", "new_assignments", "new_ranking"):
            con.unregister(name)
        counts = {"mentions": len(ids), "themes": len(themes)}
        finish_run(con, run_id, "completed", counts=counts, model_versions={"themes": THEME_MODEL},
                   timings={"rank_s": round(time.perf_counter() - started, 3)})
        log.info("%d need mentions grouped into %d themes (fit %s)", len(ids), len(themes), fit_id)
        return {"run_id": run_id, **counts, "theme_fit_id": fit_id}
    except Exception as exc:
        finish_run(con, run_id, "failed", error=f"{type(exc).__name__}: {exc}")
        raise
    finally:
        con.close()
