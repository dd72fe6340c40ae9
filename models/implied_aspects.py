"""``unmet.implied_aspects.v1``: the aspect a need is about when no word of the sentence names it.

"Too heavy to hold" is about weight, "took three weeks to arrive" about delivery, "way too expensive" about
price. The aspects such sentences imply are a long tail (444 distinct ones among voc_needs' 775), so a fixed
set of classes would cover few of them; instead the need sentences of voc_needs whose aspect is implied are kept
with their aspect, and a new sentence takes the aspect its nearest neighbours (cosine over the shared
embedding) agree on most, weighted by similarity. The artifact is those embeddings (fp16) and their aspects.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file, save_file
from sklearn.base import BaseEstimator

from models.integrity import IntegrityError, sha256_file

NAME = "unmet.implied_aspects.v1"
WEIGHTS_FILE = "neighbours.safetensors"
CONFIG_FILE = "config.json"


class ImpliedAspects(BaseEstimator):
    """Similarity-weighted vote of the ``k`` nearest labelled need sentences; ``min_similarity`` below which a
    neighbour does not vote (a sentence unlike every labelled one gets no aspect rather than a wrong one)."""

    def __init__(self, k: int = 7, min_similarity: float = 0.3):
        self.k = k
        self.min_similarity = min_similarity

    def fit(self, embeddings: np.ndarray, aspects: list[str]) -> ImpliedAspects:
        if len(embeddings) != len(aspects) or not len(aspects):
            raise ValueError(f"{len(embeddings)} embeddings for {len(aspects)} aspects: one aspect per row, "
                             "at least one row")
        self.aspects_ = sorted(set(aspects))
        index = {a: i for i, a in enumerate(self.aspects_)}
        self.labels_ = np.array([index[a] for a in aspects], dtype=np.int32)
        self.vectors_ = np.ascontiguousarray(_unit(np.asarray(embeddings, dtype=np.float32)).astype(np.float16))
        self.n_features_in_ = self.vectors_.shape[1]
        return self

    def predict(self, embeddings: np.ndarray) -> list[str | None]:
        if not len(embeddings):
            return []
        if embeddings.shape[1] != self.n_features_in_:
            raise ValueError(f"implied-aspect model expects {self.n_features_in_} features, got {embeddings.shape[1]}: "
                             "was it trained with another encoder?")
        similarity = _unit(np.asarray(embeddings, dtype=np.float32)) @ self.vectors_.astype(np.float32).T
        k = min(self.k, similarity.shape[1])
        nearest = np.argpartition(-similarity, k - 1, axis=1)[:, :k]
        out: list[str | None] = []
        for row, columns in enumerate(nearest):
            votes: dict[int, float] = defaultdict(float)
            for column in columns:
                if similarity[row, column] >= self.min_similarity:
                    votes[int(self.labels_[column])] += float(similarity[row, column])
            out.append(self.aspects_[max(votes, key=lambda a: (votes[a], -a))] if votes else None)
        return out

    def save(self, directory: str | Path, metadata: dict) -> Path:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        save_file({"vectors": self.vectors_, "labels": self.labels_}, str(directory / WEIGHTS_FILE))
        config = {**metadata, "estimator": "ImpliedAspects", "params": self.get_params(), "aspects": self.aspects_,
                  "n_features": int(self.n_features_in_),
                  "sha256": {WEIGHTS_FILE: sha256_file(directory / WEIGHTS_FILE)},
                  "saved_at": datetime.now(UTC).isoformat(timespec="seconds")}
        (directory / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n")
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> tuple[ImpliedAspects, dict]:
        directory = Path(directory)
        if not (directory / CONFIG_FILE).is_file():
            raise FileNotFoundError(f"no implied-aspect model at {directory} (missing {CONFIG_FILE}); "
                                    "run `unmet train`")
        config = json.loads((directory / CONFIG_FILE).read_text())
        expected, actual = config["sha256"][WEIGHTS_FILE], sha256_file(directory / WEIGHTS_FILE)
        if expected != actual:
            raise IntegrityError(f"{directory / WEIGHTS_FILE}: sha256 {actual[:12]}… does not match its config "
                                 f"({expected[:12]}…); the artifact was modified")
        model = cls(**config["params"])
        weights = load_file(str(directory / WEIGHTS_FILE))
        model.vectors_, model.labels_ = weights["vectors"], weights["labels"]
        model.aspects_, model.n_features_in_ = list(config["aspects"]), config["n_features"]
        return model, config


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def shares_a_word(predicted: str | None, gold: str) -> bool:
    """The aspect match of ``unmet eval``: the predicted aspect shares a word (singular-insensitive) with the gold."""
    from models.aspect_terms import plural_stripped

    def words(text: str) -> set[str]:
        return {plural_stripped(w) for w in text.lower().replace("-", " ").split() if len(w) > 1}

    return bool(predicted) and bool(words(predicted) & words(gold))
