"""``unmet.implied_aspects.v1``: the aspect a need is about when no word of the sentence names it.

"Too heavy to hold" is about weight, "took three weeks to arrive" about delivery, "way too expensive" about
price. The aspects such sentences imply are a long tail (444 distinct ones among voc_needs' 775), so a fixed
set of classes would cover few of them; instead the need sentences of voc_needs whose aspect is implied are kept
as TF-IDF word vectors with their aspect, and a new sentence takes the aspect its nearest neighbours agree on
most, weighted by cosine similarity. Words, not the shared embedding: the tuned encoder places sentences by need
and sentiment, so its neighbours of "Too heavy to hold" were complaints about anything (voc_needs dev: the
implied aspect shares a word with the annotated one for 0.20 of sentences by words, 0.14 by the embedding).
The artifact is the vocabulary, the idf weights and the neighbours' sparse vectors: plain arrays, no pickle.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file, save_file
from scipy import sparse
from sklearn.base import BaseEstimator
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

from models.errors import NotFoundError
from models.integrity import IntegrityError, sha256_file

NAME = "unmet.implied_aspects.v1"
WEIGHTS_FILE = "neighbours.safetensors"
CONFIG_FILE = "config.json"
TOKENS = r"(?u)\b\w\w+\b"


class ImpliedAspects(BaseEstimator):
    """Similarity-weighted vote of the ``k`` nearest labelled need sentences by their words; a neighbour less
    similar than ``min_similarity`` does not vote (a sentence sharing no word with any labelled one gets no aspect
    rather than a guess)."""

    def __init__(self, k: int = 3, min_similarity: float = 0.15):
        self.k = k
        self.min_similarity = min_similarity

    def fit(self, texts: list[str], aspects: list[str]) -> ImpliedAspects:
        if len(texts) != len(aspects) or not aspects:
            raise ValueError(f"{len(texts)} texts for {len(aspects)} aspects: one aspect per text, at least one")
        vectorizer = CountVectorizer(stop_words=sorted(ENGLISH_STOP_WORDS), token_pattern=TOKENS)
        counts = vectorizer.fit_transform(texts)
        self.terms_ = vectorizer.get_feature_names_out().tolist()
        document_frequency = np.asarray((counts > 0).sum(axis=0)).ravel()
        self.idf_ = (np.log((1 + len(texts)) / (1 + document_frequency)) + 1).astype(np.float32)
        self.neighbours_ = self._weigh(counts)
        self.aspects_ = sorted(set(aspects))
        index = {a: i for i, a in enumerate(self.aspects_)}
        self.labels_ = np.array([index[a] for a in aspects], dtype=np.int32)
        return self

    def predict(self, texts: list[str]) -> list[str | None]:
        if not texts:
            return []
        counts = CountVectorizer(vocabulary=self.terms_, token_pattern=TOKENS).transform(texts)
        similarity = (self._weigh(counts) @ self.neighbours_.T).toarray()
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

    def _weigh(self, counts) -> sparse.csr_matrix:
        """Sublinear tf × idf, rows scaled to unit length."""
        counts = sparse.csr_matrix(counts, dtype=np.float32)
        counts.data = 1.0 + np.log(counts.data)
        weighted = counts.multiply(self.idf_[None, :]).tocsr()
        norms = np.sqrt(np.asarray(weighted.multiply(weighted).sum(axis=1))).ravel()
        return (sparse.diags(1.0 / np.maximum(norms, 1e-12)) @ weighted).tocsr().astype(np.float32)

    def save(self, directory: str | Path, metadata: dict) -> Path:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        matrix = self.neighbours_
        save_file({"idf": self.idf_, "labels": self.labels_, "data": matrix.data.astype(np.float32),
                   "indices": matrix.indices.astype(np.int32), "indptr": matrix.indptr.astype(np.int64)},
                  str(directory / WEIGHTS_FILE))
        config = {**metadata, "estimator": "ImpliedAspects", "params": self.get_params(), "aspects": self.aspects_,
                  "terms": self.terms_, "sha256": {WEIGHTS_FILE: sha256_file(directory / WEIGHTS_FILE)},
                  "saved_at": datetime.now(UTC).isoformat(timespec="seconds")}
        (directory / CONFIG_FILE).write_text(json.dumps(config, indent=1) + "\n")
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> tuple[ImpliedAspects, dict]:
        directory = Path(directory)
        if not (directory / CONFIG_FILE).is_file():
            raise NotFoundError(f"no implied-aspect model at {directory} (missing {CONFIG_FILE}); "
                                    "run `unmet train`")
        config = json.loads((directory / CONFIG_FILE).read_text())
        expected, actual = config["sha256"][WEIGHTS_FILE], sha256_file(directory / WEIGHTS_FILE)
        if expected != actual:
            raise IntegrityError(f"{directory / WEIGHTS_FILE}: sha256 {actual[:12]}… does not match its config "
                                 f"({expected[:12]}…); the artifact was modified")
        model = cls(**config["params"])
        weights = load_file(str(directory / WEIGHTS_FILE))
        model.idf_, model.labels_ = weights["idf"], weights["labels"]
        model.terms_, model.aspects_ = list(config["terms"]), list(config["aspects"])
        model.neighbours_ = sparse.csr_matrix((weights["data"], weights["indices"], weights["indptr"]),
                                              shape=(len(model.labels_), len(model.terms_)))
        return model, config


def shares_a_word(predicted: str | None, gold: str) -> bool:
    """The aspect match of ``unmet eval``: the predicted aspect shares a word (singular-insensitive) with the gold."""
    from models.aspect_terms import plural_stripped

    def words(text: str) -> set[str]:
        return {plural_stripped(w) for w in text.lower().replace("-", " ").split() if len(w) > 1}

    return bool(predicted) and bool(words(predicted) & words(gold))
