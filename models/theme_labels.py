"""Theme labels a product team can put on a roadmap: "aspect — problem", taken from the mentions.

- The **aspect** is what the theme's mentions are about: the aspect the models found (named or implied) that is
  most distinctive of the theme and held by at least ``min_aspect_share`` of its mentions; failing that, the
  theme's most distinctive content word.
- The **problem** is the contiguous phrase (1–``max_words`` words) most distinctive of the theme that shares no
  word with the aspect: "runs small", "long hold", "not charging".
- Neither is ever a function word, filler, bare verdict or the product's own name (``models.theme_words``).

Distinctiveness is class-based: a phrase scores p_t · log(p_t / p), p_t its share of the theme's mentions, p its
share of all mentions, so words every theme uses ("flight" in airline tweets) score low. ``coverage_`` measures
each label: the share of the theme's mentions whose text or aspect contains the aspect's word.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator

from models.theme_words import NEGATIONS, is_content, problem_words, words

NO_LABEL = "mixed mentions"
WORKING = frozenset({"work", "works", "worked", "working", "load", "loads", "loading", "open", "opens", "connect",
                     "connects", "sync", "syncs", "charge", "charges", "charging", "turn", "turns"})


def stem(word: str) -> str:
    """Plural-insensitive key ("sizes" and "size" count as one aspect)."""
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def aspect_key(aspect: str | None, excluded: frozenset[str]) -> tuple[str, str] | None:
    """(key, surface form) of an aspect, trimmed to its content words; None when nothing is left."""
    if not isinstance(aspect, str):
        return None
    tokens = words(aspect)
    content = [i for i, w in enumerate(tokens) if is_content(w, excluded)]
    if not content:
        return None
    kept = tokens[content[0]: content[-1] + 1]
    return " ".join(stem(w) for w in kept), " ".join(kept)


def phrases(tokens: list[str], max_words: int, excluded: frozenset[str]) -> set[str]:
    """Contiguous phrases that can describe a problem: end on a content word, start on a content word or a
    negation/intensifier ("not charging", "too small"), and leave out the product's name."""
    found = set()
    for start, first in enumerate(tokens):
        if first in excluded or not (is_content(first, excluded) or first in NEGATIONS):
            continue
        for end in range(start + 1, min(start + max_words, len(tokens)) + 1):
            last = tokens[end - 1]
            if last in excluded:
                break
            negated_filler = first in NEGATIONS and last in WORKING  # "doesn't work", "not working"
            if (is_content(last, excluded) or negated_filler) and (end - start > 1 or first not in NEGATIONS):
                found.add(" ".join(tokens[start:end]))
    return found


def is_problem_like(phrase: str) -> bool:
    """A phrase that names a fault: a negation or intensifier ("not charging", "too small") or a problem word."""
    return any(w in NEGATIONS or w in problem_words() for w in phrase.split())


def distinctiveness(membership: sparse.csr_matrix, features: sparse.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    """(score, share in theme) per theme × feature: p_t · log(p_t / p) where the theme uses it more than all do."""
    per_theme = np.asarray((membership @ features).todense())
    sizes = np.asarray(membership.sum(axis=1)).ravel()
    p_theme = per_theme / np.maximum(sizes[:, None], 1)
    p_all = np.asarray(features.sum(axis=0)).ravel() / max(features.shape[0], 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        scores = np.where(p_theme > p_all, p_theme * np.log(p_theme / np.maximum(p_all, 1e-12)), 0.0)
    if membership.shape[0] == 1:  # no contrast possible: the most common phrases
        scores = p_theme.copy()
    return scores, p_theme


def binary_matrix(rows: list[set[str]]) -> tuple[sparse.csr_matrix, list[str]]:
    vocabulary = sorted({item for row in rows for item in row})
    column = {item: j for j, item in enumerate(vocabulary)}
    pairs = [(r, column[item]) for r, row in enumerate(rows) for item in row]
    matrix = sparse.csr_matrix((np.ones(len(pairs)), ([p[0] for p in pairs], [p[1] for p in pairs])),
                               shape=(len(rows), len(vocabulary)))
    return matrix, vocabulary


class AspectProblemRepresenter(BaseEstimator):
    """Label, aspect, problem, need statement, distinctive terms and label coverage per theme.

    At most ``max_rows_per_theme`` mentions per theme are read (seeded sample), so labelling a million
    mentions costs about as much as labelling a few thousand per theme.
    """

    def __init__(self, n_terms: int = 8, max_words: int = 3, min_aspect_share: float = 0.15,
                 min_problem_share: float = 0.05, longer_phrase_ratio: float = 0.5, max_rows_per_theme: int = 2000,
                 random_state: int = 0):
        self.n_terms = n_terms
        self.max_words = max_words
        self.min_aspect_share = min_aspect_share
        self.min_problem_share = min_problem_share
        self.longer_phrase_ratio = longer_phrase_ratio
        self.max_rows_per_theme = max_rows_per_theme
        self.random_state = random_state

    def fit(self, texts: list[str], labels: np.ndarray, aspects: list[str | None],
            excluded: frozenset[str] = frozenset(), negative: np.ndarray | None = None) -> AspectProblemRepresenter:
        """``excluded``: words never used in a label (the product's and the source's own names). ``negative``:
        which mentions are negative; a theme's problem is read from them when it has at least three."""
        labels = np.asarray(labels)
        negative = np.zeros(len(texts), dtype=bool) if negative is None else np.asarray(negative, dtype=bool)
        rows = self._sample(labels)
        themes, theme_index = np.unique(labels[rows], return_inverse=True)
        tokens = [words(texts[i]) for i in rows]
        keys = [aspect_key(aspects[i], excluded) for i in rows]
        surface: dict[str, Counter] = {}
        for key in keys:
            if key:
                surface.setdefault(key[0], Counter())[key[1]] += 1
        aspect_matrix, aspect_vocabulary = self._aspect_mentions(tokens, keys, surface)
        phrase_matrix, phrase_vocabulary = binary_matrix([phrases(t, self.max_words, excluded) for t in tokens])
        phrase_column = {phrase: j for j, phrase in enumerate(phrase_vocabulary)}
        membership = sparse.csr_matrix((np.ones(len(rows)), (theme_index, np.arange(len(rows)))),
                                       shape=(len(themes), len(rows)))
        aspect_scores, aspect_shares = distinctiveness(membership, aspect_matrix)
        phrase_scores, phrase_shares = distinctiveness(membership, phrase_matrix)
        problem_scores, problem_shares = self._problem_scores(membership, phrase_matrix, phrase_vocabulary,
                                                              negative[rows], theme_index, len(themes))
        self.labels_, self.aspects_, self.problems_, self.terms_ = {}, {}, {}, {}
        self.need_statements_, self.coverage_ = {}, {}
        for row, theme in enumerate(themes):
            aspect = self._aspect(aspect_scores[row], aspect_shares[row], aspect_vocabulary, surface,
                                  phrase_scores[row], phrase_shares[row], phrase_vocabulary)
            aspect_stems = {stem(w) for w in words(aspect)} if aspect else set()
            problem = self._problem(problem_scores[row], problem_shares[row], phrase_vocabulary, aspect_stems)
            if aspect and problem and all(w in problem_words() for w in words(aspect)) and \
                    not any(w in problem_words() for w in problem.split()):
                aspect, problem = problem, aspect  # the tagger took "delayed" for the aspect of "delayed flight"
                aspect_stems = {stem(w) for w in words(aspect)}
            compounds = [f"{aspect} {problem}", f"{problem} {aspect}"] if aspect and problem and " " not in \
                aspect + problem and not is_problem_like(problem) else []
            compound = next((c for c in compounds if c in phrase_column and phrase_shares[row, phrase_column[c]]
                             >= 0.5 * phrase_shares[row, phrase_column[problem]]), None)
            if compound:
                aspect = compound  # "battery" + "life" is the aspect "battery life", not a problem
                aspect_stems = {stem(w) for w in words(aspect)}
                problem = self._problem(problem_scores[row], problem_shares[row], phrase_vocabulary, aspect_stems)
            if aspect is None and problem and not is_problem_like(problem) and \
                    phrase_shares[row, phrase_column[problem]] < self.min_aspect_share:
                problem = None  # a word few mentions use, naming neither a subject nor a fault: say "mixed"
            theme = int(theme)
            self.aspects_[theme], self.problems_[theme] = aspect, problem
            self.labels_[theme] = " — ".join(part for part in (aspect, problem) if part) or NO_LABEL
            self.need_statements_[theme] = need_statement(aspect, problem)
            members = np.flatnonzero(theme_index == row)
            self.coverage_[theme] = float(np.mean([
                bool(aspect_stems & ({stem(w) for w in tokens[m]} | set((keys[m] or ("", ""))[0].split())))
                for m in members])) if aspect_stems else 0.0
            ranked = sorted(
                [(aspect_scores[row, j], surface[aspect_vocabulary[j]].most_common(1)[0][0])
                 for j in np.flatnonzero(aspect_scores[row] > 0)]
                + [(phrase_scores[row, j], phrase_vocabulary[j]) for j in np.flatnonzero(phrase_scores[row] > 0)],
                key=lambda pair: (-pair[0], pair[1]))
            self.terms_[theme] = list(dict.fromkeys(term for _, term in ranked))[: self.n_terms]
        return self

    @staticmethod
    def _aspect_mentions(tokens: list[list[str]], keys: list, surface: dict) -> tuple[sparse.csr_matrix, list[str]]:
        """Which mentions speak of each aspect the models found at least twice: the mention's own aspect is it, or
        its text has all of its words (plural-insensitive). Aspects of more than two words are tagging slips
        ("battery died halfway"), and aspects made only of problem words ("delayed", "hold") are left to the
        problem half of the label."""
        stems = [{stem(w) for w in row} | set((key or ("", ""))[0].split()) - {""} for row, key in zip(
            tokens, keys, strict=True)]
        stem_matrix, stem_vocabulary = binary_matrix(stems)
        column_of = {s: j for j, s in enumerate(stem_vocabulary)}
        vocabulary = sorted(key for key, forms in surface.items() if sum(forms.values()) >= 2 and len(key.split()) <= 2
                            and not all(w in problem_words() for w in forms.most_common(1)[0][0].split()))
        # one product for every aspect at once: a mention speaks of a key when it has all of the key's stems
        pairs = [(k, column_of[s]) for k, key in enumerate(vocabulary) for s in key.split() if s in column_of]
        key_stems = sparse.csr_matrix((np.ones(len(pairs)), ([k for k, _ in pairs], [j for _, j in pairs])),
                                      shape=(len(vocabulary), len(stem_vocabulary)))
        shared = (stem_matrix @ key_stems.T).tocoo()
        needed = np.array([len(key.split()) for key in vocabulary])
        whole = shared.data == needed[shared.col]
        matrix = sparse.csr_matrix((np.ones(int(whole.sum())), (shared.row[whole], shared.col[whole])),
                                   shape=(len(tokens), len(vocabulary)))
        return matrix, vocabulary

    def _aspect(self, scores, shares, vocabulary, surface, phrase_scores, phrase_shares, phrase_vocabulary):
        """The most distinctive aspect that ``min_aspect_share`` of the mentions speak of; else the most
        distinctive content word that as many use."""
        tagged = np.array([sum(surface[key].values()) for key in vocabulary])  # ties: the aspect tagged most often
        for j in np.lexsort((np.arange(len(scores)), -tagged, -np.round(scores, 9))):
            if shares[j] >= self.min_aspect_share and (scores[j] > 0 or shares[j] == shares.max()):
                return surface[vocabulary[j]].most_common(1)[0][0]
        single = [j for j in np.lexsort((np.arange(len(phrase_scores)), -phrase_scores))
                  if phrase_scores[j] > 0 and " " not in phrase_vocabulary[j]
                  and phrase_shares[j] >= self.min_aspect_share]
        return phrase_vocabulary[single[0]] if single else None

    def _problem_scores(self, membership, phrase_matrix, vocabulary, negative, theme_index, n_themes):
        """Distinctiveness of each phrase among the theme's negative mentions (all of them where it has fewer than
        three), doubled for phrases that name a problem ("delayed", "not charging", "too small")."""
        scores, shares = distinctiveness(membership, phrase_matrix)
        if negative.sum() >= 3:
            negative_rows = np.flatnonzero(negative)
            negative_membership = sparse.csr_matrix(
                (np.ones(len(negative_rows)), (theme_index[negative_rows], np.arange(len(negative_rows)))),
                shape=(n_themes, len(negative_rows)))
            negative_scores, negative_shares = distinctiveness(negative_membership, phrase_matrix[negative_rows])
            enough = np.asarray(negative_membership.sum(axis=1)).ravel() >= 3
            scores = np.where(enough[:, None], negative_scores, scores)
            shares = np.where(enough[:, None], negative_shares, shares)
        problem_like = np.array([is_problem_like(phrase) for phrase in vocabulary], dtype=bool)
        return scores * np.where(problem_like, 2.0, 1.0), shares

    def _problem(self, scores, shares, vocabulary, aspect_stems: set[str]) -> str | None:
        """The most distinctive phrase without the aspect's words, used by at least ``min_problem_share`` of the
        mentions read, a phrase that names a fault first when it scores at least 0.3 of the best; a longer phrase
        that keeps ``longer_phrase_ratio`` of its score and contains it wins ("runs small" over "small")."""
        ranked = [j for j in np.lexsort((np.arange(len(scores)), -scores)) if scores[j] > 0
                  and shares[j] >= self.min_problem_share
                  and not aspect_stems & {stem(w) for w in vocabulary[j].split()}][:12]
        if not ranked:
            return None
        faults = [j for j in ranked if is_problem_like(vocabulary[j]) and scores[j] >= 0.3 * scores[ranked[0]]]
        ranked = faults + [j for j in ranked if j not in faults]  # a fault ("lost") before a subject ("google")
        best = vocabulary[ranked[0]]
        floor = self.longer_phrase_ratio * scores[ranked[0]]
        for j in ranked[1:]:
            phrase = vocabulary[j]
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


def need_statement(aspect: str | None, problem: str | None) -> str:
    """The need in a roadmap's words, built only from the label's parts (no generated text to go wrong)."""
    if aspect and problem:
        return f"Better {aspect}: no more “{problem}”"
    if aspect:
        return f"Better {aspect}"
    if problem:
        return f"No more “{problem}”"
    return "No shared need found: read the quotes"

