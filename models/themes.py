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
    """PCA that never asks for more components than the data can give. 64 components: the 2.0.0 encoder, tuned for
    needs and sentiment, puts most of its variance on those axes, and with 32 k-means lumped 148 of the demo's 362
    complaints (setup, crashes, colour, battery, support) into one theme; with 64 the largest holds 43, while
    k-means agreement with CLAP clusters and airline reasons stays the same (AMI 0.289 vs 0.299, 0.168 vs 0.164)."""

    def __init__(self, n_components: int = 64, random_state: int = 0):
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
    - ``max_fit_rows``: features, clusters and thresholds are learnt from a seeded sample of at most this many
      rows (``learn``); ``label`` then assigns every row chunk by chunk, so memory stays bounded on millions
      of mentions streamed from the warehouse.
    """

    def __init__(self, featurizer=None, reducer=None, clusterer=None, representer=None, outlier_quantile: float = 0.05,
                 emerging_min_size: int = 10, emerging_min_share: float = 0.005, n_parents: int | None = None,
                 n_representatives: int = 5,
                 max_fit_rows: int = 100_000, random_state: int = 0):
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
        sample = self.fit_sample(len(texts))
        self.learn(embeddings[sample], [texts[i] for i in sample], first_id=first_id)
        return self.label([(embeddings, texts, aspects, None)])

    def partial_fit(self, embeddings: np.ndarray, texts: list[str], aspects: list[str | None] | None = None,
                    known: np.ndarray | None = None) -> ThemeModel:
        """Assign mentions to the fitted themes; coherent groups among the misfits become emerging themes.

        ``known`` holds the theme id each mention already had (``None`` = new; -1 = an earlier outlier, which
        is looked at again); known assignments are kept, so a mention never changes theme between
        incremental runs.
        """
        return self.label([(embeddings, texts, aspects, known)], emerging=True)

    def fit_sample(self, n_rows: int) -> np.ndarray:
        """Rows that ``learn`` sees: all of them, or a seeded sample of ``max_fit_rows`` (sorted)."""
        if n_rows <= self.max_fit_rows:
            return np.arange(n_rows)
        return np.sort(np.random.default_rng(self.random_state).choice(n_rows, self.max_fit_rows, replace=False))

    def learn(self, embeddings: np.ndarray, texts: list[str], first_id: int = 0) -> ThemeModel:
        """Features, themes, thresholds and parents from the sampled rows; ``label`` then assigns every row."""
        if len(texts) == 0:
            raise ValueError("no need mentions to group into themes")
        self.featurizer_ = self.featurizer or HybridFeatures(random_state=self.random_state)
        X = normalize(self.featurizer_.fit(embeddings, texts).transform(embeddings, texts))
        raw = self._cluster(X)
        order = sorted(np.unique(raw), key=lambda c: (-(raw == c).sum(), int(np.argmax(raw == c))))
        self.theme_ids_ = np.arange(first_id, first_id + len(order))
        self.centroids_ = normalize(np.stack([X[raw == c].mean(axis=0) for c in order]))
        self.emerging_ = np.zeros(len(order), dtype=bool)
        nearest, similarity = self._nearest(X)
        self.min_similarity_ = float(np.quantile(similarity, self.outlier_quantile)) if len(X) > 1 else -1.0
        labels = np.where(similarity >= self.min_similarity_, self.theme_ids_[nearest], OUTLIER)
        self.cohesion_floor_ = self._cohesion_floor(normalize(embeddings), labels)
        self._fit_parents()
        return self

    def label(self, chunks, emerging: bool = False) -> ThemeModel:
        """Assign and describe mentions given as ``(embeddings, texts, aspects, known)`` chunks, in order.

        Memory is one chunk plus the misfits (with ``emerging``) plus a bounded sample of texts per theme,
        so a million mentions can stream from the warehouse. ``known`` is as in ``partial_fit``.
        """
        summary = ThemeSummary(self.n_representatives, getattr(self.representer, "max_rows_per_theme", 2000),
                               self.random_state)
        labels, misfits, offset = [], [], 0
        for embeddings, texts, aspects, known in chunks:
            aspects = aspects if aspects is not None else [None] * len(texts)
            X = normalize(self.featurizer_.transform(embeddings, texts))
            chunk = self._assign(X)
            if known is not None:
                previous = known if isinstance(known, np.ndarray) and known.dtype.kind == "i" else \
                    np.array([OUTLIER if k is None else k for k in known], dtype=np.int64)
                chunk = np.where(previous != OUTLIER, previous, chunk)
            rows = np.arange(offset, offset + len(chunk))
            settled = chunk != OUTLIER if emerging else np.ones(len(chunk), dtype=bool)
            summary.add(rows[settled], chunk[settled], self._similarity(X[settled], chunk[settled]),
                        _pick(texts, settled), _pick(aspects, settled))
            if emerging and not settled.all():
                out = ~settled
                misfits.append((rows[out], X[out], normalize(embeddings[out]), _pick(texts, out), _pick(aspects, out)))
            labels.append(chunk)
            offset += len(chunk)
        self.labels_ = np.concatenate(labels) if labels else np.zeros(0, dtype=np.int64)
        if misfits:
            rows, X, E = (np.concatenate([m[i] for m in misfits]) for i in range(3))
            texts, aspects = [t for m in misfits for t in m[3]], [a for m in misfits for a in m[4]]
            min_size = max(self.emerging_min_size, int(np.ceil(self.emerging_min_share * len(self.labels_))))
            found = self._add_emerging(X, E, min_size) if len(rows) >= min_size else np.full(len(rows), OUTLIER)
            self.labels_[rows] = found
            summary.add(rows, found, self._similarity(X, found), texts, aspects)
        self._describe(summary)
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
        self.reducer_ = self.reducer or AdaptivePCA(random_state=self.random_state)
        self.clusterer_ = self.clusterer or AutoKMeans(random_state=self.random_state)
        reduced = self.reducer_.fit_transform(X) if len(X) > 2 else X
        return np.asarray(self.clusterer_.fit(reduced).labels_)

    def _nearest(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        nearest = np.empty(len(X), dtype=np.int64)
        similarity = np.empty(len(X), dtype=np.float32)
        for start in range(0, len(X), 65_536):  # bounded memory on millions of mentions
            block = X[start:start + 65_536] @ self.centroids_.T
            nearest[start:start + len(block)] = block.argmax(axis=1)
            similarity[start:start + len(block)] = block.max(axis=1)
        return nearest, similarity

    def _similarity(self, X: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """Each row's similarity to its own theme's centroid (0 for outliers)."""
        order = np.argsort(self.theme_ids_)
        position = np.minimum(np.searchsorted(self.theme_ids_[order], labels), len(order) - 1)
        rows = np.where(self.theme_ids_[order][position] == labels, order[position], -1)
        similarity = np.zeros(len(X), dtype=np.float32)
        themed = rows >= 0
        similarity[themed] = np.einsum("ij,ij->i", X[themed], self.centroids_[rows[themed]])
        return similarity

    def _cohesion_floor(self, E: np.ndarray, labels: np.ndarray) -> float:
        """How tight (in sentence-embedding space) a new theme must be: as tight as the loosest fitted one."""
        means = []
        for theme in self.theme_ids_:
            members = E[labels == theme]
            if len(members):
                means.append(float((members @ normalize(members.mean(axis=0, keepdims=True)).T).mean()))
        return min(means) if means else 0.0

    def _add_emerging(self, X: np.ndarray, E: np.ndarray, min_size: int) -> np.ndarray:
        """Labels for the misfits: new theme ids for coherent groups, outlier for the rest.

        Misfits are grouped by sentence embedding alone: a new topic's words are not in the fitted
        vocabulary, so the word features would only add noise there.
        """
        labels = np.full(len(E), OUTLIER, dtype=np.int64)
        k = max(1, len(E) // min_size)
        k = min(k, int(np.ceil(np.sqrt(len(E)))))
        raw = KMeans(n_clusters=k, n_init=4, random_state=self.random_state).fit(E).labels_
        next_id = int(self.theme_ids_.max()) + 1 if len(self.theme_ids_) else 0
        for cluster in sorted(np.unique(raw), key=lambda c: (-(raw == c).sum(), int(np.argmax(raw == c)))):
            members = raw == cluster
            if members.sum() < min_size:
                continue
            center = normalize(E[members].mean(axis=0, keepdims=True))
            if (E[members] @ center.T).mean() < self.cohesion_floor_:
                continue
            centroid = normalize(X[members].mean(axis=0, keepdims=True))
            labels[members] = next_id
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

    def _describe(self, summary: ThemeSummary) -> None:
        """Labels, terms and representative quotes for every theme that has members, and for each parent."""
        texts, labels, aspects = summary.text_sample()
        self.representer_ = self.representer or ClassTfidfRepresenter()
        self.representer_.fit(texts, labels, aspects)
        parent_of = dict(zip(self.theme_ids_.tolist(), self.parents_.tolist(), strict=True))
        parent_labels = np.array([parent_of.get(int(t), OUTLIER) for t in labels])
        parent_names = ClassTfidfRepresenter(n_terms=4).fit(texts, parent_labels, aspects)
        self.themes_ = []
        for row, theme in enumerate(self.theme_ids_):
            size = summary.sizes.get(int(theme), 0)
            if size == 0:
                continue
            self.themes_.append({
                "theme_id": int(theme), "label": self.representer_.labels_[int(theme)],
                "top_terms": self.representer_.terms_[int(theme)], "size": size,
                "representatives": summary.representatives(int(theme)),
                "parent_id": int(self.parents_[row]), "parent_label": parent_names.labels_[int(self.parents_[row])],
                "emerging": bool(self.emerging_[row]), "cohesion": summary.similarity_sums[int(theme)] / size,
            })
        n_outliers = summary.sizes.get(OUTLIER, 0)
        self.outliers_ = {"size": n_outliers, "share": n_outliers / max(len(self.labels_), 1)}


def _pick(values: list, mask: np.ndarray) -> list:
    return [v for v, keep in zip(values, mask, strict=True) if keep]


def _row_keys(rows: np.ndarray, seed: int) -> np.ndarray:
    """A pseudo-random key per row index (splitmix64), the same whatever the chunking."""
    z = rows.astype(np.uint64) + np.uint64((seed + 1) * 0x9E3779B97F4A7C15 % 2**64)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


class ThemeSummary:
    """Per-theme size, similarity sum, best quotes and a bounded random text sample, fed chunk by chunk.

    The text sample keeps the ``rows_per_theme`` rows with the smallest seeded key, so it is a uniform sample
    of each theme however the rows arrive; themes smaller than that keep every row.
    """

    def __init__(self, n_representatives: int, rows_per_theme: int, seed: int):
        self.n_representatives = n_representatives
        self.rows_per_theme = rows_per_theme
        self.seed = seed
        self.sizes: dict[int, int] = {}
        self.similarity_sums: dict[int, float] = {}
        self._best: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._sample: dict[int, tuple[np.ndarray, list[str], list[str | None]]] = {}

    def add(self, rows: np.ndarray, labels: np.ndarray, similarity: np.ndarray, texts: list[str],
            aspects: list[str | None]) -> None:
        keys = _row_keys(rows, self.seed)
        for theme in np.unique(labels).tolist():
            members = np.flatnonzero(labels == theme)
            self.sizes[theme] = self.sizes.get(theme, 0) + len(members)
            self.similarity_sums[theme] = self.similarity_sums.get(theme, 0.0) + float(similarity[members].sum())
            best_similarity, best_rows = self._best.get(theme, (np.zeros(0, np.float32), np.zeros(0, np.int64)))
            best_similarity = np.concatenate([best_similarity, similarity[members]])
            best_rows = np.concatenate([best_rows, rows[members]])
            top = np.lexsort((best_rows, -best_similarity))[: self.n_representatives]
            self._best[theme] = (best_similarity[top], best_rows[top])
            old_keys, old_texts, old_aspects = self._sample.get(theme, (np.zeros(0, np.uint64), [], []))
            all_keys = np.concatenate([old_keys, keys[members]])
            all_texts = old_texts + [texts[i] for i in members]
            all_aspects = old_aspects + [aspects[i] for i in members]
            keep = np.sort(np.argsort(all_keys, kind="stable")[: self.rows_per_theme])
            self._sample[theme] = (all_keys[keep], [all_texts[i] for i in keep], [all_aspects[i] for i in keep])

    def representatives(self, theme: int) -> list[int]:
        return self._best[theme][1].tolist() if theme in self._best else []

    def text_sample(self) -> tuple[list[str], np.ndarray, list[str | None]]:
        texts, labels, aspects = [], [], []
        for theme, (_, theme_texts, theme_aspects) in sorted(self._sample.items()):
            texts += theme_texts
            aspects += theme_aspects
            labels += [theme] * len(theme_texts)
        return texts, np.array(labels, dtype=np.int64), aspects
