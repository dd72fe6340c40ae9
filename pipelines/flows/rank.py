"""rank_needs: group the current need mentions into themes (keeping theme ids between runs) and rank them.

Mentions stream from the warehouse in chunks (``MentionReader``): a fit learns from a sample, then labels
every mention; only labels and the few columns that ranking needs are kept for all of them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass, replace

import pandas as pd
import pyarrow as pa
from prefect import flow, task
from prefect.cache_policies import NONE
from prefect.utilities.annotations import quote

from models import registry
from models.labels import OUTLIER
from models.themes import ThemeModel
from pipelines.config import DEFAULT_DB_PATH
from pipelines.flows.params import RankParams
from pipelines.flows.results import RankResult
from pipelines.ranking import rank_themes
from pipelines.ranking.segments import rank_by_segment
from pipelines.ranking.theme_ids import match_refit
from pipelines.ranking.trend import choose_period, period_start, theme_shares, trend_tests
from pipelines.storage.mentions import MentionReader
from pipelines.storage.runs import recorded_run
from pipelines.storage.theme_edits import carry_edits, load_edits
from pipelines.storage.theme_store import FitRecord, PreviousFit, load_previous_fit, write_fit

log = logging.getLogger("unmet.rank")
THEME_MODEL = "unmet.themes.v3"

@dataclass
class ThemeFit:
    kind: str                 # initial | incremental | refit
    model: ThemeModel
    id_map: pd.DataFrame      # old → new ids, refits only


@task(cache_policy=NONE)
def fit_themes(mentions: MentionReader, ids: pa.Array, encoder: str, previous: PreviousFit | None, refit: bool,
               seed: int) -> ThemeFit:
    """Incremental when a fit in the same embedding space exists; otherwise (or when asked) a full fit.

    A full fit learns from a sample and then labels every mention as it streams from the warehouse.
    """
    params = {"random_state": seed}
    if previous and not refit and previous.encoder == encoder:
        model = ThemeModel.from_state(previous.state, **params).label(mentions.chunks(), emerging=True)
        return ThemeFit("incremental", model, pd.DataFrame())
    first_id = previous.next_theme_id if previous else 0
    model = registry.get(THEME_MODEL, **params).component
    model.learn(mentions.sample(ids.take(model.fit_sample(mentions.content_keys(seed)))), first_id=first_id)
    model.label(replace(chunk, known=None) for chunk in mentions.chunks())
    if not previous:
        return ThemeFit("initial", model, pd.DataFrame())
    if previous.encoder != encoder:
        log.info("embedding space changed (%s → %s): full refit", previous.encoder, encoder)
    renames, id_map = match_refit(mentions.previous_theme_ids(), model.labels_)
    model.renumber(renames)
    return ThemeFit("refit", model, id_map)


@task(cache_policy=NONE)
def score_themes(mentions: pd.DataFrame, period: str, n_bootstrap: int, seed: int, min_segment_mentions: int,
                 verdicts: pd.DataFrame,
                 hidden: frozenset[int]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Overall ranking with trend, rating and recommend columns, per-period shares, and rankings per segment
    (outliers and themes the team hid are not ranked)."""
    themed = mentions[~mentions["theme_id"].isin([OUTLIER, *hidden])]
    ranking = rank_themes(themed, n_bootstrap=n_bootstrap, seed=seed, verdicts=verdicts)
    ranking["implicit_share"] = 1.0 - ranking["explicit_share"].astype(float)
    shares = theme_shares(themed, period)
    trends = trend_tests(shares, ranking["theme_id"].tolist())
    ranking = ranking.merge(trends, on="theme_id", how="left")
    segments = rank_by_segment(themed, min_mentions=min_segment_mentions, n_bootstrap=n_bootstrap, seed=seed)
    return ranking, shares, segments


def mentions_digest(sentence_ids: pa.Array, parameters: dict) -> str:
    """Same mentions and settings → same digest → the previous fit is kept as it is."""
    settings = {k: v for k, v in parameters.items() if k != "refit"}
    digest = hashlib.sha256(json.dumps([THEME_MODEL, settings]).encode())
    for start in range(0, len(sentence_ids), 100_000):
        digest.update("\n".join(sentence_ids.slice(start, 100_000).to_pylist()).encode() + b"\n")
    return digest.hexdigest()[:16]


def rank_result(run_id: str, kind: str, theme_fit_id: str | None, *, mentions: int, themes: int, outliers: int,
                emerging: int) -> RankResult:
    """What ``rank_needs`` returns, with the same keys whichever way it ended: ``kind`` is initial, incremental,
    refit, reused (mentions unchanged) or none (nothing to rank yet)."""
    return RankResult(run_id=run_id, kind=kind, theme_fit_id=theme_fit_id, mentions=mentions, themes=themes,
                      outliers=int(outliers), emerging=int(emerging))


@flow(name="rank_needs", log_prints=True)
def rank_needs(db_path: str = str(DEFAULT_DB_PATH), rank: RankParams = RankParams(), wait_s: float = 60.0
               ) -> RankResult:
    """Assign new mentions to existing themes (ids kept; misfits may form emerging themes), then rank.

    ``rank.refit`` clusters everything afresh and records how old ids map to new ones. An unchanged set
    of mentions reuses its fit.
    """
    parameters = rank.model_dump()
    n_bootstrap, seed, refit, period = rank.n_bootstrap, rank.seed, rank.refit, rank.period
    min_segment_mentions = rank.min_segment_mentions
    with recorded_run(db_path, "rank_needs", parameters, wait_s) as run:
        con, run_id = run.con, run.run_id
        started = time.perf_counter()
        previous = load_previous_fit(con)
        mentions = MentionReader(con, previous.fit_id if previous else None)
        ids = mentions.ids()
        if len(ids) == 0:
            log.warning("no need mentions yet: nothing to rank")
            run.complete(counts={"mentions": 0, "themes": 0})
            return rank_result(run_id, "none", None, mentions=0, themes=0, outliers=0, emerging=0)
        if period != "auto" and not mentions.has_dates():
            log.warning("the data has no dates: trends are not computed, and --period %s changes nothing", period)
            period = parameters["period"] = "auto"
        edits = load_edits(con)
        digest = mentions_digest(ids, {**parameters, "edits": edits.digest()})
        if previous and not refit and previous.mentions_digest == digest:
            log.info("need mentions unchanged since fit %s: ranking kept", previous.fit_id)
            run.complete(counts={"mentions": len(ids), "reused_fit": True})
            return rank_result(run_id, "reused", previous.fit_id, mentions=len(ids), themes=previous.n_themes,
                               outliers=previous.n_outliers, emerging=sum(previous.state["emerging"]))

        fit_id = hashlib.sha256(json.dumps([digest, refit, previous and previous.fit_id]).encode()).hexdigest()[:16]
        encoder = mentions.encoder()
        # quoted: Prefect would otherwise walk every number of the previous fit's state five times, looking for
        # futures in it (4 s of a 6.2 s rank with 33 themes)
        fit = fit_themes(mentions, ids, encoder, quote(previous), refit, seed)
        if fit.kind == "refit":
            moved, stranded = carry_edits(con, fit.id_map, {t["theme_id"] for t in fit.model.themes_})
            if stranded:
                log.warning("theme edits %s name themes this refit split into themes that continue others: they no "
                            "longer apply (see v_theme_edits; make them again on the new themes)", stranded)
            edits = load_edits(con) if moved else edits
        frame = mentions.ranking_columns().to_pandas()
        frame["theme_id"] = [edits.shown_as(t) if t != OUTLIER else OUTLIER for t in fit.model.labels_.tolist()]
        chosen_period = choose_period(frame["created_at"]) if period == "auto" else period
        frame["period"] = period_start(frame["created_at"], chosen_period).astype(str).replace("NaT", None)
        ranking, shares, segments = score_themes(frame, chosen_period, n_bootstrap, seed, min_segment_mentions,
                                                 mentions.verdicts(), edits.hidden)
        del frame
        for column, field in (("example_quotes", "representatives"), ("top_requests", "top_requests")):
            chosen = {t["theme_id"]: [ids[i].as_py() for i in t[field]] for t in fit.model.themes_}
            found = mentions.quotes([i for sentences in chosen.values() for i in sentences])
            ranking[column] = ranking["theme_id"].map(
                {theme: json.dumps([found[i] for i in sentences]) for theme, sentences in chosen.items()})
        write_fit(con, FitRecord(fit_id=fit_id, digest=digest, kind=fit.kind, model_name=THEME_MODEL, model=fit.model,
                                 edits=edits, params=parameters, encoder=encoder, period=chosen_period,
                                 previous=previous, run_id=run_id, sentence_ids=ids, ranking=ranking, shares=shares,
                                 segments=segments, id_map=fit.id_map))
        counts = {"mentions": len(ids), "themes": len(fit.model.themes_), "outliers": fit.model.outliers_["size"],
                  "emerging": sum(t["emerging"] for t in fit.model.themes_)}
        run.complete(counts=counts, model_versions={"themes": THEME_MODEL},
                     timings={"rank_s": round(time.perf_counter() - started, 3)})
        log.info("%s fit %s: %d need mentions in %d themes, %d outliers (%.1f%%), %d emerging", fit.kind, fit_id,
                 len(ids), counts["themes"], counts["outliers"], 100 * fit.model.outliers_["share"],
                 counts["emerging"])
        return rank_result(run_id, fit.kind, fit_id, **counts)
