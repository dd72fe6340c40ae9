"""Theme model: a pipeline of swappable stages (reduce → cluster → represent) over precomputed
sentence embeddings, scikit-learn style. Seeded, so the same mentions give the same themes."""

from __future__ import annotations

from collections import Counter

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer


class AutoKMeans(ClusterMixin, BaseEstimator):
    """K-means whose k grows with the square root of the data (k = sqrt(n / 4), clipped)."""

    def __init__(self, min_clusters: int = 2, max_clusters: int = 40, random_state: int = 0):
        self.min_clusters = min_clusters
        self.max_clusters = max_clusters
        self.random_state = random_state

    def fit(self, X, y=None) -> AutoKMeans:
        k = int(np.clip(round(np.sqrt(len(X) / 4)), self.min_clusters, self.max_clusters))
        k = max(1, min(k, len(X)))
        self.kmeans_ = KMeans(n_clusters=k, n_init=4, random_state=self.random_state).fit(X)
        self.labels_ = self.kmeans_.labels_
        self.cluster_centers_ = self.kmeans_.cluster_centers_
        return self

    def predict(self, X) -> np.ndarray:
        return self.kmeans_.predict(X)


class AdaptivePCA(TransformerMixin, BaseEstimator):
    """PCA that never asks for more components than the data can give."""

    def __init__(self, n_components: int = 32, random_state: int = 0):
        self.n_components = n_components
        self.random_state = random_state

    def fit(self, X, y=None) -> AdaptivePCA:
        n = max(1, min(self.n_components, X.shape[0] - 1, X.shape[1]))
        self.pca_ = PCA(n_components=n, random_state=self.random_state).fit(X)
        return self

    def transform(self, X) -> np.ndarray:
        return self.pca_.transform(X)


# Placeholders left by social-post cleaning carry no meaning for a theme label.
STOP_WORDS = sorted(ENGLISH_STOP_WORDS | {"user", "http", "amp"})


class ClassTfidfRepresenter(BaseEstimator):
    """Distinctive terms per theme (class-based TF-IDF) and a short label from the commonest aspect."""

    def __init__(self, n_terms: int = 8, min_aspect_share: float = 0.15):
        self.n_terms = n_terms
        self.min_aspect_share = min_aspect_share

    def fit(self, texts: list[str], labels: np.ndarray, aspects: list[str | None]) -> ClassTfidfRepresenter:
        themes = np.unique(labels)
        joined = [" ".join(t for t, lab in zip(texts, labels, strict=True) if lab == theme) for theme in themes]
        vectorizer = CountVectorizer(stop_words=STOP_WORDS, ngram_range=(1, 2), token_pattern=r"(?u)\b[^\W\d_]{2,}\b")
        try:
            counts = vectorizer.fit_transform(joined).toarray().astype(float)
        except ValueError:  # only stop words in the corpus
            counts = np.zeros((len(themes), 0))
        vocabulary = vectorizer.get_feature_names_out() if counts.shape[1] else np.array([])
        tf = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
        idf = np.log(1 + counts.sum(axis=1).mean() / np.maximum(counts.sum(axis=0), 1))
        scores = tf * idf
        self.terms_, self.labels_ = {}, {}
        for row, theme in enumerate(themes):
            top = [vocabulary[i] for i in np.argsort(-scores[row])[: self.n_terms] if scores[row, i] > 0]
            self.terms_[int(theme)] = top
            members = [a for a, lab in zip(aspects, labels, strict=True) if lab == theme and a]
            common = Counter(members).most_common(1)
            size = int((labels == theme).sum())
            if common and common[0][1] / size >= self.min_aspect_share:
                self.labels_[int(theme)] = common[0][0]
            else:
                self.labels_[int(theme)] = " / ".join(top[:2]) if top else f"theme {int(theme)}"
        return self


class ThemeModel(BaseEstimator):
    """Groups need mentions into themes. Stages are injected; defaults need no tuning."""

    def __init__(self, reducer=None, clusterer=None, representer=None, n_representatives: int = 3,
                 random_state: int = 0):
        self.reducer = reducer
        self.clusterer = clusterer
        self.representer = representer
        self.n_representatives = n_representatives
        self.random_state = random_state

    def fit(self, embeddings: np.ndarray, texts: list[str], aspects: list[str | None] | None = None) -> ThemeModel:
        if len(texts) == 0:
            raise ValueError("no need mentions to group into themes")
        aspects = aspects or [None] * len(texts)
        self.reducer_ = self.reducer or AdaptivePCA(random_state=self.random_state)
        self.clusterer_ = self.clusterer or AutoKMeans(random_state=self.random_state)
        self.representer_ = self.representer or ClassTfidfRepresenter()
        reduced = self.reducer_.fit_transform(embeddings) if len(texts) > 2 else embeddings
        raw = np.asarray(self.clusterer_.fit(reduced).labels_)
        # Stable, meaningful ids: theme 0 is the largest, ties broken by first member.
        order = sorted(np.unique(raw), key=lambda c: (-(raw == c).sum(), np.argmax(raw == c)))
        remap = {c: i for i, c in enumerate(order)}
        self.labels_ = np.array([remap[c] for c in raw])
        self.representer_.fit(texts, self.labels_, aspects)
        self.themes_ = []
        for theme in range(len(order)):
            members = np.flatnonzero(self.labels_ == theme)
            centroid = embeddings[members].mean(axis=0)
            closest = members[np.argsort(-(embeddings[members] @ centroid))[: self.n_representatives]]
            self.themes_.append({"theme_id": theme, "label": self.representer_.labels_[theme],
                                 "top_terms": self.representer_.terms_[theme], "size": len(members),
                                 "representatives": closest.tolist()})
        return self
