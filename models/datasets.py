"""Readers for the labelled public data sets in the shared data folder (see each folder's SOURCE.md).

Each reader returns (texts, labels) already mapped onto unmet's label sets; the mapping and why is in
models/README.md.
"""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

from pipelines.sources.clean import clean_text

NEED_PROBLEM_CLASSES = {"BUG", "PERFORMANCE", "ENERGY", "USABILITY", "SECURITY"}


def _require(path: Path) -> Path:
    if not path.is_file():
        raise FileNotFoundError(f"training data {path} not found; pass --data-dir (default ../shared/data)")
    return path


def airline_sentiment(data_dir: Path) -> tuple[list[str], list[str]]:
    with open(_require(data_dir / "airline_tweets" / "Tweets_train.csv"), encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return [clean_text(r["text"], social=True) for r in rows], [r["airline_sentiment"] for r in rows]


def airline_needs(data_dir: Path) -> tuple[list[str], list[str]]:
    """Negative tweets with a concrete reason imply a need; positive tweets do not; the rest is ambiguous."""
    with open(_require(data_dir / "airline_tweets" / "Tweets_train.csv"), encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    texts, labels = [], []
    for r in rows:
        if r["airline_sentiment"] == "negative" and r["negativereason"] not in ("", "Can't Tell"):
            texts.append(clean_text(r["text"], social=True))
            labels.append("implicit")
        elif r["airline_sentiment"] == "positive":
            texts.append(clean_text(r["text"], social=True))
            labels.append("none")
    return texts, labels


def sst2_sentiment(data_dir: Path, limit: int = 6000, min_words: int = 6, seed: int = 0):
    with open(_require(data_dir / "sst2" / "train.tsv"), encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh, delimiter="\t") if len(r["sentence"].split()) >= min_words]
    random.Random(seed).shuffle(rows)
    rows = rows[:limit]
    return [r["sentence"].strip() for r in rows], ["positive" if r["label"] == "1" else "negative" for r in rows]


def amazon_sentiment(data_dir: Path, positives: int = 800, seed: int = 0):
    """Star ratings as weak labels: 1-2 negative, 3 neutral, a sample of 4-5 positive."""
    path = _require(data_dir / "amazon_device_reviews" / "Datafiniti_Amazon_Consumer_Reviews_of_Amazon_Products.csv")
    with open(path, encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    low = [r for r in rows if float(r["reviews.rating"] or 0) <= 3]
    high = [r for r in rows if float(r["reviews.rating"] or 0) >= 4]
    random.Random(seed).shuffle(high)
    chosen = low + high[:positives]
    labels = ["negative" if float(r["reviews.rating"]) <= 2 else "neutral" if float(r["reviews.rating"]) == 3
              else "positive" for r in chosen]
    return [clean_text(r["reviews.text"]) for r in chosen], labels


def maalej_needs(data_dir: Path):
    texts, labels = [], []
    with open(_require(data_dir / "maalej2016_app_reviews" / "train.jsonl"), encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            text = " ".join(p for p in (row.get("title"), row.get("comment")) if p)
            kinds = set(row["labels"])
            texts.append(clean_text(text))
            labels.append("explicit" if "Feature" in kinds else "implicit" if "Bug" in kinds else "none")
    return texts, labels


def clap_needs(data_dir: Path):
    with open(_require(data_dir / "clap2017_app_reviews" / "rq1_train.csv"), encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    labels = ["explicit" if r["category"] == "FEATURE" else "implicit" if r["category"] in NEED_PROBLEM_CLASSES
              else "none" for r in rows]
    return [clean_text(r["review"]) for r in rows], labels


SENTIMENT_SOURCES = {"airline_tweets": airline_sentiment, "sst2": sst2_sentiment, "amazon_reviews": amazon_sentiment}
NEED_SOURCES = {"maalej2016": maalej_needs, "clap2017": clap_needs, "airline_tweets": airline_needs}
LICENSES = {
    "airline_tweets": "CC BY-NC-SA 4.0 (Kaggle listing)",
    "sst2": "not stated (Stanford, research use)",
    "amazon_reviews": "not stated (Datafiniti via Kaggle, reportedly CC BY-NC-SA 4.0)",
    "maalej2016": "not stated (research use with citation)",
    "clap2017": "not stated (research replication package)",
}
