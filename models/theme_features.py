"""What themes are clustered on: the sentence embedding joined with a small latent-semantic (LSA) view of
its words.

The shared encoder is tuned for sentiment and needs, so on its own it groups "worst airline ever" with
"worst service ever" by tone rather than topic. Adding the words back (TF-IDF → 64 SVD components, weight
1.5) doubled the agreement of airline themes with the true complaint reasons (AMI 0.067 → 0.122, see
models/README.md) without a second transformer pass. The state is a vocabulary, idf weights and a
projection matrix: plain arrays, stored without pickle.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import CountVectorizer

from models.theme_words import non_content_words

TOKENS = r"(?u)\b[^\W\d_]{2,}\b"


def normalize(X: np.ndarray) -> np.ndarray:
    X = np.asarray(X, dtype=np.float32)
    return X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)


class HybridFeatures(BaseEstimator):
    def __init__(self, max_terms: int = 2000, n_components: int = 64, lexical_weight: float = 1.5,
                 random_state: int = 0):
        self.max_terms = max_terms
        self.n_components = n_components
        self.lexical_weight = lexical_weight
        self.random_state = random_state

    def fit(self, embeddings: np.ndarray, texts: list[str]) -> HybridFeatures:
        """Texts are tokenized once; idf is sklearn's smooth idf, so ``transform`` weighs words the same way."""
        try:
            vectorizer = CountVectorizer(stop_words=non_content_words(), max_features=self.max_terms,
                                         token_pattern=TOKENS)
            counts = vectorizer.fit_transform(texts)
            self.terms_ = vectorizer.get_feature_names_out().tolist()
        except ValueError:  # no words left after stop words: embeddings alone
            counts, self.terms_ = None, []
        n = min(self.n_components, len(self.terms_) - 1, len(texts) - 1)
        if n < 1:
            self.idf_ = np.zeros(len(self.terms_), dtype=np.float32)
            self.components_ = np.zeros((0, len(self.terms_)), dtype=np.float32)
            return self
        document_frequency = np.asarray((counts > 0).sum(axis=0)).ravel()
        self.idf_ = (np.log((1 + len(texts)) / (1 + document_frequency)) + 1).astype(np.float32)
        svd = TruncatedSVD(n_components=n, random_state=self.random_state).fit(self._weigh(counts))
        self.components_ = svd.components_.astype(np.float32)
        return self

    def transform(self, embeddings: np.ndarray, texts: list[str]) -> np.ndarray:
        dense = normalize(embeddings)
        if len(self.components_) == 0:
            return dense
        lexical = normalize(np.asarray(self._tfidf(texts) @ self.components_.T))
        return np.hstack([dense, self.lexical_weight * lexical])

    def _tfidf(self, texts: list[str]) -> sparse.csr_matrix:
        return self._weigh(CountVectorizer(vocabulary=self.terms_, token_pattern=TOKENS).transform(texts))

    def _weigh(self, counts: sparse.csr_matrix) -> sparse.csr_matrix:
        """Sublinear tf × idf, rows scaled to unit length (TfidfVectorizer(sublinear_tf=True) by hand)."""
        counts = counts.astype(np.float32)
        counts.data = 1.0 + np.log(counts.data)
        weighted = counts.multiply(self.idf_[None, :]).tocsr()
        norms = np.sqrt(np.asarray(weighted.multiply(weighted).sum(axis=1))).ravel()
        return sparse.diags(1.0 / np.maximum(norms, 1e-12)) @ weighted

    def state_(self) -> dict:
        return {"terms": self.terms_, "idf": self.idf_.tolist(), "components": self.components_.ravel().tolist(),
                "n_components": len(self.components_), "lexical_weight": self.lexical_weight}

    @classmethod
    def from_state(cls, state: dict) -> HybridFeatures:
        features = cls(n_components=state["n_components"], lexical_weight=state["lexical_weight"])
        features.terms_ = list(state["terms"])
        features.idf_ = np.asarray(state["idf"], dtype=np.float32)
        features.components_ = np.asarray(state["components"], dtype=np.float32).reshape(
            state["n_components"], len(features.terms_))
        return features
