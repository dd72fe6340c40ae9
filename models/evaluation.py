"""`unmet eval`: score the heads on the dev rows of the public labelled sets, against the targets.

Two levels for document-labelled sets (app reviews, tweets): ``sentence`` classifies the whole text as one
unit; ``document`` runs the pipeline's own path (split into sentences, label each, aggregate: any explicit
sentence makes an explicit document, else any implicit one an implicit document; sentiment is the mean of
the sentence probabilities), so the figure is what a product team gets from the warehouse.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from models import datasets
from models.errors import NotFoundError
from models.labels import TASK_LABELS
from models.metrics import Scored, paired_difference, score

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
    group: str = ""  # only the rows of this group (voc_needs: the source a sentence came from)

    @property
    def task(self) -> str:
        return self.sets[0].split("/")[0]


VOC = ("needs/voc_needs",)
TARGETS = (
    Benchmark("need kind (voc_needs dev)", VOC, "macro_f1", anchor="the task itself (GUIDELINES.md)", target=0.85),
    Benchmark("explicit need (voc_needs dev)", VOC, "f1:explicit", target=0.85),
    Benchmark("implicit need (voc_needs dev)", VOC, "f1:implicit", target=0.85),
    Benchmark("no need (voc_needs dev)", VOC, "f1:none", target=0.90),
    Benchmark("sentence sentiment (voc_needs dev)", ("sentiment/voc_needs",), "macro_f1", target=0.85),
    Benchmark("tweet sentiment (TweetEval val)", ("sentiment/tweeteval",), "macro_recall",
              anchor="VADER ≈ 0.60, RoBERTa-base 0.71 (test)", target=0.70),
    Benchmark("airline tweet sentiment", ("sentiment/airline_tweets",), "macro_f1", anchor="TF-IDF + LR ≈ 0.76",
              target=0.82),
    Benchmark("review sentiment: Amazon ≤2★ vs ≥4★", ("sentiment/amazon_reviews",), "macro_f1", level="document",
              binary=True, anchor="VADER ≈ 0.86", target=0.92),
    Benchmark("review sentiment: SemEval sentence polarity", ("sentiment/semeval_absa",), "macro_f1", binary=True,
              target=0.92),
    Benchmark("explicit need (app reviews: Feature/FEATURE)", ("needs/maalej2016", "needs/clap2017"),
              "f1:explicit", anchor="published RE classifiers 0.6–0.8", target=0.80),
    Benchmark("explicit need (Maalej 2016: Feature)", ("needs/maalej2016",), "f1:explicit", target=0.75),
    Benchmark("explicit need (CLAP: FEATURE)", ("needs/clap2017",), "f1:explicit", target=0.75),
    Benchmark("implicit need (app reviews: Bug + problem classes)", ("needs/maalej2016", "needs/clap2017"),
              "f1:implicit", anchor="≈ 0.85", target=0.88),
    Benchmark("implicit aspects (SemEval-2016 REST, NULL target)", ("implicit_aspect/semeval16_rest",),
              "f1:implicit", anchor="none published"),
)
VOC_SOURCES = ("amazon_device_reviews", "airline_tweets", "clap2017_app_reviews", "maalej2016_app_reviews",
               "semeval_absa_2016_train", "urr2017_app_reviews")
SUPPLEMENTARY = (
    *(Benchmark(f"need kind (voc_needs dev: {source})", VOC, "macro_f1", group=source) for source in VOC_SOURCES),
    *(Benchmark(f"{kind} need, {part} (voc_needs dev)", VOC, f"{part}:{kind}") for kind in ("explicit", "implicit")
      for part in ("precision", "recall")),
    Benchmark("aspect named or implied (voc_needs dev need sentences)", ("implicit_aspect/voc_needs",),
              "f1:implicit"),
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


CUES = {"a contrast ('but')": r"\bbut\b", "a negation ('not', 'n't', 'no')": r"\bnot\b|n't\b|\bno\b",
        "a wish ('wish')": r"\bwish"}


def aggregate_kind(kinds: Sequence[str]) -> str:
    """A document's need kind from its sentences' kinds: explicit over implicit over none."""
    return "explicit" if "explicit" in kinds else "implicit" if "implicit" in kinds else "none"


def aggregate_needs(probabilities: np.ndarray, classes: Sequence[str]) -> str:
    """A document's need kind from its sentences' probabilities (the rule in the module docstring)."""
    return aggregate_kind([classes[i] for i in probabilities.argmax(axis=1)])


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
                dev = dev.rows(sorted(rows))
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
                groups = dev.groups or [""] * len(dev.texts)
                for text, label, group in zip(dev.texts, dev.labels, groups, strict=True):
                    if (b.binary and label not in BINARY_SENTIMENT) or (b.group and group != b.group):
                        continue
                    rows = sentences_of.get(text, []) if b.level == "document" else [row_of[text]]
                    truth.append(label)
                    predicted.append(self._decide(b, classes, probs[rows] if rows else None))
            if not truth:  # a source with no rows among a quick run's ``limit`` sample
                continue
            labels = BINARY_SENTIMENT if b.binary else TASK_LABELS[b.task]
            results.append(Result(b, score(truth, predicted, labels, self.n_boot, self.seed), truth, predicted))
        return results

    def voc_needs(self) -> dict:
        """What the warehouse would store for each voc_needs dev sentence run as one document through the analyzer
        (split, encode, heads, aspects): named-aspect match (the stored aspect shares a word with the annotated one,
        over need sentences whose aspect is named), implied-aspect match (over those whose aspect is implied), and
        need kind and sentiment accuracy of the sentences with a contrast, a negation or a wish."""
        from models.implied_aspects import shares_a_word

        dev = [r for r in datasets.voc_sentences(self.data_dir) if r.split == "dev"]
        if self.limit and len(dev) > self.limit:
            dev = [dev[i] for i in sorted(np.random.default_rng(self.seed).choice(len(dev), self.limit, False))]
        batch = self.analyzer.analyze([r.id for r in dev], [r.sentence for r in dev], ["en"] * len(dev))
        stored = batch.sentences.select(["feedback_id", "need_kind", "aspect", "aspect_kind", "sentiment"]).to_pylist()
        by_id: dict[str, list[dict]] = {}
        for row in stored:
            by_id.setdefault(row["feedback_id"], []).append(row)
        polarity_of = {d["feedback_id"]: d["sentiment"] or "neutral"
                       for d in batch.documents.select(["feedback_id", "sentiment"]).to_pylist()}
        out = {}
        for named, title in ((True, "named aspect found"), (False, "implied aspect found")):
            rows = [r for r in dev if r.need_kind != "none" and r.aspect and r.aspect_named == named]
            hits = [any(shares_a_word(s["aspect"], r.aspect) for s in by_id.get(r.id, [])) for r in rows]
            as_need = [any(s["need_kind"] != "none" and shares_a_word(s["aspect"], r.aspect)
                           for s in by_id.get(r.id, [])) for r in rows]
            out[title] = self._share(hits)
            out[f"{title}, on a sentence stored as a need"] = self._share(as_need)
        listed = {}
        for cue, pattern in CUES.items():
            rows = [r for r in dev if re.search(pattern, r.sentence, re.IGNORECASE)]
            kinds = [aggregate_kind([s["need_kind"] for s in by_id.get(r.id, [])]) for r in rows]
            polarities = [polarity_of.get(r.id, "neutral") for r in rows]  # the document's: its sentences' mean
            out[f"sentences with {cue}"] = {
                "need kind": self._share([k == r.need_kind for k, r in zip(kinds, rows, strict=True)]),
                "sentiment": self._share([p == r.sentiment for p, r in zip(polarities, rows, strict=True)])}
            listed[cue] = [{"sentence": r.sentence, "need_kind": r.need_kind, "predicted": k, "sentiment": r.sentiment,
                            "predicted_sentiment": p} for r, k, p in zip(rows, kinds, polarities, strict=True)]
        return {"measures": out, "cue_sentences": listed}

    def _share(self, hits: list[bool]) -> dict:
        hits = np.asarray(hits, dtype=float)
        if not len(hits):
            return {"value": float("nan"), "ci95": [float("nan")] * 2, "n": 0}
        rng = np.random.default_rng(self.seed)
        draws = [hits[rng.integers(0, len(hits), len(hits))].mean() for _ in range(self.n_boot)] or [hits.mean()]
        return {"value": float(hits.mean()), "ci95": [float(np.percentile(draws, 2.5)),
                                                      float(np.percentile(draws, 97.5))], "n": int(len(hits))}

    def aspect_terms(self) -> dict:
        """The aspect-term tagger and the parse rules on the SemEval/ACOS dev spans (``models.aspect_terms``);
        a random ``limit`` sentences for quick runs."""
        from models.aspect_terms import evaluate

        dev = datasets.aspect_terms(self.data_dir).part("dev")
        dev = dev.rows([i for i, source in enumerate(dev.sources) if not source.startswith("voc_needs")])
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
        raise NotFoundError(f"version {version} lacks {', '.join(missing)}")
    encoder = json.loads((heads["needs"] / CONFIG_FILE).read_text())["encoder"]
    adapter = None
    if "@" in encoder.partition("+")[2]:
        adapter_version = encoder.rpartition("@")[2]
        found = [d for d in (root / "encoder" / adapter_version, ARTIFACTS_DIR / "encoder" / adapter_version)
                 if (d / CONFIG_FILE).is_file()]
        if not found:
            raise NotFoundError(f"version {version} needs encoder adapter {adapter_version}, found neither "
                                    f"under {root} nor among the shipped artifacts")
        adapter = str(found[0])
    aspect = heads["implicit_aspect"] if (heads["implicit_aspect"] / CONFIG_FILE).is_file() else None
    return Analyzer(adapter=adapter, sentiment_head=str(heads["sentiment"]), need_head=str(heads["needs"]),
                    implicit_aspect_head=str(aspect) if aspect else None, **kwargs)
