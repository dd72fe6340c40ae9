"""Rebuild the default heads from the public data: (optionally tune the encoder adapter,) encode every
training text once, fit each head on the train rows, score it with ``unmet eval`` on the dev rows, and
write pickle-free artifacts with a model card. A version that exists is never overwritten."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from models import ARTIFACTS_DIR, datasets
from models.encoder import SentenceEncoder
from models.errors import AlreadyExistsError, ConfigError
from models.features import apply_heads, build_features
from models.heads import LinearHead
from models.labels import IMPLICIT_ASPECT_LABELS, NEED_LABELS, SENTIMENT_LABELS

log = logging.getLogger(__name__)

# Which sets feed each head, with what weight per row, and the class weights: chosen on the voc_needs dev rows
# while building 2.0.0 (models/README.md has the grid). voc_needs defines need kind under the guidelines: adding
# the app-review, airline and SemEval need sets lowered its macro-F1 (0.834 alone; 0.813 at weight 0.2, 0.767 at
# 1), so they only shape the encoder, through heads of their own. Sentiment gains from the other sets at 0.3
# (voc_needs 0.804 → 0.826, TweetEval 0.678 → 0.704); aspect kind is best on voc_needs alone (0.776 vs 0.756).
HEADS = {
    "sentiment": {"name": "unmet.sentiment.v1", "features": ("embedding", "lexicon"),
                  "labels": SENTIMENT_LABELS, "class_weight": None,
                  "sets": {"voc_needs": 1.0, "semeval_tweets": 0.3, "airline_tweets": 0.3, "sst2": 0.3,
                           "semeval_absa": 0.3}},
    "needs": {"name": "unmet.needs.v1", "features": ("embedding",), "labels": NEED_LABELS,
              "class_weight": None, "sets": {"voc_needs": 1.0}},
    "implicit_aspect": {"name": "unmet.implicit_aspects.v1", "features": ("embedding",),
                        "labels": IMPLICIT_ASPECT_LABELS, "class_weight": None, "sets": {"voc_needs": 1.0}},
}


def training_data(task: str, data_dir: Path, limit: int | None = None,
                  extra: tuple[list[str], list[str]] | None = None,
                  weights: dict[str, float] | None = None) -> tuple[list[str], np.ndarray, dict, np.ndarray]:
    """Train rows of the sets of ``task`` (those named in ``weights``, else all) plus ``extra`` (e.g. human
    corrections, weight 1); returns texts, labels, rows per source and each row's weight."""
    texts, labels, rows, row_weights = [], [], {}, []
    for labelled in datasets.training_sets(task, data_dir, names=tuple(weights) if weights else None):
        n = min(len(labelled), limit or len(labelled))
        weight = (weights or {}).get(labelled.name, 1.0)
        texts += labelled.texts[:n]
        labels += labelled.labels[:n]
        row_weights += [weight] * n
        rows[labelled.name] = {"rows": n, "license": labelled.license, "weight": weight}
    if extra and extra[0]:
        texts += list(extra[0])
        labels += list(extra[1])
        row_weights += [1.0] * len(extra[0])
        rows["corrections"] = {"rows": len(extra[0]), "license": "your own labels", "weight": 1.0}
    return texts, np.array(labels), rows, np.array(row_weights)


def _model_card(task: str, config: dict, results: list) -> str:
    spec = HEADS[task]
    lines = [
        f"# {spec['name']} version {config['version']}", "",
        f"Multinomial logistic regression over the shared sentence embedding ({config['encoder']})"
        + (" plus VADER lexicon scores" if "lexicon" in spec["features"] else "") + f"; classes "
        f"{', '.join(config['classes'])}.",
        f"Trained {config['trained_at']} by `unmet train`; weights `head.safetensors` "
        f"(sha256 `{config['sha256']['head.safetensors']}`, checked at load), no pickle.", "",
        "## Training data (train rows only: voc_needs by its own split, the other sets by the hash of the normalized "
        "text; no text containing a voc_needs dev sentence)", "",
        "| source | rows | weight per row | license |", "|---|---|---|---|",
    ]
    lines += [f"| {source} | {v['rows']} | {v.get('weight', 1.0)} | {v['license']} |"
              for source, v in config["training_rows"].items()]
    lines += ["", "The artifact inherits the most restrictive of these terms: non-commercial research use.", "",
              "## Metrics (dev rows, never trained on; 95 % bootstrap intervals, 1,000 resamples)", "",
              "| benchmark | metric | value | 95 % CI | n | target |", "|---|---|---|---|---|---|"]
    for r in results:
        low, high = r.interval
        target = "" if r.benchmark.target is None else f"≥ {r.benchmark.target:.2f}"
        level = " [document]" if r.benchmark.level == "document" else ""
        lines.append(f"| {r.benchmark.title}{level} | {r.benchmark.metric} | {r.value:.3f} | {low:.3f}–{high:.3f} | "
                     f"{r.scored.n} | {target} |")
    lines += ["", "Confusion matrices and per-class precision/recall: `unmet eval --json`.", ""]
    return "\n".join(lines)


ASPECT_TERMS = "aspect_terms"  # the token-level tagger: trained on spans, not on sentence labels
IMPLIED_ASPECTS = "implied_aspects"  # nearest labelled need sentences whose aspect is implied (voc_needs)
TASKS = (*HEADS, ASPECT_TERMS, IMPLIED_ASPECTS)


def train_heads(data_dir: Path, version: str, out_dir: Path = ARTIFACTS_DIR, encoder: str | None = None,
                adapter: str | Path | None = "default", tasks: tuple[str, ...] = TASKS, C: float = 1.0,
                limit: int | None = None, extra: dict | None = None, overwrite: bool = False,
                evaluate: bool = True, n_boot: int = 1000, backend: str = "auto") -> dict:
    """Fit the heads of ``tasks``; return {task: {path, rows, metrics}}.

    ``backend="static"`` first distils the fast mode's projection (as artifact ``static/<version>``) from the
    encoder, then fits heads on the static embeddings; the default heads are untouched.
    """
    data_dir, out_dir = Path(data_dir), Path(out_dir)
    for task in tasks:
        if task not in TASKS:
            raise ConfigError(f"unknown head {task!r}; known: {', '.join(TASKS)}")
        if (out_dir / task / version / "config.json").exists() and not overwrite:
            raise AlreadyExistsError(f"{out_dir / task / version} exists; choose a new --version")
    if backend == "static":
        _distil_static(encoder, adapter, out_dir, version, overwrite)
    model = SentenceEncoder(encoder, adapter=adapter, backend=backend)
    out = {}
    if ASPECT_TERMS in tasks:
        if model.has_token_states:
            out[ASPECT_TERMS] = train_aspect_terms(model, data_dir, version, out_dir, n_boot, limit, evaluate)
        else:
            log.warning("the %s encoder has no token states: no aspect-term tagger (the parser tags aspects)",
                        backend)
        tasks = tuple(task for task in tasks if task != ASPECT_TERMS)
    if IMPLIED_ASPECTS in tasks:
        out[IMPLIED_ASPECTS] = train_implied_aspects(data_dir, version, out_dir, limit)
        tasks = tuple(task for task in tasks if task != IMPLIED_ASPECTS)
    data = {task: training_data(task, data_dir, limit, (extra or {}).get(task), HEADS[task]["sets"]) for task in tasks}
    unique = sorted({t for texts, *_ in data.values() for t in texts})
    log.info("encoding %d unique training texts with %s", len(unique), model.version_)
    vectors = model.encode(unique)
    row_of = {t: i for i, t in enumerate(unique)}
    fitted, configs = {}, {}
    for task in tasks:
        texts, labels, rows, row_weights = data[task]
        spec = HEADS[task]
        features = build_features(list(spec["features"]), vectors[[row_of[t] for t in texts]], texts)
        fitted[task] = LinearHead(features=spec["features"], C=C, class_weight=spec["class_weight"]).fit(
            features, labels, sample_weight=row_weights)
        configs[task] = {"name": spec["name"], "version": version, "encoder": model.version_,
                         "trained_at": datetime.now(UTC).date().isoformat(), "training_rows": rows,
                         "dev_rule": f"sha1(normalized text) % {datasets.DEV_BUCKETS} == 0"}
    results = _evaluate(model, fitted, data_dir, n_boot, limit) if evaluate and tasks else []
    for task in tasks:
        mine = [r for r in results if r.benchmark.task == task]
        configs[task]["metrics"] = {f"{r.benchmark.title}|{r.benchmark.level}": {
            "metric": r.benchmark.metric, "value": r.value, "ci95": list(r.interval), "n": r.scored.n}
            for r in mine}
        directory = fitted[task].save(out_dir / task / version, configs[task])
        config = json.loads((directory / "config.json").read_text())
        (directory / "MODEL_CARD.md").write_text(_model_card(task, config, mine))
        out[task] = {"path": str(directory), "rows": configs[task]["training_rows"],
                     "metrics": configs[task]["metrics"]}
    return out


def train_aspect_terms(encoder: SentenceEncoder, data_dir: Path, version: str, out_dir: Path, n_boot: int = 1000,
                       limit: int | None = None, evaluate_dev: bool = True) -> dict:
    """Fit the aspect-term tagger on the train spans; score it and the parser rules it replaces on the dev spans."""
    from models.aspect_terms import NAME, AspectTermTagger, evaluate, word_labels
    from models.segment import Segmenter

    terms = datasets.aspect_terms(data_dir)
    train, dev = terms.part("train"), terms.part("dev")
    if limit:
        train, dev = train.first(limit), dev.first(limit)
    log.info("aspect terms: token states of %d train sentences", len(train.texts))
    _, words = encoder.encode_and_tag(train.texts, lambda texts, spans, vectors: list(zip(spans, vectors, strict=True)))
    tagger = AspectTermTagger(fallback=0.1).fit([vectors for _, vectors in words],
                                    [word_labels(spans, targets) for (spans, _), targets in zip(words, train.targets,
                                                                                                strict=True)])
    metrics = {}
    if evaluate_dev:  # SemEval/ACOS dev spans as before, and voc_needs' need sentences apart
        semeval = dev.rows([i for i, source in enumerate(dev.sources) if not source.startswith("voc_needs")])
        voc = dev.of_source("voc_needs")
        segmenter = Segmenter()
        metrics = evaluate(encoder, tagger, segmenter, semeval.texts, semeval.targets, n_boot)
        if len(voc):
            metrics |= {f"voc_needs need sentences: {method}": m for method, m in
                        evaluate(encoder, tagger, segmenter, voc.texts, voc.targets, n_boot).items()}
    config = {"name": NAME, "version": version, "encoder": encoder.version_,
              "trained_at": datetime.now(UTC).date().isoformat(),
              "training_rows": {"semeval_absa+acos aspect terms": {"rows": len(train.texts), "license": terms.license}},
              "dev_rule": f"sha1(normalized text) % {datasets.DEV_BUCKETS} == 0", "metrics": metrics}
    directory = tagger.save(out_dir / ASPECT_TERMS / version, config)
    saved = json.loads((directory / "config.json").read_text())
    lines = [f"# {NAME} version {version}", "",
             f"B/I/O logistic regression over each word's token state (first sub-token) and its neighbours', from the "
             f"shared encoder pass ({encoder.version_}); the sentence's aspect is its most confident term.",
             f"Trained {config['trained_at']} by `unmet train`; weights `head.safetensors` (sha256 "
             f"`{saved['sha256']['head.safetensors']}`, checked at load), no pickle.", "",
             f"Training data: {len(train.texts)} train sentences of SemEval 2014 (laptops, restaurants), SemEval "
             f"2015–16 restaurants and ACOS (laptops, restaurants), and the need sentences of voc_needs with their "
             f"named aspect located in the sentence (an implied aspect: no term); {terms.license}.", "",
             f"## Metrics ({len(dev.texts)} dev sentences, never trained on)", "",
             "A sentence's aspect counts as right when its head word (lemmatized as a noun) is the head word of an "
             "annotated term; precision over sentences given an aspect, recall over sentences with a term.", "",
             "| method | precision | recall | F1 | 95 % CI |", "|---|---|---|---|---|"]
    for method, m in metrics.items():
        interval = "–".join(f"{v:.3f}" for v in m["f1_ci95"]) if "f1_ci95" in m else ""
        lines.append(f"| {method} | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} | {interval} |")
    (directory / "MODEL_CARD.md").write_text("\n".join(lines) + "\n")
    return {"path": str(directory), "rows": config["training_rows"], "metrics": metrics}


def train_implied_aspects(data_dir: Path, version: str, out_dir: Path, limit: int | None = None) -> dict:
    """Keep the voc_needs train need sentences whose aspect is implied, with their aspect; score the neighbour vote
    on the dev ones (the predicted aspect shares a word with the annotated one). Words only: no encoder."""
    from models.implied_aspects import NAME, ImpliedAspects, shares_a_word

    rows = [r for r in datasets.voc_sentences(data_dir) if r.need_kind != "none" and r.aspect and not r.aspect_named]
    train, dev = [r for r in rows if r.split == "train"][:limit], [r for r in rows if r.split == "dev"][:limit]
    model = ImpliedAspects().fit([r.sentence for r in train], [r.aspect for r in train])
    predicted = model.predict([r.sentence for r in dev])
    hits = np.array([shares_a_word(p, r.aspect) for p, r in zip(predicted, dev, strict=True)], dtype=float)
    rng = np.random.default_rng(0)
    draws = [hits[rng.integers(0, len(hits), len(hits))].mean() for _ in range(1000)] if len(hits) else [np.nan]
    metric = {"metric": "match", "value": float(hits.mean()) if len(hits) else float("nan"),
              "ci95": [float(np.percentile(draws, 2.5)), float(np.percentile(draws, 97.5))], "n": len(hits)}
    config = {"name": NAME, "version": version, "encoder": None, "trained_at": datetime.now(UTC).date().isoformat(),
              "training_rows": {"voc_needs (need sentences, aspect implied)": {"rows": len(train),
                                                                              "license": datasets.VOC_NEEDS_LICENSE}},
              "dev_rule": "voc_needs split", "metrics": {"implied aspect shares a word with the annotated one": metric}}
    directory = model.save(out_dir / IMPLIED_ASPECTS / version, config)
    saved = json.loads((directory / "config.json").read_text())
    (directory / "MODEL_CARD.md").write_text("\n".join([
        f"# {NAME} version {version}", "",
        f"The aspect of a need sentence that names none: a similarity-weighted vote of its {model.k} nearest voc_needs "
        f"train sentences whose aspect is implied ({len(train)} sentences, {len(model.aspects_)} distinct aspects), "
        f"by TF-IDF cosine over their words ({len(model.terms_)} terms). Stored as sparse vectors in "
        f"`neighbours.safetensors` (sha256 `{saved['sha256']['neighbours.safetensors']}`, checked at load), no pickle.",
        "", f"Dev ({metric['n']} voc_needs dev need sentences with an implied aspect): the predicted aspect shares a "
        f"word with the annotated one for {metric['value']:.3f} (95 % CI {metric['ci95'][0]:.3f}–"
        f"{metric['ci95'][1]:.3f}). Most implied aspects are a long tail that the sentence alone rarely names.", "",
        f"Training data: {datasets.VOC_NEEDS_LICENSE}.", ""]))
    return {"path": str(directory), "rows": config["training_rows"], "metrics": config["metrics"]}


def _distil_static(encoder: str | None, adapter, out_dir: Path, version: str, overwrite: bool,
                   dims: int = 256) -> Path:
    from models.static_encoder import fit_projection, save_projection, token_outputs

    directory = out_dir / "static" / version
    if (directory / "config.json").exists() and not overwrite:
        raise AlreadyExistsError(f"{directory} exists; choose a new --version")
    base = SentenceEncoder(encoder, adapter=adapter, backend="torch")
    outputs = token_outputs(base.pooled_, base.tokenizer_, base.device)
    log.info("static projection: %d token vectors → %d dimensions", len(outputs), dims)
    return save_projection(fit_projection(outputs, dims), directory, base.version_, version)


def _evaluate(encoder: SentenceEncoder, heads: dict, data_dir: Path, n_boot: int, limit: int | None) -> list:
    """Dev-row benchmarks of the fitted heads (a random ``limit`` rows per set for quick runs)."""
    from models.evaluation import Evaluator
    from models.segment import Segmenter

    class _Fitted:
        """The freshly fitted heads on the encoder in memory, shaped like an Analyzer for the evaluator."""

        def __init__(self):
            self.heads, self.segmenter = heads, Segmenter()

        def label_texts(self, texts):
            return apply_heads(heads, encoder.encode(texts), texts)

    return Evaluator(_Fitted(), data_dir, n_boot=n_boot, limit=limit).run()
