"""Readable theme labels: the phrase (word n-gram or aspect noun phrase) most distinctive of a theme.

A phrase scores p_t · log(p_t / p): p_t is the share of the theme's mentions containing it, p its share in
all mentions. Common-everywhere words ("flight" in airline tweets) score low; a phrase that few of the
theme's mentions use scores low too. A longer phrase that keeps most of the best word's score wins
("late flight" over "late"), which gives aspect-style labels.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

# Placeholders left by social-post cleaning, and filler that describes no need.
STOP_WORDS = sorted(ENGLISH_STOP_WORDS | {"user", "http", "amp", "just", "im", "dont", "ive", "got", "like",
                                          "really", "thanks", "thank", "pls", "plz", "lol", "ok", "okay", "did",
                                          "does", "doesn", "don", "didn", "isn", "wasn", "won", "ll", "ve", "re"})
ASPECT_PREFIX = "aspect::"


class ClassTfidfRepresenter(BaseEstimator):
    """Distinctive terms and a short label per theme (class-based scoring of n-grams and aspects).

    At most ``max_rows_per_theme`` mentions per theme are read (seeded sample), so labelling a million
    mentions costs about as much as labelling a few thousand per theme.
    """

    def __init__(self, n_terms: int = 8, max_words: int = 3, longer_phrase_ratio: float = 0.25,
                 max_rows_per_theme: int = 2000, random_state: int = 0):
        self.n_terms = n_terms
        self.max_words = max_words
        self.longer_phrase_ratio = longer_phrase_ratio
        self.max_rows_per_theme = max_rows_per_theme
        self.random_state = random_state

    def fit(self, texts: list[str], labels: np.ndarray, aspects: list[str | None]) -> ClassTfidfRepresenter:
        labels = np.asarray(labels)
        rows = self._sample(labels)
        themes, theme_index = np.unique(labels[rows], return_inverse=True)
        documents = [texts[i] for i in rows]
        vectorizer = CountVectorizer(stop_words=STOP_WORDS, ngram_range=(1, self.max_words), binary=True,
                                     token_pattern=r"(?u)\b[^\W\d_]{2,}\b", min_df=2 if len(rows) > 50 else 1)
        try:
            words = vectorizer.fit_transform(documents)
            vocabulary = list(vectorizer.get_feature_names_out())
        except ValueError:  # nothing but stop words
            words, vocabulary = sparse.csr_matrix((len(rows), 0)), []
        aspects = [a.lower() if isinstance(a, str) and a.strip() else None for a in aspects]
        aspect_names = sorted({aspects[i] for i in rows if aspects[i]})
        aspect_column = {a: j for j, a in enumerate(aspect_names)}
        aspect_rows = [(r, aspect_column[aspects[i]]) for r, i in enumerate(rows) if aspects[i]]
        aspect_matrix = sparse.csr_matrix((np.ones(len(aspect_rows)), ([r for r, _ in aspect_rows],
                                                                      [c for _, c in aspect_rows])),
                                          shape=(len(rows), len(aspect_names)))
        features = sparse.hstack([words, aspect_matrix]).tocsr()
        vocabulary += [ASPECT_PREFIX + a for a in aspect_names]
        membership = sparse.csr_matrix((np.ones(len(rows)), (theme_index, np.arange(len(rows)))),
                                       shape=(len(themes), len(rows)))
        per_theme = np.asarray((membership @ features).todense())
        sizes = np.asarray(membership.sum(axis=1)).ravel()
        p_theme = per_theme / np.maximum(sizes[:, None], 1)
        p_all = np.asarray(features.sum(axis=0)).ravel() / max(len(rows), 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            scores = np.where(p_theme > p_all, p_theme * np.log(p_theme / np.maximum(p_all, 1e-12)), 0.0)
        if len(themes) == 1:  # no contrast possible: most frequent phrases
            scores = p_theme
        self.terms_, self.labels_ = {}, {}
        for row, theme in enumerate(themes):
            ranked = [j for j in np.argsort(-scores[row]) if scores[row, j] > 0]
            if not ranked:  # nothing distinctive: the theme's most common phrases
                ranked = [j for j in np.argsort(-p_theme[row]) if p_theme[row, j] > 0]
            names = [vocabulary[j].removeprefix(ASPECT_PREFIX) for j in ranked]
            terms = list(dict.fromkeys(names))[: self.n_terms]
            self.terms_[int(theme)] = terms
            self.labels_[int(theme)] = self._label(ranked, scores[row], vocabulary) if ranked else f"theme {theme}"
        return self

    def _label(self, ranked: list[int], scores: np.ndarray, vocabulary: list[str]) -> str:
        best = vocabulary[ranked[0]].removeprefix(ASPECT_PREFIX)
        floor = self.longer_phrase_ratio * scores[ranked[0]]
        for j in ranked[1:10]:
            phrase = vocabulary[j].removeprefix(ASPECT_PREFIX)
            if scores[j] < floor:
                break
            if len(phrase.split()) > len(best.split()) and f" {best} " in f" {phrase} ":
                best = phrase
        return best

    def _sample(self, labels: np.ndarray) -> np.ndarray:
        rng = np.random.default_rng(self.random_state)
        rows = []
        for theme in np.unique(labels):
            members = np.flatnonzero(labels == theme)
            if len(members) > self.max_rows_per_theme:
                members = np.sort(rng.choice(members, self.max_rows_per_theme, replace=False))
            rows.append(members)
        return np.sort(np.concatenate(rows)) if rows else np.array([], dtype=np.int64)
