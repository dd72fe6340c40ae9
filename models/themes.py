"""Theme model: swappable stages (featurize → reduce → cluster → represent), scikit-learn style.

Built for nightly use: ``learn`` from a content-keyed sample and ``label`` every mention, chunk by chunk as it
streams from the warehouse; a later run's ``label(..., emerging=True)`` assigns new mentions to the existing
themes (ids kept) and turns coherent groups of misfits into new, *emerging* themes (``fit`` and
``partial_fit`` do the same on arrays in memory). Mentions that fit no theme go to an
outlier bucket (id -1) that is counted and reported. The fitted state is plain arrays and lists
(``state_`` / ``from_state``), so it is stored in DuckDB without pickle.
"""

from __future__ import annotations

import hashlib
import heapq
from collections import Counter
from dataclasses import dataclass, fields
from functools import partial

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin, clone
from sklearn.cluster import AgglomerativeClustering, KMeans, MiniBatchKMeans
from sklearn.decomposition import PCA

from models.labels import OUTLIER
from models.theme_features import HybridFeatures, normalize
from models.theme_labels import NO_LABEL, AspectProblemRepresenter, aspect_key, stem
from models.theme_stages import Clusterer, Featurizer, Representer
from models.theme_words import is_bare_verdict, is_content, words


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


@dataclass
class MentionChunk:
    """Need mentions as ``ThemeModel.label`` takes them, a chunk at a time. Only the first two are required.

    - ``known``: the theme each mention already had (-1 = none yet, or an earlier outlier, looked at again).
    - ``documents``: the document of each mention: a bare verdict ("Disappointed.") takes the theme of the
      other mentions of its document instead of a theme of its own.
    - ``explicit``: which mentions state a request; the closest become the theme's top requests (bare verdicts
      such as "Needs work" never do).
    - ``negative``: which mentions are negative; a theme's problem phrase is read from them.
    - ``products``: the product each mention is about; the words of frequent product names never label a theme.
    """

    embeddings: np.ndarray
    texts: list[str]
    aspects: list[str | None] | None = None
    known: np.ndarray | None = None
    documents: list[str] | None = None
    explicit: np.ndarray | None = None
    negative: np.ndarray | None = None
    products: list[str | None] | None = None

    def __post_init__(self):
        if self.aspects is None:
            self.aspects = [None] * len(self.texts)

    def take(self, rows: np.ndarray) -> MentionChunk:
        """The given rows, in that order."""
        def pick(values):
            if values is None:
                return None
            return values[rows] if isinstance(values, np.ndarray) else [values[i] for i in rows]

        return MentionChunk(**{f.name: pick(getattr(self, f.name)) for f in fields(self)})


class ThemeModel(BaseEstimator):
    """Groups need mentions into themes with stable ids, an outlier bucket and parent themes.

    - ``outlier_quantile``: at fit time, mentions less similar to their centroid than this quantile of all
      member similarities become outliers; the similarity found is kept as ``min_similarity_`` and used for
      every later assignment.
    - ``aspect_weight``: the features read each mention's aspect (named or implied) this many times besides its
      text, so themes form around what mentions are about: label coverage rose from 0.57 to 0.74 (airline),
      0.46 to 0.85 (CLAP) and 0.57 to 0.58 (Amazon) with theme agreement unchanged within noise.
    - ``merge_similarity``: clusters whose mentions mostly share one aspect and whose centroids are at least
      this similar are one theme. 0.8: at 0.5 airline clusters sharing "flight" but not the complaint (cancelled,
      delayed) merged and agreement with the true reasons fell (AMI 0.162 → 0.140); clusters that would get the
      same label are merged in any case, and large "mixed mentions" clusters are split (``split_mixed``).
    - ``emerging_min_size`` / ``emerging_min_share``: a new theme in ``partial_fit`` needs at least this many
      misfits and this share of all mentions, and must be as tight as the loosest fitted theme, so a
      nightly run does not spawn a theme from every handful of odd sentences.
    - ``max_fit_rows``: features, clusters and thresholds are learnt from a content-keyed sample of at most
      this many rows (``learn``); ``label`` then assigns every row chunk by chunk, so memory stays bounded on
      millions of mentions streamed from the warehouse.

    Bare verdicts (``models.theme_words.is_bare_verdict``) are left out of learning, so they never form a theme.
    """

    def __init__(self, featurizer=None, reducer=None, clusterer=None, representer=None, outlier_quantile: float = 0.05,
                 merge_similarity: float = 0.8, aspect_weight: int = 1, emerging_min_size: int = 10,
                 emerging_min_share: float = 0.005,
                 n_parents: int | None = None, n_representatives: int = 5, max_fit_rows: int = 100_000,
                 random_state: int = 0):
        self.featurizer = featurizer
        self.reducer = reducer
        self.clusterer = clusterer
        self.representer = representer
        self.outlier_quantile = outlier_quantile
        self.merge_similarity = merge_similarity
        self.aspect_weight = aspect_weight
        self.emerging_min_size = emerging_min_size
        self.emerging_min_share = emerging_min_share
        self.n_parents = n_parents
        self.n_representatives = n_representatives
        self.max_fit_rows = max_fit_rows
        self.random_state = random_state

    # -- fitting -----------------------------------------------------------------------------------------
    def fit(self, embeddings: np.ndarray, texts: list[str], aspects: list[str | None] | None = None,
            first_id: int = 0, **columns) -> ThemeModel:
        """Cluster from scratch. Ids start at ``first_id`` (largest theme first) so a refit never reuses ids.
        ``columns``: the optional ``MentionChunk`` fields (documents, explicit, products)."""
        if len(texts) == 0:
            raise ValueError("no need mentions to group into themes")
        everything = MentionChunk(embeddings, texts, aspects, **columns)
        self.learn(everything.take(self.fit_sample(content_keys(texts, self.random_state, aspects=aspects))),
                   first_id=first_id)
        return self.label([everything])

    def partial_fit(self, embeddings: np.ndarray, texts: list[str], aspects: list[str | None] | None = None,
                    known: np.ndarray | None = None, **columns) -> ThemeModel:
        """Assign mentions to the fitted themes; coherent groups among the misfits become emerging themes.

        Known assignments are kept (see ``MentionChunk``), so a mention never changes theme between
        incremental runs.
        """
        return self.label([MentionChunk(embeddings, texts, aspects, known, **columns)], emerging=True)

    def fit_sample(self, keys: np.ndarray) -> np.ndarray:
        """Rows that ``learn`` sees (sorted): all of them, or the ``max_fit_rows`` with the smallest content key,
        so the sample depends on the texts, not on their ids or order (see ``content_keys``)."""
        if len(keys) <= self.max_fit_rows:
            return np.arange(len(keys))
        return np.sort(np.argsort(keys, kind="stable")[: self.max_fit_rows])

    def learn(self, sample: MentionChunk, first_id: int = 0) -> ThemeModel:
        """Features, themes, thresholds and parents from the sampled rows; ``label`` then assigns every row.

        Rows are put in content order first: k-means seeding and the id order of equal-sized themes depend on
        row order, and the same texts must give the same themes under any file name or ids. Bare verdicts are
        left out (unless nothing else is left). The sample's negative flags and products label the clusters as
        ``label`` will, for the merges and splits that go by label.
        """
        if len(sample.texts) == 0:
            raise ValueError("no need mentions to group into themes")
        content = np.array([not is_bare_verdict(t) for t in sample.texts])
        sample = sample.take(np.flatnonzero(content)) if content.any() else sample
        sample = sample.take(np.argsort(content_keys(sample.texts, self.random_state, aspects=sample.aspects),
                                        kind="stable"))
        embeddings, texts, aspects = sample.embeddings, sample.texts, sample.aspects
        products = ProductWords()
        products.count(sample.products)
        namer = partial(label_clusters, texts=texts, aspects=aspects, excluded=products.frequent(),
                        negative=sample.negative)
        self.featurizer_ = self._featurizer()
        described = self._feature_texts(texts, aspects)
        X = normalize(self.featurizer_.fit(embeddings, described).transform(embeddings, described))
        raw = merge_duplicates(X, self._cluster(X), aspects, self.merge_similarity)
        raw = merge_same_labels(split_mixed(X, raw, namer, self.random_state), namer)
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
        """Assign and describe mentions given as ``MentionChunk``s, in order.

        Memory is one chunk plus the misfits (with ``emerging``) plus a bounded sample of texts per theme,
        so a million mentions can stream from the warehouse.
        """
        summary = ThemeSummary(self.n_representatives, self._representer().max_rows_per_theme, self.random_state)
        labels, misfits, offset = [], [], 0
        for chunk in chunks:
            n = len(chunk.texts)
            explicit, negative = (np.zeros(n, dtype=bool) if flags is None else np.asarray(flags, dtype=bool)
                                  for flags in (chunk.explicit, chunk.negative))
            X = normalize(self.featurizer_.transform(chunk.embeddings, self._feature_texts(chunk.texts, chunk.aspects)))
            verdict = np.array([is_bare_verdict(t) for t in chunk.texts], dtype=bool)
            assigned = np.where(verdict, OUTLIER, self._assign(X))
            if chunk.known is not None:
                previous = np.asarray([OUTLIER if k is None else k for k in chunk.known], dtype=np.int64)
                assigned = np.where(previous != OUTLIER, previous, assigned)
            rows = np.arange(offset, offset + n)
            if emerging and (misfit := (assigned == OUTLIER) & ~verdict).any():
                misfits.append((rows[misfit], X[misfit], normalize(chunk.embeddings[misfit]),
                                _pick(chunk.texts, misfit), _pick(chunk.aspects, misfit), explicit[misfit],
                                negative[misfit]))
                settled = ~misfit
            else:
                settled = np.ones(n, dtype=bool)
            if chunk.documents is not None:
                assigned = document_themes(assigned, chunk.documents, verdict)
            summary.add(rows[settled], assigned[settled], self._similarity(X[settled], assigned[settled]),
                        _pick(chunk.texts, settled), _pick(chunk.aspects, settled), (explicit & ~verdict)[settled],
                        negative[settled])
            summary.products.count(chunk.products)
            labels.append(assigned)
            offset += n
        self.labels_ = np.concatenate(labels) if labels else np.zeros(0, dtype=np.int64)
        if misfits:
            rows, X, E = (np.concatenate([m[i] for m in misfits]) for i in range(3))
            texts, aspects = [t for m in misfits for t in m[3]], [a for m in misfits for a in m[4]]
            explicit, negative = (np.concatenate([m[i] for m in misfits]) for i in (5, 6))
            order = np.argsort(content_keys(texts, self.random_state, aspects=aspects), kind="stable")
            rows, X, E, explicit, negative = rows[order], X[order], E[order], explicit[order], negative[order]
            texts, aspects = [texts[i] for i in order], [aspects[i] for i in order]
            min_size = max(self.emerging_min_size, int(np.ceil(self.emerging_min_share * len(self.labels_))))
            found = self._add_emerging(X, E, min_size) if len(rows) >= min_size else np.full(len(rows), OUTLIER)
            self.labels_[rows] = found
            summary.add(rows, found, self._similarity(X, found), texts, aspects, explicit, negative)
        self._describe(summary)
        return self

    def assign(self, embeddings: np.ndarray, texts: list[str], aspects: list[str | None] | None = None) -> np.ndarray:
        """Theme id of each mention, or -1 when no theme is similar enough."""
        return self._assign(normalize(self.featurizer_.transform(embeddings, self._feature_texts(texts, aspects))))

    def _feature_texts(self, texts: list[str], aspects: list[str | None] | None) -> list[str]:
        """The words the features read: the sentence and, ``aspect_weight`` times, its aspect (named or implied),
        so that mentions group by what they are about ("too heavy" joins "weight" through its implied aspect)."""
        if not self.aspect_weight or aspects is None:
            return texts
        return [f"{text} {(' ' + aspect) * self.aspect_weight}" if isinstance(aspect, str) else text
                for text, aspect in zip(texts, aspects, strict=True)]

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
        model.featurizer_ = type(model._featurizer()).from_state(state["featurizer"])
        return model

    # -- stages (models/theme_stages.py): the ones passed in, cloned, or the defaults ------------------------
    def _featurizer(self) -> Featurizer:
        return clone(self.featurizer) if self.featurizer is not None else HybridFeatures(random_state=self.random_state)

    def _clusterer(self) -> Clusterer:
        return clone(self.clusterer) if self.clusterer is not None else AutoKMeans(random_state=self.random_state)

    def _representer(self) -> Representer:
        return clone(self.representer) if self.representer is not None else AspectProblemRepresenter()

    def _cluster(self, X: np.ndarray) -> np.ndarray:
        self.reducer_ = clone(self.reducer) if self.reducer is not None else AdaptivePCA(random_state=self.random_state)
        self.clusterer_ = self._clusterer()
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
        raw = np.asarray(with_clusters(self._clusterer(), k).fit(E).labels_)
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
        """Label, need statement, terms, coverage, quotes and top requests for every theme that has members,
        and a label for each parent."""
        texts, labels, aspects, negative = summary.text_sample()
        excluded = summary.products.frequent()
        self.representer_ = self._representer().fit(texts, labels, aspects, excluded, negative)
        parent_of = dict(zip(self.theme_ids_.tolist(), self.parents_.tolist(), strict=True))
        parent_labels = np.array([parent_of.get(int(t), OUTLIER) for t in labels])
        parent_names = self._representer()
        if "n_terms" in parent_names.get_params():
            parent_names.set_params(n_terms=4)
        parent_names.fit(texts, parent_labels, aspects, excluded, negative)
        label_words = {int(t): {stem(w) for part in (self.representer_.aspects_.get(int(t)),
                                                      self.representer_.problems_.get(int(t))) if part
                                for w in words(part) if is_content(w)} for t in self.theme_ids_}
        self.themes_ = []
        for row, theme in enumerate(self.theme_ids_):
            theme, size = int(theme), summary.sizes.get(int(theme), 0)
            if size == 0:
                continue
            parent = int(self.parents_[row])
            self.themes_.append({
                "theme_id": theme, "label": self.representer_.labels_[theme],
                "aspect": self.representer_.aspects_[theme], "problem": self.representer_.problems_[theme],
                "need_statement": self.representer_.need_statements_[theme],
                "label_coverage": self.representer_.coverage_[theme],
                "top_terms": self.representer_.terms_[theme], "size": size,
                "representatives": summary.representatives(theme, label_words[theme]),
                "top_requests": summary.requests(theme, label_words[theme]),
                "parent_id": parent, "parent_label": parent_names.labels_.get(parent, self.representer_.labels_[theme]),
                "emerging": bool(self.emerging_[row]), "cohesion": summary.similarity_sums[theme] / size,
            })
        n_outliers = summary.sizes.get(OUTLIER, 0)
        self.outliers_ = {"size": n_outliers, "share": n_outliers / max(len(self.labels_), 1)}


def with_clusters(clusterer: Clusterer, k: int) -> Clusterer:
    """The clusterer set to find ``k`` clusters, where its parameters say how."""
    params = clusterer.get_params()
    if "n_clusters" in params:
        clusterer.set_params(n_clusters=k)
    elif {"min_clusters", "max_clusters"} <= params.keys():
        clusterer.set_params(min_clusters=k, max_clusters=k)
    return clusterer


def merge_duplicates(X: np.ndarray, raw: np.ndarray, aspects: list[str | None], min_similarity: float,
                     min_aspect_share: float = 0.3) -> np.ndarray:
    """Cluster labels with near-duplicate clusters joined: the same main aspect (held by at least
    ``min_aspect_share`` of each) and centroids at least ``min_similarity`` alike."""
    clusters = np.unique(raw)
    main = {}
    for c in clusters:
        members = np.flatnonzero(raw == c)
        keys = Counter(key[0] for i in members if (key := aspect_key(aspects[i], frozenset())))
        if keys:
            key, count = keys.most_common(1)[0]
            if count >= min_aspect_share * len(members):
                main[int(c)] = key
    centroids = {int(c): normalize(X[raw == c].mean(axis=0, keepdims=True))[0] for c in clusters}
    root = {int(c): int(c) for c in clusters}

    def find(c: int) -> int:
        while root[c] != c:
            c = root[c]
        return c

    by_aspect: dict[str, list[int]] = {}
    for c, key in sorted(main.items()):
        by_aspect.setdefault(key, []).append(c)
    for group in by_aspect.values():
        for i, a in enumerate(group):
            for b in group[i + 1:]:
                if float(centroids[a] @ centroids[b]) >= min_similarity:
                    root[find(b)] = find(a)
    return np.array([find(int(c)) for c in raw], dtype=raw.dtype)


def label_clusters(raw: np.ndarray, texts: list[str], aspects: list[str | None], excluded: frozenset[str],
                   negative: np.ndarray | None) -> dict[int, str]:
    """The label each cluster would get."""
    return AspectProblemRepresenter().fit(texts, raw, aspects, excluded, negative).labels_


def split_mixed(X: np.ndarray, raw: np.ndarray, namer, seed: int, min_size_ratio: float = 1.2) -> np.ndarray:
    """Clusters that share no aspect and no problem (labelled "mixed mentions") and are at least
    ``min_size_ratio`` times the median cluster size are split by k-means into pieces of about the median size:
    a catch-all of unrelated complaints is several needs, and the pieces that match a need found elsewhere join
    it (``merge_same_labels``)."""
    names = namer(raw)
    sizes = {c: int((raw == c).sum()) for c in names}
    median = float(np.median(list(sizes.values())))
    split, next_id = raw.copy(), int(raw.max()) + 1
    for cluster in sorted(names):
        members = np.flatnonzero(raw == cluster)
        if names[cluster] != NO_LABEL or sizes[cluster] < min_size_ratio * median:
            continue
        k = min(len(members), max(2, round(sizes[cluster] / median)))
        pieces = KMeans(n_clusters=k, n_init=4, random_state=seed).fit_predict(X[members])
        for piece in range(1, k):
            split[members[pieces == piece]] = next_id
            next_id += 1
    return split


def merge_same_labels(raw: np.ndarray, namer) -> np.ndarray:
    """Clusters that would get the same "aspect — problem" label are one need: one theme."""
    names = namer(raw)
    first: dict[str, int] = {}
    merged = raw.copy()
    for cluster in sorted(names):
        if names[cluster] != NO_LABEL:
            merged[raw == cluster] = first.setdefault(names[cluster], cluster)
    return merged


def document_themes(assigned: np.ndarray, documents: list[str], verdict: np.ndarray) -> np.ndarray:
    """Bare verdicts without a theme take the most common theme of the other mentions of their document (the
    smallest id on ties); those whose document has none stay outliers."""
    votes: dict[str, Counter] = {}
    for document, theme, is_verdict in zip(documents, assigned.tolist(), verdict.tolist(), strict=True):
        if not is_verdict and theme != OUTLIER:
            votes.setdefault(document, Counter())[theme] += 1
    result = assigned.copy()
    for i in np.flatnonzero(verdict & (assigned == OUTLIER)):
        if documents[i] in votes:
            counts = votes[documents[i]]
            result[i] = min(counts, key=lambda theme: (-counts[theme], theme))
    return result


def _pick(values: list, mask: np.ndarray) -> list:
    return [v for v, keep in zip(values, mask, strict=True) if keep]


def content_keys(texts: list[str], seed: int = 0, occurrences: list[int] | None = None,
                 aspects: list[str | None] | None = None) -> np.ndarray:
    """A pseudo-random 64-bit key per mention from its text, its aspect and how many times that pair came before
    (seeded blake2b): samples and orders drawn by it are the same whatever the mentions' ids, file names or
    arrival order, and a text repeated n times is sampled like n different texts, not all or nothing.
    ``occurrences`` gives the repeat counts when the texts come in chunks (``MentionReader`` counts in SQL)."""
    pairs = [f"{t}\0{a or ''}" for t, a in zip(texts, aspects if aspects is not None else [None] * len(texts),
                                                 strict=True)]
    if occurrences is None:
        seen: dict[str, int] = {}
        occurrences = [seen.__setitem__(p, seen.get(p, -1) + 1) or seen[p] for p in pairs]
    salt = str(seed).encode()
    return np.fromiter((int.from_bytes(hashlib.blake2b(f"{p}\0{n}".encode(), digest_size=8, salt=salt).digest(),
                                       "little") for p, n in zip(pairs, occurrences, strict=True)),
                       dtype=np.uint64, count=len(texts))


class ProductWords:
    """How often each word of a product name occurs over the mentions counted, chunk by chunk; the frequent ones
    ("kindle", "united") never label a theme."""

    def __init__(self, share: float = 0.1):
        self.share = share
        self.counts: Counter = Counter()
        self.mentions = 0

    def count(self, products: list[str | None] | None) -> None:
        self.mentions += len(products) if products is not None else 0
        for product in products or ():
            if isinstance(product, str):
                self.counts.update(set(words(product)))

    def frequent(self) -> frozenset[str]:
        """Words in the product names of at least ``share`` of the mentions."""
        floor = self.share * max(self.mentions, 1)
        return frozenset(w for w, n in self.counts.items() if n >= floor and len(w) > 1)


class ThemeSummary:
    """Per-theme size, similarity sum, best quotes, top requests and a bounded random text sample, fed chunk by
    chunk, and how often each word of a product name occurs.

    The text sample keeps the ``rows_per_theme`` rows with the smallest key of their text, so it is the same
    however the rows arrive, are chunked or are named (copies of one text are kept or left out together);
    themes smaller than that keep every row.
    Quotes and requests are the mentions closest to the theme's centroid, one per distinct text.
    """

    CANDIDATES = 6  # quotes kept per quote shown, to choose those that name the label

    def __init__(self, n_representatives: int, rows_per_theme: int, seed: int):
        self.n_representatives = n_representatives
        self.rows_per_theme = rows_per_theme
        self.seed = seed
        self.sizes: dict[int, int] = {}
        self.similarity_sums: dict[int, float] = {}
        self._best: dict[int, list[tuple[float, int, int, str]]] = {}
        self._requests: dict[int, list[tuple[float, int, int, str]]] = {}
        self._sample: dict[int, tuple[np.ndarray, list[str], list[str | None], np.ndarray]] = {}
        self.products = ProductWords()

    def add(self, rows: np.ndarray, labels: np.ndarray, similarity: np.ndarray, texts: list[str],
            aspects: list[str | None], explicit: np.ndarray, negative: np.ndarray) -> None:
        keys = content_keys(texts, self.seed, [0] * len(texts), aspects)  # the same in any chunking
        for theme in np.unique(labels).tolist():
            members = np.flatnonzero(labels == theme)
            self.sizes[theme] = self.sizes.get(theme, 0) + len(members)
            self.similarity_sums[theme] = self.similarity_sums.get(theme, 0.0) + float(similarity[members].sum())
            candidates = [(-float(similarity[i]), int(keys[i]), int(rows[i]), texts[i]) for i in members]
            self._best[theme] = self._closest(self._best.get(theme, []), candidates)
            requests = [c for c, i in zip(candidates, members, strict=True) if explicit[i]]
            if requests:
                self._requests[theme] = self._closest(self._requests.get(theme, []), requests)
            old_keys, old_texts, old_aspects, old_negative = self._sample.get(
                theme, (np.zeros(0, np.uint64), [], [], np.zeros(0, dtype=bool)))
            all_keys = np.concatenate([old_keys, keys[members]])
            all_texts = old_texts + [texts[i] for i in members]
            all_aspects = old_aspects + [aspects[i] for i in members]
            all_negative = np.concatenate([old_negative, negative[members]])
            keep = np.sort(np.argsort(all_keys, kind="stable")[: self.rows_per_theme])
            self._sample[theme] = (all_keys[keep], [all_texts[i] for i in keep], [all_aspects[i] for i in keep],
                                   all_negative[keep])

    def _closest(self, kept: list, candidates: list) -> list:
        """The ``CANDIDATES × n_representatives`` most similar candidates with distinct texts (content key breaks
        ties); ``representatives`` then prefers those that name the theme's label."""
        chosen, seen, wanted = [], set(), self.CANDIDATES * self.n_representatives
        for candidate in heapq.nsmallest(10 * wanted, kept + candidates):
            if candidate[3] not in seen:
                seen.add(candidate[3])
                chosen.append(candidate)
                if len(chosen) == wanted:
                    break
        return chosen

    def representatives(self, theme: int, label_words: set[str] = frozenset()) -> list[int]:
        return self._naming(self._best.get(theme, []), label_words)

    def requests(self, theme: int, label_words: set[str] = frozenset()) -> list[int]:
        return self._naming(self._requests.get(theme, []), label_words)

    def _naming(self, candidates: list, label_words: set[str]) -> list[int]:
        """Rows of the ``n_representatives`` closest candidates, those whose text names a word of the label first
        (quotes that show the label is right), each group in order of similarity."""
        names = [bool(label_words & {stem(w) for w in words(text)}) for _, _, _, text in candidates]
        ordered = [c for c, n in zip(candidates, names, strict=True) if n] + \
                  [c for c, n in zip(candidates, names, strict=True) if not n]
        return [row for _, _, row, _ in ordered[: self.n_representatives]]

    def text_sample(self) -> tuple[list[str], np.ndarray, list[str | None], np.ndarray]:
        """Texts, theme ids, aspects and negative flags of the sampled rows, theme by theme."""
        texts, labels, aspects, negative = [], [], [], []
        for theme, (_, theme_texts, theme_aspects, theme_negative) in sorted(self._sample.items()):
            texts += theme_texts
            aspects += theme_aspects
            labels += [theme] * len(theme_texts)
            negative.append(theme_negative)
        return (texts, np.array(labels, dtype=np.int64), aspects,
                np.concatenate(negative) if negative else np.zeros(0, dtype=bool))
