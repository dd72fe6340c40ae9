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
import functools
import hashlib
import json
import logging
import random
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from models.errors import ConfigError, DataError, NotFoundError
from models.labels import SENTIMENT_LABELS
from models.text import clean_text

log = logging.getLogger(__name__)
DEV_BUCKETS = 5  # one in five normalized texts is dev
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
    splits: list[str] = field(default_factory=list)  # a fixed train/dev split shipped with the data (voc_needs)

    def part(self, part: str) -> LabelledSet:
        """The ``train`` or ``dev`` rows; an evaluation-only set has no train rows and is all dev. A set that ships
        its own split (``splits``) keeps it; the others split by the hash rule (``is_dev``)."""
        if part not in ("train", "dev", "all"):
            raise ConfigError(f"part must be train, dev or all, not {part!r}")
        if part == "all":
            keep = [True] * len(self.texts)
        elif self.eval_only:
            keep = [part == "dev"] * len(self.texts)
        elif self.splits:
            keep = [split == part for split in self.splits]
        else:
            keep = [is_dev(t) == (part == "dev") for t in self.texts]
        return self.rows([i for i, k in enumerate(keep) if k])

    def rows(self, pick: list[int]) -> LabelledSet:
        """The rows at ``pick``, in that order."""
        return LabelledSet(self.name, self.task, [self.texts[i] for i in pick], [self.labels[i] for i in pick],
                           self.level, self.license, self.eval_only, self.note,
                           [self.groups[i] for i in pick] if self.groups else [],
                           [self.splits[i] for i in pick] if self.splits else [])

    def __len__(self) -> int:
        return len(self.texts)


def _require(path: Path) -> Path:
    if not path.is_file():
        raise NotFoundError(f"labelled data {path} not found; pass --data-dir (default ../shared/data)")
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


def semeval_tweet_sentiment(data_dir: Path) -> LabelledSet:
    """SemEval 2013–2016 Twitter sentiment (TweetEval's val and test tweets already removed, see SOURCE.md)."""
    rows = _csv_rows(data_dir / "semeval_twitter_sentiment" / "train.tsv", delimiter="\t")
    rows = [r for r in rows if r["label"] in SENTIMENT_LABELS]
    return LabelledSet("semeval_tweets", "sentiment", [clean_text(r["text"], social=True) for r in rows],
                       [r["label"] for r in rows], license="SemEval task organisers (research use; Twitter terms)",
                       groups=[r["collection"] for r in rows])


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


# ---------------------------------------------------------------- voc_needs: the task itself

VOC_NEEDS_LICENSE = "labels: the project's; texts keep their sources' terms (research use, airline CC BY-NC-SA 4.0)"


@dataclass(frozen=True)
class VocSentence:
    """One sentence of ``voc_needs/sentences.jsonl``, labelled under its GUIDELINES.md."""
    id: str
    source: str
    sentence: str
    context: str
    need_kind: str
    aspect: str
    aspect_named: bool
    need: str
    sentiment: str
    unsure: bool
    split: str


def voc_sentences(data_dir: str | Path) -> tuple[VocSentence, ...]:
    """Every row of voc_needs with its fixed split (``dev``: 718 rows of natural class mix); read once per process
    (every reader and the held-out filter of every training set ask for it)."""
    path = _require(Path(data_dir) / "voc_needs" / "sentences.jsonl").resolve()
    return _read_voc(path, path.stat().st_mtime_ns)


@functools.lru_cache(maxsize=4)
def _read_voc(path: Path, mtime_ns: int) -> tuple[VocSentence, ...]:  # the mtime keys a rewritten file anew
    fields = VocSentence.__dataclass_fields__
    with open(path, encoding="utf-8") as fh:
        return tuple(VocSentence(**{k: v for k, v in json.loads(line).items() if k in fields})
                     for line in fh if line.strip())


def _voc_set(data_dir: Path, task: str, label) -> LabelledSet:
    rows = voc_sentences(data_dir)
    return LabelledSet("voc_needs", task, [r.sentence for r in rows], [label(r) for r in rows],
                       license=VOC_NEEDS_LICENSE, groups=[r.source for r in rows], splits=[r.split for r in rows])


def voc_need_kind(data_dir: Path) -> LabelledSet:
    return _voc_set(data_dir, "needs", lambda r: r.need_kind)


def voc_sentiment(data_dir: Path) -> LabelledSet:
    return _voc_set(data_dir, "sentiment", lambda r: r.sentiment)


def voc_aspect_kind(data_dir: Path) -> LabelledSet:
    """Need sentences only: is the aspect named by words of the sentence (explicit) or only implied (implicit)?"""
    rows = [r for r in voc_sentences(data_dir) if r.need_kind != "none" and r.aspect]
    return LabelledSet("voc_needs", "implicit_aspect", [r.sentence for r in rows],
                       ["explicit" if r.aspect_named else "implicit" for r in rows], license=VOC_NEEDS_LICENSE,
                       groups=[r.source for r in rows], splits=[r.split for r in rows])


def held_out_keys(data_dir: str | Path) -> set[str]:
    """Normalized voc_needs dev sentences: the texts of every other set that contain one are never trained on,
    so the dev figures of the task itself stay clean (voc_needs was drawn from those sets' rows)."""
    return {text_key(r.sentence) for r in voc_sentences(data_dir) if r.split == "dev"} - {""}


def containing(texts: list[str], keys: set[str], min_words: int = 4) -> set[int]:
    """Rows of ``texts`` whose normalized form is one of ``keys`` or contains one of at least ``min_words`` words as
    a run of whole words (a short key such as "thank you" would match thousands of unrelated texts)."""
    if not keys or not texts:
        return set()
    normalized = [f" {text_key(t)} " for t in texts]
    found = {i for i, n in enumerate(normalized) if n[1:-1] in keys}
    starts = np.cumsum([0] + [len(n) for n in normalized[:-1]])
    joined = "".join(normalized)
    for key in (k for k in keys if k.count(" ") + 1 >= min_words):
        needle = f" {key} "
        at = joined.find(needle)
        while at != -1:
            found.add(int(np.searchsorted(starts, at, side="right")) - 1)
            at = joined.find(needle, at + 1)
    return found


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
    "needs/voc_needs": voc_need_kind,
    "sentiment/voc_needs": voc_sentiment,
    "implicit_aspect/voc_needs": voc_aspect_kind,
    "sentiment/semeval_tweets": semeval_tweet_sentiment,
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
        raise ConfigError(f"unknown labelled set {name!r}; known: {', '.join(READERS)}")
    return READERS[name](Path(data_dir)).part(part)


def training_sets(task: str, data_dir: str | Path, names: tuple[str, ...] | None = None) -> list[LabelledSet]:
    """The train rows of every trainable set of a task (or of the sets ``names``; evaluation-only sets contribute
    nothing); rows that contain a voc_needs dev sentence are left out (``held_out_keys``)."""
    held_out = held_out_keys(data_dir)
    sets = []
    for name in READERS:
        if not name.startswith(task + "/") or (names is not None and name.split("/", 1)[1] not in names):
            continue
        train = load(name, data_dir, "train")
        if name.endswith("/voc_needs"):
            sets.append(train)
            continue
        leaked = containing(train.texts, held_out)
        sets.append(train.rows([i for i in range(len(train)) if i not in leaked]))
    return [s for s in sets if len(s)]


@dataclass
class AspectTermSet:
    """Sentences with the character spans of the aspect terms annotated in them (empty: none named)."""
    texts: list[str]
    targets: list[list[tuple[int, int]]]
    sources: list[str]
    license: str = "not stated (SemEval ABSA, ACOS; research use)"
    kept_out: list[str] = field(default_factory=list)  # "file:place: why" of each sentence left out as malformed

    splits: list[str] = field(default_factory=list)  # per sentence where the data fixes it ("" = hash rule)

    def part(self, part: str) -> AspectTermSet:
        if part not in ("train", "dev"):
            raise ConfigError(f"part must be train or dev, not {part!r}")
        splits = self.splits or [""] * len(self.texts)
        pick = [i for i, (text, split) in enumerate(zip(self.texts, splits, strict=True))
                if (split == part if split else is_dev(text) == (part == "dev"))]
        return self.rows(pick)

    def rows(self, pick) -> AspectTermSet:
        return AspectTermSet([self.texts[i] for i in pick], [self.targets[i] for i in pick],
                             [self.sources[i] for i in pick], self.license, self.kept_out,
                             [self.splits[i] for i in pick] if self.splits else [])

    def first(self, n: int) -> AspectTermSet:
        return self.rows(range(min(n, len(self.texts))))

    def of_source(self, prefix: str) -> AspectTermSet:
        return self.rows([i for i, source in enumerate(self.sources) if source.startswith(prefix)])

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
        raise NotFoundError(f"no SemEval/ACOS files under {root}: see models/README.md for the data layout")
    splits = [""] * len(texts)
    voc = voc_aspect_spans(data_dir)
    held_out = held_out_keys(data_dir)
    leaked = containing(texts, held_out)
    keep = [i for i in range(len(texts)) if i not in leaked]
    semeval = AspectTermSet(texts, targets, sources, kept_out=kept_out, splits=splits).rows(keep)
    return AspectTermSet(semeval.texts + voc.texts, semeval.targets + voc.targets, semeval.sources + voc.sources,
                         kept_out=kept_out, splits=semeval.splits + voc.splits)


def voc_aspect_spans(data_dir: str | Path) -> AspectTermSet:
    """The named aspects of voc_needs need sentences as character spans (its first case-insensitive occurrence as
    whole words), with voc_needs' own split. A need whose aspect is only implied names no term (no span); a named
    aspect that is not a verbatim phrase of its sentence cannot be placed and the sentence is left out."""
    texts, targets, sources, splits = [], [], [], []
    for row in voc_sentences(data_dir):
        if row.need_kind == "none" or not row.aspect:
            continue
        spans = []
        if row.aspect_named:
            found = re.search(rf"(?<!\w){re.escape(row.aspect)}(?!\w)", row.sentence, re.IGNORECASE)
            if not found:
                continue
            spans = [found.span()]
        texts.append(row.sentence)
        targets.append(spans)
        sources.append(f"voc_needs:{row.source}")
        splits.append(row.split)
    return AspectTermSet(texts, targets, sources, splits=splits)


def _checked_span(start: str | None, end: str | None, text: str) -> tuple[int, int]:
    try:
        span = int(start), int(end)
    except (TypeError, ValueError):
        raise DataError(f"aspect offsets from={start!r} to={end!r} are not integers") from None
    if not 0 <= span[0] < span[1] <= len(text):
        raise DataError(f"aspect span {span} lies outside the {len(text)}-character text")
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
            raise DataError(f"aspect field {quad.split(' ')[0]!r} is not 'first,end'") from None
        if first < 0:
            continue
        if not first < end <= len(tokens):
            raise DataError(f"aspect tokens {first},{end} lie outside the {len(tokens)}-token text")
        spans.add((starts[first], starts[end - 1] + len(tokens[end - 1])))
    return spans
