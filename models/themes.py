"""Theme model: swappable stages (featurize → reduce → cluster → represent), scikit-learn style.

Built for nightly use: ``fit`` once, then ``partial_fit`` assigns new mentions to existing themes (ids kept)
and turns coherent groups of misfits into new, *emerging* themes. Mentions that fit no theme go to an
outlier bucket (id -1) that is counted and reported. The fitted state is plain arrays and lists
(``state_`` / ``from_state``), so it is stored in DuckDB without pickle.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin
from sklearn.cluster import AgglomerativeClustering, KMeans, MiniBatchKMeans
from sklearn.decomposition import PCA

from models.theme_features import HybridFeatures, normalize
from models.theme_labels import ClassTfidfRepresenter

OUTLIER = -1


class AutoKMeans(ClusterMixin, BaseEstimator):
    """K-means with k = sqrt(n / 2) clipped to [min, max]; mini-batches beyond ``minibatch_above`` rows."""

    def __init__(self, min_clusters: int = 2, max_clusters: int = 40, minibatch_above: int = 50_000,
                 random_state: int = 0):
        self.min_clusters = min_clusters
        self.max_clusters = max_clusters
        self.minibatch_above = minibatch_above
        self.random_state = random_state

    def fit(self, X, y=None) -> AutoKMeans:
        k = int(np.clip(round(np.sqrt(len(X) / 2)), self.min_clusters, self.max_clusters))
        k = max(1, min(k, len(X)))
        if len(X) > self.minibatch_above:
            self.kmeans_ = MiniBatchKMeans(n_clusters=k, n_init=3, batch_size=4096, random_state=self.random_state)
        else:
            self.kmeans_ = KMeans(n_clusters=k, n_init=4, random_state=self.random_state)
        self.labels_ = self.kmeans_.fit(X).labels_
        return self


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


class ThemeModel(BaseEstimator):
    """Groups need mentions into themes with stable ids, an outlier bucket and parent themes.

    - ``outlier_quantile``: at fit time, mentions less similar to their centroid than this quantile of all
      member similarities become outliers; the similarity found is kept as ``min_similarity_`` and used for
      every later assignment.
    - ``emerging_min_size`` / ``emerging_min_share``: a new theme in ``partial_fit`` needs at least this many
      misfits and this share of all mentions, and must be as tight as the loosest fitted theme, so a
      nightly run does not spawn a theme from every handful of odd sentences.
    - ``max_fit_rows``: clustering runs on a seeded sample of at most this many rows; the rest are assigned,
      so memory and time stay bounded on millions of mentions.
    """

    def __init__(self, featurizer=None, reducer=None, clusterer=None, representer=None, outlier_quantile: float = 0.05,
                 emerging_min_size: int = 10, emerging_min_share: float = 0.005, n_parents: int | None = None,
                 n_representatives: int = 5,
                 max_fit_rows: int = 200_000, random_state: int = 0):
        self.featurizer = featurizer
        self.reducer = reducer
        self.clusterer = clusterer
        self.representer = representer
        self.outlier_quantile = outlier_quantile
        self.emerging_min_size = emerging_min_size
        self.emerging_min_share = emerging_min_share
        self.n_parents = n_parents
        self.n_representatives = n_representatives
        self.max_fit_rows = max_fit_rows
        self.random_state = random_state

    # -- fitting -----------------------------------------------------------------------------------------
    def fit(self, embeddings: np.ndarray, texts: list[str], aspects: list[str | None] | None = None,
            first_id: int = 0) -> ThemeModel:
        """Cluster from scratch. Ids start at ``first_id`` (largest theme first) so a refit never reuses ids."""
        if len(texts) == 0:
            raise ValueError("no need mentions to group into themes")
        self.featurizer_ = self.featurizer or HybridFeatures(random_state=self.random_state)
        X = normalize(self.featurizer_.fit(embeddings, texts).transform(embeddings, texts))
        raw = self._cluster(X)
        order = sorted(np.unique(raw), key=lambda c: (-(raw == c).sum(), int(np.argmax(raw == c))))
        centroids = normalize(np.stack([X[raw == c].mean(axis=0) for c in order]))
        self.theme_ids_ = np.arange(first_id, first_id + len(order))
        self.centroids_ = centroids
        self.emerging_ = np.zeros(len(order), dtype=bool)
        nearest, similarity = self._nearest(X)
        self.min_similarity_ = float(np.quantile(similarity, self.outlier_quantile)) if len(X) > 1 else -1.0
        self.labels_ = np.where(similarity >= self.min_similarity_, self.theme_ids_[nearest], OUTLIER)
        self.cohesion_floor_ = self._cohesion_floor(normalize(embeddings))
        self._fit_parents()
        self._describe(X, texts, aspects)
        return self

    def partial_fit(self, embeddings: np.ndarray, texts: list[str], aspects: list[str | None] | None = None,
                    known: np.ndarray | None = None) -> ThemeModel:
        """Assign mentions to the fitted themes; coherent groups among the misfits become emerging themes.

        ``known`` holds the theme id each mention already had (``None`` = new; -1 = an earlier outlier, which
        is looked at again); known assignments are kept, so a mention never changes theme between
        incremental runs.
        """
        X = normalize(self.featurizer_.transform(embeddings, texts))
        labels = self._assign(X)
        if known is not None:
            previous = np.array([OUTLIER if k is None else k for k in known], dtype=np.int64)
            labels = np.where(previous != OUTLIER, previous, labels)
        misfits = np.flatnonzero(labels == OUTLIER)
        min_size = max(self.emerging_min_size, int(np.ceil(self.emerging_min_share * len(labels))))
        if len(misfits) >= min_size:
            labels = self._add_emerging(X, normalize(embeddings), misfits, labels, min_size)
        self.labels_ = labels
        self._describe(X, texts, aspects)
        return self

    def assign(self, embeddings: np.ndarray, texts: list[str]) -> np.ndarray:
        """Theme id of each mention, or -1 when no theme is similar enough."""
        return self._assign(normalize(self.featurizer_.transform(embeddings, texts)))

    def _assign(self, X: np.ndarray) -> np.ndarray:
        nearest, similarity = self._nearest(X)
        return np.where(similarity >= self.min_similarity_, self.theme_ids_[nearest], OUTLIER).astype(np.int64)

    def renumber(self, renames: dict[int, int]) -> ThemeModel:
        """Give themes other ids (after a refit, to keep the ids of themes that continue old ones)."""
        def new(theme: int) -> int:
            return renames.get(int(theme), int(theme))

        self.theme_ids_ = np.array([new(t) for t in self.theme_ids_], dtype=np.int64)
        self.parents_ = np.array([new(t) for t in self.parents_], dtype=np.int64)
        self.labels_ = np.array([new(t) if t != OUTLIER else OUTLIER for t in self.labels_], dtype=np.int64)
        for theme in self.themes_:
            theme["theme_id"], theme["parent_id"] = new(theme["theme_id"]), new(theme["parent_id"])
        return self

    # -- persistence without pickle ------------------------------------------------------------------------
    def state_(self) -> dict:
        return {"theme_ids": self.theme_ids_.tolist(), "centroids": self.centroids_.tolist(),
                "emerging": self.emerging_.tolist(), "parents": self.parents_.tolist(),
                "min_similarity": self.min_similarity_, "cohesion_floor": self.cohesion_floor_,
                "featurizer": self.featurizer_.state_()}

    @classmethod
    def from_state(cls, state: dict, **params) -> ThemeModel:
        model = cls(**params)
        model.theme_ids_ = np.asarray(state["theme_ids"], dtype=np.int64)
        model.centroids_ = normalize(np.asarray(state["centroids"], dtype=np.float32))
        model.emerging_ = np.asarray(state["emerging"], dtype=bool)
        model.parents_ = np.asarray(state["parents"], dtype=np.int64)
        model.min_similarity_ = float(state["min_similarity"])
        model.cohesion_floor_ = float(state["cohesion_floor"])
        model.featurizer_ = HybridFeatures.from_state(state["featurizer"])
        return model

    # -- stages --------------------------------------------------------------------------------------------
    def _cluster(self, X: np.ndarray) -> np.ndarray:
        """Cluster labels for every row; beyond ``max_fit_rows`` a sample is clustered and the rest assigned."""
        rng = np.random.default_rng(self.random_state)
        sample = np.sort(rng.choice(len(X), self.max_fit_rows, replace=False)) if len(X) > self.max_fit_rows \
            else np.arange(len(X))
        self.reducer_ = self.reducer or AdaptivePCA(random_state=self.random_state)
        self.clusterer_ = self.clusterer or AutoKMeans(random_state=self.random_state)
        reduced = self.reducer_.fit_transform(X[sample]) if len(sample) > 2 else X[sample]
        sample_labels = np.asarray(self.clusterer_.fit(reduced).labels_)
        if len(sample) == len(X):
            return sample_labels
        clusters = np.unique(sample_labels)
        centroids = normalize(np.stack([X[sample][sample_labels == c].mean(axis=0) for c in clusters]))
        return clusters[np.argmax(X @ centroids.T, axis=1)]

    def _nearest(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        nearest = np.empty(len(X), dtype=np.int64)
        similarity = np.empty(len(X), dtype=np.float32)
        for start in range(0, len(X), 65_536):  # bounded memory on millions of mentions
            block = X[start:start + 65_536] @ self.centroids_.T
            nearest[start:start + len(block)] = block.argmax(axis=1)
            similarity[start:start + len(block)] = block.max(axis=1)
        return nearest, similarity

    def _cohesion_floor(self, E: np.ndarray) -> float:
        """How tight (in sentence-embedding space) a new theme must be: as tight as the loosest fitted one."""
        means = []
        for theme in self.theme_ids_:
            members = E[self.labels_ == theme]
            if len(members):
                means.append(float((members @ normalize(members.mean(axis=0, keepdims=True)).T).mean()))
        return min(means) if means else 0.0

    def _add_emerging(self, X: np.ndarray, E: np.ndarray, misfits: np.ndarray, labels: np.ndarray,
                      min_size: int) -> np.ndarray:
        """Misfits are grouped by sentence embedding alone: a new topic's words are not in the fitted
        vocabulary, so the word features would only add noise there."""
        pool = E[misfits]
        k = max(1, len(pool) // min_size)
        k = min(k, int(np.ceil(np.sqrt(len(pool)))))
        raw = KMeans(n_clusters=k, n_init=4, random_state=self.random_state).fit(pool).labels_
        next_id = int(self.theme_ids_.max()) + 1 if len(self.theme_ids_) else 0
        for cluster in sorted(np.unique(raw), key=lambda c: (-(raw == c).sum(), int(np.argmax(raw == c)))):
            members = raw == cluster
            if members.sum() < min_size:
                continue
            center = normalize(pool[members].mean(axis=0, keepdims=True))
            if (pool[members] @ center.T).mean() < self.cohesion_floor_:
                continue
            keep = misfits[members]
            centroid = normalize(X[keep].mean(axis=0, keepdims=True))
            labels[keep] = next_id
            self.theme_ids_ = np.append(self.theme_ids_, next_id)
            self.centroids_ = np.vstack([self.centroids_, centroid])
            self.emerging_ = np.append(self.emerging_, True)
            parent_similarity = centroid @ self.centroids_[:-1].T
            self.parents_ = np.append(self.parents_, self.parents_[int(parent_similarity.argmax())])
            next_id += 1
        return labels

    def _fit_parents(self) -> None:
        """Merge themes into about sqrt(k) parents (Ward linkage on unit centroids); parent id = its first theme id."""
        k = len(self.theme_ids_)
        n_parents = self.n_parents or int(np.clip(round(np.sqrt(k)), 1, 8))
        if k <= 2 or n_parents >= k:
            self.parents_ = self.theme_ids_.copy()
            return
        groups = AgglomerativeClustering(n_clusters=n_parents, linkage="ward").fit_predict(
            self.centroids_)
        first = {g: int(self.theme_ids_[np.flatnonzero(groups == g)[0]]) for g in np.unique(groups)}
        self.parents_ = np.array([first[g] for g in groups], dtype=np.int64)

    def _describe(self, X: np.ndarray, texts: list[str], aspects: list[str | None] | None) -> None:
        """Labels, terms and representative quotes for every theme that has members, and for each parent."""
        aspects = aspects or [None] * len(texts)
        self.representer_ = self.representer or ClassTfidfRepresenter()
        self.representer_.fit(texts, self.labels_, aspects)
        parent_of = dict(zip(self.theme_ids_.tolist(), self.parents_.tolist(), strict=True))
        parent_labels = np.array([parent_of.get(int(t), OUTLIER) for t in self.labels_])
        parent_names = ClassTfidfRepresenter(n_terms=4).fit(texts, parent_labels, aspects)
        self.themes_ = []
        for row, theme in enumerate(self.theme_ids_):
            members = np.flatnonzero(self.labels_ == theme)
            if len(members) == 0:
                continue
            similarity = X[members] @ self.centroids_[row]
            self.themes_.append({
                "theme_id": int(theme), "label": self.representer_.labels_[int(theme)],
                "top_terms": self.representer_.terms_[int(theme)], "size": len(members),
                "representatives": members[np.argsort(-similarity)[: self.n_representatives]].tolist(),
                "parent_id": int(self.parents_[row]), "parent_label": parent_names.labels_[int(self.parents_[row])],
                "emerging": bool(self.emerging_[row]), "cohesion": float(similarity.mean()),
            })
        outliers = np.flatnonzero(self.labels_ == OUTLIER)
        self.outliers_ = {"size": len(outliers), "share": len(outliers) / max(len(self.labels_), 1)}
