"""`unmet eval`: score the heads on the dev rows of the public labelled sets, against the targets.

Two levels for document-labelled sets (app reviews, tweets): ``sentence`` classifies the whole text as one
unit; ``document`` runs the pipeline's own path (split into sentences, label each, aggregate: any explicit
sentence makes an explicit document, else any implicit one an implicit document; sentiment is the mean of
the sentence probabilities), so the figure is what a product team gets from the warehouse.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from models import datasets
from models.metrics import Scored, paired_difference, score

TASK_LABELS = {"sentiment": datasets.SENTIMENT_LABELS, "needs": datasets.NEED_LABELS,
               "implicit_aspect": datasets.IMPLICIT_ASPECT_LABELS}
BINARY_SENTIMENT = ("negative", "positive")


@dataclass(frozen=True)
class Benchmark:
    """One row of the evaluation table: data set(s), how to score, and the target from the issue."""

    title: str
    sets: tuple[str, ...]
    metric: str
    level: str = "sentence"
    binary: bool = False  # sentiment scored negative vs positive only (rows labelled neutral left out)
    anchor: str = ""
    target: float | None = None

    @property
    def task(self) -> str:
        return self.sets[0].split("/")[0]


TARGETS = (
    Benchmark("tweet sentiment (TweetEval val)", ("sentiment/tweeteval",), "macro_recall",
              anchor="VADER ≈ 0.60, RoBERTa-base 0.71 (test)", target=0.70),
    Benchmark("airline tweet sentiment", ("sentiment/airline_tweets",), "macro_f1", anchor="TF-IDF + LR ≈ 0.76",
              target=0.80),
    Benchmark("review sentiment: Amazon ≤2★ vs ≥4★", ("sentiment/amazon_reviews",), "macro_f1", level="document",
              binary=True, anchor="VADER ≈ 0.86", target=0.92),
    Benchmark("review sentiment: SemEval sentence polarity", ("sentiment/semeval_absa",), "macro_f1", binary=True,
              target=0.92),
    Benchmark("explicit need (app reviews: Feature/FEATURE)", ("needs/maalej2016", "needs/clap2017"),
              "f1:explicit", anchor="published RE classifiers 0.6–0.8", target=0.80),
    Benchmark("implicit need (app reviews: Bug + problem classes)", ("needs/maalej2016", "needs/clap2017"),
              "f1:implicit", anchor="≈ 0.85", target=0.88),
    Benchmark("implicit aspects (SemEval-2016 REST, NULL target)", ("implicit_aspect/semeval16_rest",),
              "f1:implicit", anchor="none published"),
)
SUPPLEMENTARY = (
    Benchmark("explicit need, document level (app reviews)", ("needs/maalej2016", "needs/clap2017"),
              "f1:explicit", level="document"),
    Benchmark("implicit need, document level (app reviews)", ("needs/maalej2016", "needs/clap2017"),
              "f1:implicit", level="document"),
    Benchmark("implicit need (URR problem labels)", ("needs/urr2017",), "f1:implicit"),
    Benchmark("implicit need (airline complaints with a reason)", ("needs/airline_tweets",), "f1:implicit"),
    Benchmark("implicit need (SemEval negative opinions, sentences)", ("needs/semeval_absa",), "f1:implicit"),
    Benchmark("implicit aspects (ACOS restaurants + laptops)", ("implicit_aspect/acos",), "f1:implicit"),
    Benchmark("sentence sentiment (SST-2 sampled sentences)", ("sentiment/sst2",), "macro_f1", binary=True),
    Benchmark("SST-2 dev (overlaps train; sanity check only)", ("sentiment/sst2_dev",), "macro_f1", binary=True),
)


@dataclass
class Result:
    benchmark: Benchmark
    scored: Scored
    truth: list[str] = field(default_factory=list, repr=False)  # per row, for paired comparisons
    predicted: list[str] = field(default_factory=list, repr=False)

    @property
    def value(self) -> float:
        return self.scored.values[self.benchmark.metric]

    @property
    def interval(self) -> tuple[float, float]:
        return self.scored.intervals.get(self.benchmark.metric, (float("nan"), float("nan")))

    @property
    def met(self) -> bool | None:
        return None if self.benchmark.target is None else self.value >= self.benchmark.target

    def as_dict(self) -> dict:
        b = self.benchmark
        return {"title": b.title, "sets": list(b.sets), "metric": b.metric, "level": b.level, "binary": b.binary,
                "anchor": b.anchor, "target": b.target, "value": self.value, "ci95": list(self.interval),
                "met": self.met, **self.scored.as_dict()}


def aggregate_needs(probabilities: np.ndarray, classes: Sequence[str]) -> str:
    """A document's need kind from its sentences' probabilities (the rule in the module docstring)."""
    kinds = {classes[i] for i in probabilities.argmax(axis=1)}
    return "explicit" if "explicit" in kinds else "implicit" if "implicit" in kinds else "none"


class Evaluator:
    """Scores an ``Analyzer`` (or anything with ``label_texts`` and ``segmenter``) on labelled sets.

    Every distinct text is encoded once for all benchmarks, in the spirit of the pipeline.
    """

    def __init__(self, analyzer, data_dir: str | Path, n_boot: int = 1000, seed: int = 0, limit: int | None = None):
        self.analyzer = analyzer
        self.data_dir = Path(data_dir)
        self.n_boot = n_boot
        self.seed = seed
        self.limit = limit
        self._sets: dict[str, datasets.LabelledSet] = {}
        self.throughput: dict = {}

    def dev_set(self, name: str) -> datasets.LabelledSet:
        if name not in self._sets:
            dev = datasets.load(name, self.data_dir, "dev")
            if self.limit and len(dev) > self.limit:
                rows = np.random.default_rng(self.seed).choice(len(dev), self.limit, replace=False)
                dev = datasets.LabelledSet(dev.name, dev.task, [dev.texts[i] for i in sorted(rows)],
                                           [dev.labels[i] for i in sorted(rows)], dev.level, dev.license,
                                           dev.eval_only, dev.note)
            self._sets[name] = dev
        return self._sets[name]

    def run(self, benchmarks: Sequence[Benchmark] = TARGETS + SUPPLEMENTARY) -> list[Result]:
        benchmarks = [b for b in benchmarks if b.task in self.analyzer.heads]
        sentence_texts, document_texts = set(), set()
        for b in benchmarks:
            for name in b.sets:
                (document_texts if b.level == "document" else sentence_texts).update(self.dev_set(name).texts)
        documents = sorted(document_texts)
        split = self.analyzer.segmenter.split(documents)
        pieces = sorted(sentence_texts | {s.text for sentences in split for s in sentences})
        started = time.perf_counter()
        probabilities = self.analyzer.label_texts(pieces)
        seconds = time.perf_counter() - started
        encoder = getattr(self.analyzer, "encoder", None)
        self.throughput = {"sentences": len(pieces), "seconds": seconds, "sentences_per_s": len(pieces) / seconds,
                           "device": str(getattr(encoder, "device", "cpu")), "threads": torch.get_num_threads()}
        row_of = {t: i for i, t in enumerate(pieces)}
        sentences_of = {doc: [row_of[s.text] for s in sentences] for doc, sentences in zip(documents, split,
                                                                                             strict=True)}
        results = []
        for b in benchmarks:
            truth, predicted = [], []
            classes, probs = probabilities[b.task]
            for name in b.sets:
                dev = self.dev_set(name)
                for text, label in zip(dev.texts, dev.labels, strict=True):
                    if b.binary and label not in BINARY_SENTIMENT:
                        continue
                    rows = sentences_of.get(text, []) if b.level == "document" else [row_of[text]]
                    truth.append(label)
                    predicted.append(self._decide(b, classes, probs[rows] if rows else None))
            labels = BINARY_SENTIMENT if b.binary else TASK_LABELS[b.task]
            results.append(Result(b, score(truth, predicted, labels, self.n_boot, self.seed), truth, predicted))
        return results

    def aspect_terms(self) -> dict:
        """The aspect-term tagger and the parse rules on the SemEval/ACOS dev spans (``models.aspect_terms``);
        a random ``limit`` sentences for quick runs."""
        from models.aspect_terms import evaluate

        dev = datasets.aspect_terms(self.data_dir).part("dev")
        rows = range(len(dev))
        if self.limit and len(dev) > self.limit:
            rows = sorted(np.random.default_rng(self.seed).choice(len(dev), self.limit, replace=False))
        return evaluate(self.analyzer.encoder, getattr(self.analyzer, "aspect_tagger", None), self.analyzer.segmenter,
                        [dev.texts[i] for i in rows], [dev.targets[i] for i in rows], self.n_boot)

    @staticmethod
    def _decide(b: Benchmark, classes: Sequence[str], probs: np.ndarray | None) -> str:
        if probs is None:  # a document with no sentence (empty after cleaning) states nothing
            return "none" if b.task == "needs" else "neutral" if not b.binary else "positive"
        if b.task == "needs" and b.level == "document":
            return aggregate_needs(probs, classes)
        mean = probs.mean(axis=0)
        if b.binary:
            return max(BINARY_SENTIMENT, key=lambda label: mean[list(classes).index(label)])
        return classes[int(mean.argmax())]


def format_table(results: list[Result]) -> list[list[str]]:
    """Rows for printing: task, metric, value with interval, target, met, n, anchor."""
    rows = []
    for r in results:
        low, high = r.interval
        target = "" if r.benchmark.target is None else f"≥ {r.benchmark.target:.2f}"
        met = {True: "yes", False: "no", None: "report"}[r.met]
        level = f" [{r.benchmark.level}]" if r.benchmark.level == "document" else ""
        rows.append([r.benchmark.title + level, r.benchmark.metric, f"{r.value:.3f} ({low:.3f}–{high:.3f})", target,
                     met, str(r.scored.n), r.benchmark.anchor])
    return rows


def compare(before: list[Result], after: list[Result], n_boot: int = 1000, seed: int = 0) -> list[dict]:
    """Per benchmark: both values and the paired-bootstrap difference (after − before) on the same rows."""
    rows = []
    for a, b in zip(before, after, strict=True):
        if a.benchmark != b.benchmark or a.truth != b.truth:
            raise ValueError(f"{a.benchmark.title}: the two evaluations did not score the same rows")
        labels = BINARY_SENTIMENT if a.benchmark.binary else TASK_LABELS[a.benchmark.task]
        diff = paired_difference(a.truth, a.predicted, b.predicted, labels, a.benchmark.metric, n_boot, seed)
        rows.append({"benchmark": a.benchmark.title, "level": a.benchmark.level, "metric": a.benchmark.metric,
                     "before": a.value, "after": b.value, **diff})
    return rows


def analyzer_for_version(version: str, root: Path | None = None, **kwargs):
    """An Analyzer with every artifact of one version: its heads and the encoder adapter they were trained on
    (looked up under ``root``, then among the shipped artifacts)."""
    from models import ARTIFACTS_DIR
    from models.analyzer import Analyzer
    from models.heads import CONFIG_FILE

    root = Path(root or ARTIFACTS_DIR)
    heads = {task: root / task / version for task in ("sentiment", "needs", "implicit_aspect")}
    missing = [str(p) for task, p in heads.items() if task != "implicit_aspect" and not (p / CONFIG_FILE).is_file()]
    if missing:
        raise FileNotFoundError(f"version {version} lacks {', '.join(missing)}")
    encoder = json.loads((heads["needs"] / CONFIG_FILE).read_text())["encoder"]
    adapter = None
    if "@" in encoder.partition("+")[2]:
        adapter_version = encoder.rpartition("@")[2]
        found = [d for d in (root / "encoder" / adapter_version, ARTIFACTS_DIR / "encoder" / adapter_version)
                 if (d / CONFIG_FILE).is_file()]
        if not found:
            raise FileNotFoundError(f"version {version} needs encoder adapter {adapter_version}, found neither "
                                    f"under {root} nor among the shipped artifacts")
        adapter = str(found[0])
    aspect = heads["implicit_aspect"] if (heads["implicit_aspect"] / CONFIG_FILE).is_file() else None
    return Analyzer(adapter=adapter, sentiment_head=str(heads["sentiment"]), need_head=str(heads["needs"]),
                    implicit_aspect_head=str(aspect) if aspect else None, **kwargs)
