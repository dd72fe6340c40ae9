"""The contracts of the theme model's swappable stages (featurize → reduce → cluster → represent), as BERTopic
declares its own. ``ThemeModel`` clones a stage before fitting it, so the object passed in stays unfitted and
can be reused; any object with these methods (and scikit-learn's ``get_params``, for ``clone``) can stand in."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Featurizer(Protocol):
    """Mention features from sentence embeddings and the words the mentions (and their aspects) use."""

    def fit(self, embeddings: np.ndarray, texts: list[str]) -> Featurizer: ...

    def transform(self, embeddings: np.ndarray, texts: list[str]) -> np.ndarray: ...

    def state_(self) -> dict:
        """Plain lists and numbers, so a fitted featurizer is stored without pickle."""
        ...

    @classmethod
    def from_state(cls, state: dict) -> Featurizer: ...


@runtime_checkable
class Reducer(Protocol):
    def fit_transform(self, X: np.ndarray) -> np.ndarray: ...


@runtime_checkable
class Clusterer(Protocol):
    """Fits on the reduced features and leaves one cluster label per row in ``labels_``. Emerging themes use a
    clone with a fixed number of clusters: ``n_clusters`` or ``min_clusters``/``max_clusters`` where it has them."""

    def fit(self, X: np.ndarray) -> Clusterer: ...


@runtime_checkable
class Representer(Protocol):
    """Names themes: after ``fit``, ``labels_``, ``aspects_``, ``problems_``, ``need_statements_``,
    ``coverage_`` and ``terms_`` map each theme id to its label, parts, statement, coverage and terms. It reads
    at most ``max_rows_per_theme`` mentions of a theme. Parent themes are named by a clone of it (4 terms where it
    has ``n_terms``)."""

    max_rows_per_theme: int

    def fit(self, texts: list[str], labels: np.ndarray, aspects: list[str | None],
            excluded: frozenset[str] = frozenset(), negative: np.ndarray | None = None) -> Representer: ...
