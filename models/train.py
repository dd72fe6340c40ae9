"""Rebuild the default heads from the public data: encode once, fit each head, score on a held-out split,
write pickle-free artifacts with a model card."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from sklearn.metrics import classification_report, confusion_matrix
from sklearn.model_selection import train_test_split

from models import ARTIFACTS_DIR
from models.datasets import LICENSES, NEED_SOURCES, SENTIMENT_SOURCES
from models.encoder import SentenceEncoder
from models.features import build_features
from models.heads import LinearHead

log = logging.getLogger(__name__)

HEADS = {
    "sentiment": {"name": "unmet.sentiment.v1", "sources": SENTIMENT_SOURCES, "features": ("embedding", "lexicon"),
                  "labels": ("negative", "neutral", "positive")},
    "needs": {"name": "unmet.needs.v1", "sources": NEED_SOURCES, "features": ("embedding",),
              "labels": ("explicit", "implicit", "none")},
}


def load_training_data(task: str, data_dir: Path, limit: int | None = None):
    texts, labels, origins = [], [], []
    for source, reader in HEADS[task]["sources"].items():
        t, y = reader(data_dir)
        if limit:
            t, y = t[:limit], y[:limit]
        texts += t
        labels += y
        origins += [source] * len(t)
    return texts, np.array(labels), np.array(origins)


def _model_card(task: str, config: dict, report: dict, matrix: np.ndarray) -> str:
    spec = HEADS[task]
    lines = [
        f"# {spec['name']} version {config['version']}", "",
        f"Multinomial logistic regression over the shared sentence embedding ({config['encoder']})"
        + (" plus VADER lexicon scores" if "lexicon" in spec["features"] else "") + ".",
        f"Trained {config['trained_at']} by `unmet train`; weights `head.safetensors` "
        f"(sha256 `{config['sha256']['head.safetensors']}`), no pickle.", "",
        "## Training data", "", "| source | rows (train) | license |", "|---|---|---|",
    ]
    for source, rows in config["training_rows"].items():
        lines.append(f"| {source} | {rows} | {LICENSES.get(source, 'see SOURCE.md')} |")
    lines += ["", "The artifact inherits the most restrictive of these terms (non-commercial where CC BY-NC-SA).",
              "", f"## Metrics (held-out {int(config['dev_fraction'] * 100)} % of the pooled data, seed "
              f"{config['seed']}; never trained on)", "", "| class | precision | recall | F1 | support |",
              "|---|---|---|---|---|"]
    for label in spec["labels"]:
        if label in report:
            r = report[label]
            lines.append(f"| {label} | {r['precision']:.3f} | {r['recall']:.3f} | {r['f1-score']:.3f} | "
                         f"{int(r['support'])} |")
    lines += [f"| macro | {report['macro avg']['precision']:.3f} | {report['macro avg']['recall']:.3f} | "
              f"{report['macro avg']['f1-score']:.3f} | {int(report['macro avg']['support'])} |",
              "", f"Accuracy {report['accuracy']:.3f}. Confusion matrix (rows true, columns predicted, "
              f"order {', '.join(spec['labels'])}): `{matrix.tolist()}`.", "",
              "Per-source dev macro-F1: "
              + ", ".join(f"{k} {v:.3f}" for k, v in config["dev_macro_f1_by_source"].items()) + ".", "",
              "Benchmarks against the targets of the model-quality issue come from `unmet eval`.", ""]
    return "\n".join(lines)


def train_heads(data_dir: Path, version: str, out_dir: Path = ARTIFACTS_DIR, encoder: str | None = None,
                tasks: tuple[str, ...] = ("sentiment", "needs"), dev_fraction: float = 0.2, seed: int = 0,
                limit: int | None = None, overwrite: bool = False) -> dict:
    """Train the heads; return per-task metrics. Refuses to overwrite an existing version."""
    data_dir, out_dir = Path(data_dir), Path(out_dir)
    for task in tasks:
        if (out_dir / task / version / "config.json").exists() and not overwrite:
            raise FileExistsError(f"{out_dir / task / version} exists; choose a new --version")
    model = SentenceEncoder(encoder)
    data = {task: load_training_data(task, data_dir, limit) for task in tasks}
    unique = sorted({t for texts, _, _ in data.values() for t in texts})
    log.info("encoding %d unique training texts", len(unique))
    vectors = model.encode(unique)
    row_of = {t: i for i, t in enumerate(unique)}
    results = {}
    for task in tasks:
        texts, labels, origins = data[task]
        spec = HEADS[task]
        features = build_features(list(spec["features"]), vectors[[row_of[t] for t in texts]], texts)
        strata = np.char.add(origins.astype(str), labels.astype(str))
        train_idx, dev_idx = train_test_split(np.arange(len(texts)), test_size=dev_fraction, random_state=seed,
                                              stratify=strata)
        head = LinearHead(features=spec["features"]).fit(features[train_idx], labels[train_idx])
        predicted = head.predict(features[dev_idx])
        report = classification_report(labels[dev_idx], predicted, output_dict=True, zero_division=0)
        matrix = confusion_matrix(labels[dev_idx], predicted, labels=list(spec["labels"]))
        by_source = {}
        for source in sorted(set(origins)):
            mask = origins[dev_idx] == source
            by_source[source] = classification_report(labels[dev_idx][mask], predicted[mask], output_dict=True,
                                                      zero_division=0)["macro avg"]["f1-score"]
        train_rows = {s: int((origins[train_idx] == s).sum()) for s in spec["sources"]}
        directory = out_dir / task / version
        head.save(directory, {
            "name": spec["name"], "version": version, "encoder": model.version_,
            "trained_at": datetime.now(UTC).date().isoformat(), "seed": seed, "dev_fraction": dev_fraction,
            "training_rows": train_rows, "dev_macro_f1": report["macro avg"]["f1-score"],
            "dev_macro_f1_by_source": by_source, "dev_accuracy": report["accuracy"],
        })
        config = json.loads((directory / "config.json").read_text())
        (directory / "MODEL_CARD.md").write_text(_model_card(task, config, report, matrix))
        results[task] = {"macro_f1": report["macro avg"]["f1-score"], "accuracy": report["accuracy"],
                         "by_source": by_source, "path": str(directory)}
    return results
