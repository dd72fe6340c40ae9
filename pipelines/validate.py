"""Validation of themes and ranking against real ground truth the pipeline never sees. It runs whole flows, so it
sits above them, next to the CLI that calls it (`unmet validate`).

- Airline tweets: ``negativereason`` (Late Flight, Customer Service Issue, …) per negative tweet. The
  pipeline reads only id, text, date and airline. Scores: how well themes match reasons (adjusted mutual
  information, purity), and whether the ranking orders reasons as the volume of negative tweets does
  (Spearman, top-5 overlap), overall and per airline. The data is fed in two halves by date, so the same
  run checks that theme ids survive incremental runs.
- CLAP rq3 app reviews: per-app request clusters with HIGH/NORMAL priority. Scores: AMI and purity of
  themes against (app, cluster), and whether reviews in higher-ranked themes are more often HIGH priority.
"""

from __future__ import annotations

import logging
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
from scipy.stats import spearmanr
from sklearn.metrics import adjusted_mutual_info_score, roc_auc_score

log = logging.getLogger("unmet.validation")
AIRLINE_FILE = "airline_tweets/Tweets_train.csv"
CLAP_FILE = "clap2017_app_reviews/rq3-manually-classified-implemented-reviews.csv"
UNINFORMATIVE_REASONS = {"Can't Tell"}


def document_themes(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """source_id → the theme most of its need mentions fall in (-1 when all are outliers)."""
    mentions = con.execute("SELECT source_id, theme_id FROM v_need_mentions").df()
    themed = mentions.assign(outlier=mentions["theme_id"] < 0)
    counts = themed.groupby(["source_id", "outlier", "theme_id"]).size().rename("n").reset_index()
    counts = counts.sort_values(["source_id", "outlier", "n", "theme_id"], ascending=[True, True, False, True])
    return counts.drop_duplicates("source_id")[["source_id", "theme_id"]]


def purity(clusters: pd.Series, truth: pd.Series) -> float:
    table = pd.crosstab(clusters, truth)
    return float(table.max(axis=1).sum() / table.to_numpy().sum()) if len(table) else float("nan")


def theme_agreement(clusters: pd.Series, truth: pd.Series) -> dict:
    """AMI and purity with the outlier bucket (-1) counted as one more cluster, and among the themed documents
    only (as BERTopic is often scored): both, so that fewer outliers cannot pass for better themes."""
    themed = (clusters >= 0).to_numpy()
    return {"documents": int(len(truth)), "themes": int(clusters[themed].nunique()), "outliers": int((~themed).sum()),
            "ami": round(float(adjusted_mutual_info_score(truth, clusters)), 4),
            "purity": round(purity(clusters, truth), 4),
            "ami_without_outliers": round(float(adjusted_mutual_info_score(truth[themed], clusters[themed])), 4)
            if themed.any() else float("nan")}


def reason_ranking(ranked_themes: list[int], theme_reason: dict[int, str], reasons: list[str]) -> list[str]:
    """Reasons in the order their first theme appears in the ranking; reasons no theme stands for go last."""
    order = list(dict.fromkeys(theme_reason[t] for t in ranked_themes if t in theme_reason))
    return order + [r for r in reasons if r not in order]


def rank_agreement(predicted: list[str], volume: pd.Series, k: int = 5) -> dict:
    truth = list(volume.sort_values(ascending=False).index)
    position = {reason: i for i, reason in enumerate(predicted)}
    rho = spearmanr([position[r] for r in truth], np.arange(len(truth))).statistic if len(truth) > 1 else np.nan
    return {"spearman": round(float(rho), 4), f"top{k}_overlap": len(set(predicted[:k]) & set(truth[:k])) / k,
            "predicted_top": predicted[:k], "true_top": truth[:k]}


def validate_airline(data_dir: Path, workdir: Path, n_bootstrap: int = 200) -> dict:
    from pipelines.flows import analyze_feedback, ingest_feedback, rank_needs
    from pipelines.flows.params import IngestParams, RankParams

    tweets = pd.read_csv(data_dir / AIRLINE_FILE, dtype={"tweet_id": str})
    tweets["created"] = pd.to_datetime(tweets["tweet_created"], utc=True)
    text_only = tweets[["tweet_id", "text", "tweet_created", "airline"]]
    middle = tweets["created"].median()
    halves = [text_only[tweets["created"] <= middle], text_only[tweets["created"] > middle]]
    db = workdir / "airline.duckdb"
    runs, survival = [], []
    for index, half in enumerate(halves):
        path = workdir / f"airline_half{index + 1}.csv"
        half.to_csv(path, index=False)
        ingest_feedback([str(path)], str(db), IngestParams(source_name="airline_tweets", adapter="tweet_csv"))
        analyze_feedback(str(db))
        runs.append(rank_needs(str(db), RankParams(n_bootstrap=n_bootstrap)))
        with duckdb.connect(str(db), read_only=True) as con:
            survival.append(con.execute("SELECT sentence_id, theme_id FROM theme_assignments WHERE theme_fit_id = ?",
                                        [runs[-1]["theme_fit_id"]]).df())
    runs.append(rank_needs(str(db), RankParams(n_bootstrap=n_bootstrap)))  # nothing new: the fit is kept
    first, second = survival
    kept = first.merge(second, on="sentence_id", suffixes=("_first", "_second"))
    kept = kept[kept["theme_id_first"] >= 0]  # earlier outliers may rightly join a theme later
    ids_first = set(first["theme_id"]) - {-1}
    ids_second = set(second["theme_id"]) - {-1}
    stability = {"runs": [{k: r.get(k) for k in ("kind", "mentions", "themes", "outliers", "emerging")}
                          for r in runs],
                 "theme_ids_kept": len(ids_first & ids_second), "theme_ids_first_run": len(ids_first),
                 "mentions_same_theme": round(float((kept["theme_id_first"] == kept["theme_id_second"]).mean()), 4),
                 "third_run_reused_fit": runs[2]["theme_fit_id"] == runs[1]["theme_fit_id"]}

    with duckdb.connect(str(db), read_only=True) as con:
        themes = document_themes(con)
        ranking = con.execute("SELECT theme_id FROM v_unmet_needs ORDER BY rank").df()["theme_id"].tolist()
        by_airline = con.execute("""SELECT segment_value, theme_id FROM v_unmet_needs_by_segment
                                    WHERE segment = 'product' ORDER BY segment_value, rank""").df()
    negative = tweets[tweets["negativereason"].notna()].merge(themes, left_on="tweet_id", right_on="source_id",
                                                               how="left")
    coverage = float(negative["theme_id"].notna().mean())
    found = negative.dropna(subset=["theme_id"]).astype({"theme_id": int})
    informative = found[~found["negativereason"].isin(UNINFORMATIVE_REASONS)]
    theme_reason = (informative[informative["theme_id"] >= 0].groupby("theme_id")["negativereason"]
                    .agg(lambda r: r.value_counts().index[0]).to_dict())
    volume = tweets.loc[~tweets["negativereason"].isin(UNINFORMATIVE_REASONS), "negativereason"].value_counts()
    reasons = list(volume.index)
    overall = rank_agreement(reason_ranking(ranking, theme_reason, reasons), volume)
    per_airline = {}
    for airline, group in by_airline.groupby("segment_value", sort=True):
        airline_volume = tweets.loc[(tweets["airline"] == airline)
                                    & ~tweets["negativereason"].isin(UNINFORMATIVE_REASONS), "negativereason"]
        airline_volume = airline_volume.value_counts().reindex(reasons, fill_value=0)
        per_airline[airline] = rank_agreement(reason_ranking(group["theme_id"].tolist(), theme_reason, reasons),
                                              airline_volume)
    return {"negative_tweets": int(len(negative)), "with_need_mention": round(coverage, 4),
            "themes_vs_reasons": theme_agreement(found["theme_id"], found["negativereason"]),
            "themes_vs_reasons_informative": theme_agreement(informative["theme_id"], informative["negativereason"]),
            "ranking_vs_volume": overall, "ranking_vs_volume_by_airline": per_airline,
            "mean_spearman_by_airline": round(float(np.mean([v["spearman"] for v in per_airline.values()])), 4),
            "stability": stability}


def validate_clap(data_dir: Path, workdir: Path, n_bootstrap: int = 200) -> dict:
    from pipelines.flows import feedback_pipeline
    from pipelines.flows.params import IngestParams, RankParams

    reviews = pd.read_csv(data_dir / CLAP_FILE, dtype={"ID": str})
    reviews["created_at"] = pd.to_datetime(reviews["date"], unit="ms", utc=True).dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    path = workdir / "clap_rq3_text_only.csv"
    reviews[["ID", "App-name", "body", "rating", "created_at"]].rename(
        columns={"ID": "id", "App-name": "app", "body": "text"}).to_csv(path, index=False)
    db = workdir / "clap.duckdb"
    feedback_pipeline([str(path)], str(db), IngestParams(source_name="clap_rq3"),
                      rank=RankParams(n_bootstrap=n_bootstrap))
    with duckdb.connect(str(db), read_only=True) as con:
        themes = document_themes(con)
        ranked = con.execute("SELECT theme_id, rank FROM v_unmet_needs").df()
    found = reviews.merge(themes, left_on="ID", right_on="source_id", how="inner")
    truth = found["App-name"] + "/" + found["cluster"].astype(str)
    rank_of = dict(zip(ranked["theme_id"], ranked["rank"], strict=True))
    worst = len(rank_of) + 1
    found["theme_rank"] = found["theme_id"].map(lambda t: rank_of.get(t, worst))
    high = (found["priority"] == "HIGH").astype(int)
    auc = roc_auc_score(high, -found["theme_rank"]) if high.nunique() == 2 else float("nan")
    return {"reviews": int(len(reviews)), "with_need_mention": round(len(found) / len(reviews), 4),
            "themes_vs_clusters": theme_agreement(found["theme_id"], truth),
            "high_priority_auc_by_theme_rank": round(float(auc), 4),
            "high_share_top5_themes": round(float(high[found["theme_rank"] <= 5].mean()), 4),
            "high_share_overall": round(float(high.mean()), 4)}
