"""Side by side with BERTopic (`make bench`): the same corpus, the same ground truth, the same scores.

For each corpus, unmet runs end to end (ingest → analyse → rank, text only) and BERTopic runs with its defaults
(UMAP + HDBSCAN + c-TF-IDF) on the same documents, embedded by the same all-MiniLM-L6-v2 weights (BERTopic's own
default model, from the packaged copy, so nothing is downloaded). Both are scored on the documents that have
ground truth and that unmet found a need in (its themes cover only those), and BERTopic also on every labelled
document:

- airline tweets (train split): themes against the annotated complaint reason of each negative tweet;
- CLAP rq3 app reviews: themes against (app, request cluster).

Printed per tool: AMI with the outlier bucket counted as one more cluster, AMI and purity without outliers,
outlier share, number of themes, wall time, and the five largest themes' labels. BERTopic, umap-learn and hdbscan
are the optional ``peers`` extra (``pip install -e ".[peers]"``), not runtime dependencies.

    python benchmarks/peers.py --data-dir ../shared/data --json peers.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from pipelines.config import DEFAULT_SHARED_DATA, quiet_prefect_defaults
from pipelines.validate import AIRLINE_FILE, CLAP_FILE, document_themes, theme_agreement


def airline(data_dir: Path) -> tuple[pd.DataFrame, pd.Series]:
    tweets = pd.read_csv(data_dir / AIRLINE_FILE, dtype={"tweet_id": str}).drop_duplicates("tweet_id")
    return (tweets[["tweet_id", "text", "tweet_created", "airline"]],
            tweets.set_index("tweet_id")["negativereason"].dropna())


def clap(data_dir: Path) -> tuple[pd.DataFrame, pd.Series]:
    reviews = pd.read_csv(data_dir / CLAP_FILE, dtype={"ID": str})
    reviews["created_at"] = pd.to_datetime(reviews["date"], unit="ms", utc=True).dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    documents = reviews.drop_duplicates("ID").rename(columns={"ID": "id", "App-name": "app", "body": "text"})[
        ["id", "app", "text", "rating", "created_at"]]
    truth = (reviews["App-name"] + "/" + reviews["cluster"].astype(str)).set_axis(reviews["ID"])
    return documents, truth


CORPORA = {"airline": (airline, "tweet_csv"), "clap": (clap, None)}


def run_unmet(documents: pd.DataFrame, workdir: Path, name: str, adapter: str | None) -> dict:
    from pipelines.flows import feedback_pipeline
    from pipelines.flows.params import IngestParams, RankParams

    path = workdir / f"{name}.csv"
    documents.to_csv(path, index=False)
    db = workdir / f"{name}.duckdb"
    started = time.perf_counter()
    feedback_pipeline([str(path)], str(db), IngestParams(source_name=name, adapter=adapter),
                      rank=RankParams(n_bootstrap=100))
    seconds = time.perf_counter() - started
    with duckdb.connect(str(db), read_only=True) as con:
        themes = document_themes(con).set_index("source_id")["theme_id"]
        labels = con.execute("""SELECT theme_label FROM v_need_mentions WHERE theme_id >= 0
                                GROUP BY theme_id, theme_label ORDER BY count(*) DESC LIMIT 5""").df()
    return {"themes": themes, "seconds": seconds, "largest": labels["theme_label"].tolist()}


def run_bertopic(documents: pd.DataFrame) -> dict:
    from bertopic import BERTopic

    from models.encoder import SentenceEncoder

    texts = documents["text"].fillna("").astype(str).tolist()
    started = time.perf_counter()
    embeddings = SentenceEncoder(adapter=None).encode(texts)
    model = BERTopic()  # its defaults: UMAP(5 d) + HDBSCAN(min_cluster_size=10) + c-TF-IDF
    topics, _ = model.fit_transform(texts, np.asarray(embeddings))
    seconds = time.perf_counter() - started
    info = model.get_topic_info()
    largest = info[info["Topic"] >= 0].sort_values("Count", ascending=False)["Name"].head(5).tolist()
    ids = documents.iloc[:, 0].to_numpy()  # the id column comes first
    return {"themes": pd.Series(topics, index=ids), "seconds": seconds, "largest": largest}


def score(themes: pd.Series, truth: pd.Series, documents: pd.Index) -> dict:
    shared = documents.intersection(themes.index)
    figures = theme_agreement(themes.reindex(shared).astype(int).reset_index(drop=True),
                              truth.reindex(shared).reset_index(drop=True))
    return {**figures, "outlier_share": round(figures["outliers"] / max(figures["documents"], 1), 4)}


def compare(name: str, data_dir: Path, workdir: Path) -> dict:
    load, adapter = CORPORA[name]
    documents, truth = load(data_dir)
    truth = truth[~truth.index.duplicated()]  # a document stored twice under one id is one document
    unmet = run_unmet(documents, workdir, name, adapter)
    bertopic = run_bertopic(documents)
    common = truth.index.intersection(unmet["themes"].index)
    return {"documents": int(len(documents)), "labelled": int(len(truth)), "scored_together": int(len(common)),
            "unmet": {**score(unmet["themes"], truth, common), "seconds": round(unmet["seconds"], 1),
                      "largest": unmet["largest"]},
            "bertopic": {**score(bertopic["themes"], truth, common), "seconds": round(bertopic["seconds"], 1),
                         "largest": bertopic["largest"]},
            "bertopic_all_labelled": score(bertopic["themes"], truth, truth.index)}


def print_table(results: dict) -> None:
    print(f"{'corpus':8} {'tool':22} {'docs':>6} {'AMI':>6} {'AMI-out':>8} {'purity':>7} {'outliers':>9} "
          f"{'themes':>6} {'seconds':>8}")
    for name, result in results.items():
        for tool in ("unmet", "bertopic", "bertopic_all_labelled"):
            row = result[tool]
            print(f"{name:8} {tool:22} {row['documents']:>6} {row['ami']:>6.3f} {row['ami_without_outliers']:>8.3f} "
                  f"{row['purity']:>7.3f} {row['outlier_share']:>9.1%} {row['themes']:>6} "
                  f"{row.get('seconds', float('nan')):>8}")
        for tool in ("unmet", "bertopic"):
            print(f"  {tool} largest themes: {'; '.join(map(str, result[tool]['largest']))}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_SHARED_DATA)
    parser.add_argument("--corpora", nargs="+", default=list(CORPORA), choices=list(CORPORA))
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    try:
        import bertopic  # noqa: F401
    except ImportError:
        print("BERTopic is not installed: pip install -e '.[peers]' (or make bench)", file=sys.stderr)
        return 2
    quiet_prefect_defaults()
    with tempfile.TemporaryDirectory(prefix="unmet-peers-") as workdir:
        results = {name: compare(name, args.data_dir, Path(workdir)) for name in args.corpora}
    print_table(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
