"""Classification heads over the shared sentence embedding (scikit-learn estimators, pickle-free artifacts).

A head is multinomial logistic regression: cheap, calibrated enough to report probabilities, and its
weights are one matrix that fits in a small safetensors file.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file, save_file
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression

from models.errors import ConfigError, NotFoundError
from models.integrity import IntegrityError, sha256_file

WEIGHTS_FILE = "head.safetensors"
CONFIG_FILE = "config.json"


class LinearHead(ClassifierMixin, BaseEstimator):
    """Softmax classifier; ``features`` names the blocks (see ``models.features``) it expects."""

    def __init__(self, features: tuple[str, ...] = ("embedding",), C: float = 1.0,
                 class_weight: str | dict | None = "balanced", max_iter: int = 2000):
        self.features = features
        self.C = C
        self.class_weight = class_weight
        self.max_iter = max_iter

    def fit(self, X: np.ndarray, y, sample_weight=None) -> LinearHead:
        class_weight = self.class_weight
        if class_weight == "sqrt":  # halfway between the natural mix and "balanced" (in log space)
            labels, counts = np.unique(np.asarray(y), return_counts=True)
            class_weight = {label: float(np.sqrt(len(y) / (len(labels) * n))) for label, n in zip(labels, counts,
                                                                                                 strict=True)}
        model = LogisticRegression(C=self.C, class_weight=class_weight, max_iter=self.max_iter)
        model.fit(X, y, sample_weight=sample_weight)
        self.classes_ = model.classes_
        coef, intercept = model.coef_, model.intercept_
        if len(self.classes_) == 2:  # sklearn stores one row for binary problems; keep the softmax form
            coef = np.vstack([-coef[0] / 2, coef[0] / 2])
            intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
        self.coef_ = np.ascontiguousarray(coef, dtype=np.float32)  # safetensors writes raw C-order bytes
        self.intercept_ = np.ascontiguousarray(intercept, dtype=np.float32)
        self.n_features_in_ = X.shape[1]
        return self

    def predict_proba(self, X: np.ndarray, blas: bool = True) -> np.ndarray:
        """Class probabilities. ``blas=False`` keeps the product off the BLAS thread pool: called between encoder
        batches, a multi-threaded BLAS call leaves threads spinning that slowed the encoder's next batches by
        1.4× on 2 cores (measured), while the product itself is a few hundred rows by a few classes."""
        if X.shape[1] != self.n_features_in_:
            raise ConfigError(f"head expects {self.n_features_in_} features, got {X.shape[1]}: "
                             "was it trained with another encoder?")
        logits = (X @ self.coef_.T if blas else np.einsum("ij,kj->ik", X, self.coef_)) + self.intercept_
        logits -= logits.max(axis=1, keepdims=True)
        probs = np.exp(logits)
        return probs / probs.sum(axis=1, keepdims=True)

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]

    def save(self, directory: str | Path, metadata: dict) -> Path:
        """Write weights + config (with the weights' checksum); ``metadata`` names version, encoder, data."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        save_file({"coef": self.coef_, "intercept": self.intercept_}, str(directory / WEIGHTS_FILE))
        config = {
            **metadata,
            "estimator": "LinearHead",
            "params": self.get_params(),
            "classes": [str(c) for c in self.classes_],
            "n_features": int(self.n_features_in_),
            "sha256": {WEIGHTS_FILE: sha256_file(directory / WEIGHTS_FILE)},
            "saved_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        config["params"]["features"] = list(self.features)
        (directory / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n")
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> tuple[LinearHead, dict]:
        directory = Path(directory)
        config_path = directory / CONFIG_FILE
        if not config_path.is_file():
            raise NotFoundError(f"no head at {directory} (missing {CONFIG_FILE}); run `unmet train`")
        config = json.loads(config_path.read_text())
        expected = config.get("sha256", {}).get(WEIGHTS_FILE)
        actual = sha256_file(directory / WEIGHTS_FILE)
        if expected != actual:
            raise IntegrityError(f"{directory / WEIGHTS_FILE}: sha256 {actual[:12]}… does not match the "
                                 f"model card ({str(expected)[:12]}…); the artifact was modified")
        params = dict(config["params"])
        params["features"] = tuple(params["features"])
        head = cls(**params)
        weights = load_file(str(directory / WEIGHTS_FILE))
        head.coef_, head.intercept_ = weights["coef"], weights["intercept"]
        head.classes_ = np.array(config["classes"])
        head.n_features_in_ = config["n_features"]
        return head, config
