"""Readers for the labelled public data sets in the shared data folder (see each folder's SOURCE.md).

Every reader maps its data set onto unmet's label sets (the mapping and why is in models/README.md) and
returns a ``LabelledSet``. Train and dev rows are separated by a hash of the normalized text
(``is_dev``), the same rule for every data set: a sentence that appears in two data sets (SemEval 2016
contains SemEval 2015; ACOS re-annotates SemEval 2016) falls on the same side in both, so nothing that
is reported as dev was ever trained on. TweetEval, the SST-2 dev split and the Amazon star ratings are
evaluation-only and never trained on.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import random
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.sources.clean import clean_text

log = logging.getLogger(__name__)
DEV_BUCKETS = 5  # one in five normalized texts is dev
SENTIMENT_LABELS = ("negative", "neutral", "positive")
NEED_LABELS = ("explicit", "implicit", "none")
IMPLICIT_ASPECT_LABELS = ("explicit", "implicit")
CLAP_PROBLEMS = {"BUG", "PERFORMANCE", "ENERGY", "USABILITY", "SECURITY"}
URR_PROBLEMS = {"ERROR", "PERFORMANCE", "BATTERY", "MEMORY", "DEVICE", "ANDROID VERSION", "HARDWARE", "SECURITY",
                "PRIVACY"}


def text_key(text: str) -> str:
    """Case, punctuation and tokenization-insensitive key (ACOS is lower-cased and tokenized)."""
    return " ".join(re.findall(r"\w+", text.lower()))


def is_dev(text: str) -> bool:
    return int(hashlib.sha1(text_key(text).encode()).hexdigest()[:8], 16) % DEV_BUCKETS == 0


@dataclass
class LabelledSet:
    name: str
    task: str  # sentiment | needs | implicit_aspect
    texts: list[str]
    labels: list[str]
    level: str = "sentence"  # sentence | document (several sentences, labelled as a whole)
    license: str = "see SOURCE.md"
    eval_only: bool = False
    note: str = ""
    groups: list[str] = field(default_factory=list)  # e.g. the airline of each tweet

    def part(self, part: str) -> LabelledSet:
        """The ``train`` or ``dev`` rows; an evaluation-only set has no train rows and is all dev."""
        if part not in ("train", "dev", "all"):
            raise ValueError(f"part must be train, dev or all, not {part!r}")
        if part == "all":
            keep = [True] * len(self.texts)
        elif self.eval_only:
            keep = [part == "dev"] * len(self.texts)
        else:
            keep = [is_dev(t) == (part == "dev") for t in self.texts]
        pick = [i for i, k in enumerate(keep) if k]
        return LabelledSet(self.name, self.task, [self.texts[i] for i in pick], [self.labels[i] for i in pick],
                           self.level, self.license, self.eval_only, self.note,
                           [self.groups[i] for i in pick] if self.groups else [])

    def __len__(self) -> int:
        return len(self.texts)


def _require(path: Path) -> Path:
    if not path.is_file():
        raise FileNotFoundError(f"labelled data {path} not found; pass --data-dir (default ../shared/data)")
    return path


def _csv_rows(path: Path, encoding: str = "utf-8", delimiter: str = ",") -> list[dict]:
    with open(_require(path), encoding=encoding, newline="") as fh:
        return list(csv.DictReader(fh, delimiter=delimiter))


# ---------------------------------------------------------------- sentiment

def airline_sentiment(data_dir: Path) -> LabelledSet:
    rows = _csv_rows(data_dir / "airline_tweets" / "Tweets_train.csv")
    return LabelledSet("airline_tweets", "sentiment", [clean_text(r["text"], social=True) for r in rows],
                       [r["airline_sentiment"] for r in rows], license="CC BY-NC-SA 4.0 (Kaggle listing)",
                       groups=[r["airline"] for r in rows])


def tweeteval_sentiment(data_dir: Path) -> LabelledSet:
    folder = data_dir / "tweeteval_sentiment"
    texts = _require(folder / "val_text.txt").read_text(encoding="utf-8").splitlines()
    codes = _require(folder / "val_labels.txt").read_text(encoding="utf-8").split()
    return LabelledSet("tweeteval", "sentiment", [clean_text(t, social=True) for t in texts],
                       [SENTIMENT_LABELS[int(c)] for c in codes], eval_only=True,
                       license="TweetEval terms (Twitter content; research use)")


def sst2_sentiment(data_dir: Path, limit: int = 8000, min_words: int = 6, seed: int = 0) -> LabelledSet:
    """Whole sentences only (the phrase-level rows are fragments): a sample of train rows with >= 6 words."""
    rows = [r for r in _csv_rows(data_dir / "sst2" / "train.tsv", delimiter="\t")
            if len(r["sentence"].split()) >= min_words]
    random.Random(seed).shuffle(rows)
    rows = rows[:limit]
    return LabelledSet("sst2", "sentiment", [r["sentence"].strip() for r in rows],
                       ["positive" if r["label"] == "1" else "negative" for r in rows],
                       license="not stated (Stanford Sentiment Treebank, research use)")


def sst2_dev_sentiment(data_dir: Path) -> LabelledSet:
    rows = _csv_rows(data_dir / "sst2" / "dev.tsv", delimiter="\t")
    return LabelledSet("sst2_dev", "sentiment", [r["sentence"].strip() for r in rows],
                       ["positive" if r["label"] == "1" else "negative" for r in rows], eval_only=True,
                       note="overlaps SST-2 train phrases heavily: a sanity check, never used to choose models")


def amazon_stars(data_dir: Path) -> LabelledSet:
    """Star ratings as weak document labels: 1-2 negative, 4-5 positive (3 stars left out)."""
    rows = _csv_rows(data_dir / "amazon_device_reviews" / "Datafiniti_Amazon_Consumer_Reviews_of_Amazon_Products.csv",
                     encoding="utf-8-sig")
    texts, labels = [], []
    for r in rows:
        stars = float(r["reviews.rating"] or 0)
        if stars and stars != 3:
            texts.append(clean_text(" ".join(p for p in (r["reviews.title"], r["reviews.text"]) if p)))
            labels.append("negative" if stars <= 2 else "positive")
    return LabelledSet("amazon_reviews", "sentiment", texts, labels, level="document", eval_only=True,
                       license="not stated (Datafiniti via Kaggle, reportedly CC BY-NC-SA 4.0)")


def _semeval_sentences(data_dir: Path) -> list[tuple[str, list[dict], str]]:
    """(text, opinions, domain) for every SemEval XML sentence; duplicates across years kept once."""
    out, seen = [], set()
    for path in sorted((data_dir / "semeval_absa").glob("20*/*.xml")):
        domain = "restaurants" if "rest" in path.name.lower() else "laptops"
        for sentence in ET.parse(path).getroot().iter("sentence"):
            text = (sentence.findtext("text") or "").strip()
            key = text_key(text)
            if not key or key in seen:
                continue
            seen.add(key)
            opinions = [dict(o.attrib) for o in sentence.iter("Opinion")]
            opinions += [{**o.attrib, "target": o.get("term")} for o in sentence.iter("aspectTerm")]
            out.append((text, opinions, domain))
    return out


def _acos_sentences(data_dir: Path) -> list[tuple[str, list[dict], str]]:
    polarity = {"0": "negative", "1": "neutral", "2": "positive"}
    out = []
    for path in sorted((data_dir / "semeval_absa" / "acos").glob("*/*.tsv")):
        domain = "restaurants" if "rest" in path.name else "laptops"
        for line in _require(path).read_text(encoding="utf-8").splitlines():
            text, *quads = line.split("\t")
            opinions = []
            for quad in quads:
                aspect, _category, sentiment, _opinion = quad.split(" ")
                opinions.append({"target": "NULL" if aspect == "-1,-1" else aspect, "polarity": polarity[sentiment]})
            out.append((text, opinions, domain))
    return out


def semeval_sentiment(data_dir: Path) -> LabelledSet:
    """Sentences whose opinions all share one polarity (SemEval 2014-2016 XML, ACOS); mixed ones left out."""
    texts, labels, groups, seen = [], [], [], set()
    for text, opinions, domain in _semeval_sentences(data_dir) + _acos_sentences(data_dir):
        polarities = {o.get("polarity") for o in opinions} - {None, "conflict"}
        if len(polarities) == 1 and text_key(text) not in seen:
            seen.add(text_key(text))
            texts.append(text)
            labels.append(polarities.pop())
            groups.append(domain)
    return LabelledSet("semeval_absa", "sentiment", texts, labels, groups=groups,
                       license="not stated (SemEval ABSA, research use)")


# ---------------------------------------------------------------- needs

def maalej_needs(data_dir: Path) -> LabelledSet:
    texts, labels = [], []
    with open(_require(data_dir / "maalej2016_app_reviews" / "train.jsonl"), encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            kinds = set(row["labels"])
            texts.append(clean_text(" ".join(p for p in (row.get("title"), row.get("comment")) if p)))
            labels.append("explicit" if "Feature" in kinds else "implicit" if "Bug" in kinds else "none")
    return LabelledSet("maalej2016", "needs", texts, labels, level="document",
                       license="not stated (research use with citation)")


def clap_needs(data_dir: Path) -> LabelledSet:
    rows = _csv_rows(data_dir / "clap2017_app_reviews" / "rq1_train.csv")
    labels = ["explicit" if r["category"] == "FEATURE" else "implicit" if r["category"] in CLAP_PROBLEMS
              else "none" for r in rows]
    return LabelledSet("clap2017", "needs", [clean_text(r["review"].lstrip("? ")) for r in rows], labels,
                       level="document", license="not stated (research replication package)")


def urr_needs(data_dir: Path) -> LabelledSet:
    """Problem labels imply a need; OTHER alone is none; UI/usability/price/licensing alone are ambiguous
    (complaint or request) and left out."""
    rows = _csv_rows(data_dir / "urr2017_app_reviews" / "golden_set.csv", encoding="latin-1")
    texts, labels = [], []
    for r in rows:
        classes = {r.get(f"class{i}", "").strip().upper() for i in range(1, 6)} - {""}
        if classes & URR_PROBLEMS:
            labels.append("implicit")
        elif classes == {"OTHER"}:
            labels.append("none")
        else:
            continue
        texts.append(clean_text(r["reviewText"]))
    return LabelledSet("urr2017", "needs", texts, labels, level="document", license="MIT")


def airline_needs(data_dir: Path) -> LabelledSet:
    """Negative tweets with a concrete reason imply a need; positive tweets do not; the rest is ambiguous."""
    rows = _csv_rows(data_dir / "airline_tweets" / "Tweets_train.csv")
    texts, labels = [], []
    for r in rows:
        if r["airline_sentiment"] == "negative" and r["negativereason"] not in ("", "Can't Tell"):
            labels.append("implicit")
        elif r["airline_sentiment"] == "positive":
            labels.append("none")
        else:
            continue
        texts.append(clean_text(r["text"], social=True))
    return LabelledSet("airline_tweets", "needs", texts, labels, level="document",
                       license="CC BY-NC-SA 4.0 (Kaggle listing)")


def semeval_needs(data_dir: Path) -> LabelledSet:
    """Sentence level: a negative opinion implies a need; only positive opinions, none."""
    texts, labels, seen = [], [], set()
    for text, opinions, _domain in _semeval_sentences(data_dir) + _acos_sentences(data_dir):
        polarities = {o.get("polarity") for o in opinions}
        label = "implicit" if "negative" in polarities else "none" if polarities == {"positive"} else None
        if label and text_key(text) not in seen:
            seen.add(text_key(text))
            texts.append(text)
            labels.append(label)
    return LabelledSet("semeval_absa", "needs", texts, labels, license="not stated (SemEval ABSA, research use)")


# ---------------------------------------------------------------- implicit aspects

def _implicit_aspect_set(name: str, sentences) -> LabelledSet:
    texts, labels, seen = [], [], set()
    for text, opinions, _domain in sentences:
        targets = [o.get("target") for o in opinions]
        if not targets or text_key(text) in seen:
            continue
        seen.add(text_key(text))
        texts.append(text)
        labels.append("implicit" if "NULL" in targets else "explicit")
    return LabelledSet(name, "implicit_aspect", texts, labels, license="not stated (SemEval ABSA / ACOS)")


def semeval16_rest_implicit(data_dir: Path) -> LabelledSet:
    """SemEval-2016 restaurants: does the sentence hold an opinion whose target is NULL (not named)?"""
    path = data_dir / "semeval_absa" / "2016" / "ABSA16_Restaurants_Train_SB1_v2.xml"
    sentences = [((s.findtext("text") or "").strip(), [dict(o.attrib) for o in s.iter("Opinion")], "restaurants")
                 for s in ET.parse(_require(path)).getroot().iter("sentence")]
    return _implicit_aspect_set("semeval16_rest", sentences)


def acos_implicit(data_dir: Path) -> LabelledSet:
    return _implicit_aspect_set("acos", _acos_sentences(data_dir))


READERS: dict[str, Callable[[Path], LabelledSet]] = {
    "sentiment/airline_tweets": airline_sentiment,
    "sentiment/tweeteval": tweeteval_sentiment,
    "sentiment/sst2": sst2_sentiment,
    "sentiment/sst2_dev": sst2_dev_sentiment,
    "sentiment/amazon_reviews": amazon_stars,
    "sentiment/semeval_absa": semeval_sentiment,
    "needs/maalej2016": maalej_needs,
    "needs/clap2017": clap_needs,
    "needs/urr2017": urr_needs,
    "needs/airline_tweets": airline_needs,
    "needs/semeval_absa": semeval_needs,
    "implicit_aspect/semeval16_rest": semeval16_rest_implicit,
    "implicit_aspect/acos": acos_implicit,
}


def load(name: str, data_dir: str | Path, part: str = "all") -> LabelledSet:
    if name not in READERS:
        raise KeyError(f"unknown labelled set {name!r}; known: {', '.join(READERS)}")
    return READERS[name](Path(data_dir)).part(part)


def training_sets(task: str, data_dir: str | Path) -> list[LabelledSet]:
    """The train rows of every trainable set of a task (evaluation-only sets contribute nothing)."""
    sets = [load(name, data_dir, "train") for name in READERS if name.startswith(task + "/")]
    return [s for s in sets if len(s)]


@dataclass
class AspectTermSet:
    """Sentences with the character spans of the aspect terms annotated in them (empty: none named)."""
    texts: list[str]
    targets: list[list[tuple[int, int]]]
    sources: list[str]
    license: str = "not stated (SemEval ABSA, ACOS; research use)"
    kept_out: list[str] = field(default_factory=list)  # "file:place: why" of each sentence left out as malformed

    def part(self, part: str) -> AspectTermSet:
        if part not in ("train", "dev"):
            raise ValueError(f"part must be train or dev, not {part!r}")
        pick = [i for i, text in enumerate(self.texts) if is_dev(text) == (part == "dev")]
        return AspectTermSet([self.texts[i] for i in pick], [self.targets[i] for i in pick],
                             [self.sources[i] for i in pick], self.license, self.kept_out)

    def first(self, n: int) -> AspectTermSet:
        return AspectTermSet(self.texts[:n], self.targets[:n], self.sources[:n], self.license, self.kept_out)

    def __len__(self) -> int:
        return len(self.texts)


def aspect_terms(data_dir: str | Path) -> AspectTermSet:
    """Aspect-term spans: SemEval 2014 ``aspectTerm``, SemEval 2015–16 restaurant ``Opinion target`` (laptops
    there have no targets) and ACOS aspect spans (token indices into its space-tokenized text); a sentence seen
    in two sets is kept once. A sentence whose annotation cannot be read (a missing or out-of-range offset) is
    left out whole, since a lost span would teach its term as "not an aspect", and listed in ``kept_out``."""
    root = Path(data_dir) / "semeval_absa"
    texts, targets, sources, kept_out, seen = [], [], [], [], set()

    def add(text: str, spans: set, source: str) -> None:
        key = text_key(text)
        if key and key not in seen:
            seen.add(key)
            texts.append(text)
            targets.append(sorted(spans))
            sources.append(source)

    for path in sorted(root.glob("20*/*.xml")):
        if "lapt" in path.name.lower() and path.parent.name != "2014":
            continue
        for sentence in ET.parse(path).getroot().iter("sentence"):
            text = sentence.findtext("text") or ""
            try:
                spans = {_checked_span(o.get("from"), o.get("to"), text)
                         for o in [*sentence.iter("Opinion"), *sentence.iter("aspectTerm")]
                         if o.get("target", o.get("term")) not in (None, "NULL")}
            except ValueError as exc:
                kept_out.append(f"{path}:sentence {sentence.get('id')}: {exc}")
                continue
            add(text, spans, f"semeval{path.parent.name}")
    for path in sorted((root / "acos").glob("*/*.tsv")):
        for number, line in enumerate(_require(path).read_text(encoding="utf-8").splitlines(), 1):
            text, *quads = line.split("\t")
            try:
                spans = _acos_spans(text, quads)
            except ValueError as exc:
                kept_out.append(f"{path}:{number}: {exc}")
                continue
            add(text, spans, "acos")
    if kept_out:
        log.warning("%d aspect-term sentences left out as malformed, e.g. %s", len(kept_out), kept_out[0])
    if not texts:
        raise FileNotFoundError(f"no SemEval/ACOS files under {root}: see models/README.md for the data layout")
    return AspectTermSet(texts, targets, sources, kept_out=kept_out)


def _checked_span(start: str | None, end: str | None, text: str) -> tuple[int, int]:
    try:
        span = int(start), int(end)
    except (TypeError, ValueError):
        raise ValueError(f"aspect offsets from={start!r} to={end!r} are not integers") from None
    if not 0 <= span[0] < span[1] <= len(text):
        raise ValueError(f"aspect span {span} lies outside the {len(text)}-character text")
    return span


def _acos_spans(text: str, quads: list[str]) -> set[tuple[int, int]]:
    """Character spans of ACOS aspect token ranges ("first,end" with end exclusive; -1,-1: no aspect named)."""
    tokens = text.split(" ")
    starts = [0]
    for token in tokens:
        starts.append(starts[-1] + len(token) + 1)
    spans = set()
    for quad in quads:
        try:
            first, end = map(int, quad.split(" ")[0].split(","))
        except ValueError:
            raise ValueError(f"aspect field {quad.split(' ')[0]!r} is not 'first,end'") from None
        if first < 0:
            continue
        if not first < end <= len(tokens):
            raise ValueError(f"aspect tokens {first},{end} lie outside the {len(tokens)}-token text")
        spans.add((starts[first], starts[end - 1] + len(tokens[end - 1])))
    return spans
