"""``unmet.aspect_terms.v1``: the aspect a sentence names, tagged on the encoder's token states.

The encoder pass that feeds the sentence heads also yields one vector per word (its first sub-token); a
linear B/I/O tagger over each word with its neighbours marks aspect terms, so no parser runs at analysis
time. On the SemEval 2014–16 + ACOS dev rows it names the annotated aspect more often than the noun-chunk
rules (``unmet.aspects.v2``) it replaces; the figures are in the artifact's model card. Trained by
``unmet train`` on the public SemEval/ACOS aspect spans.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator

from models.errors import ConfigError, DataError
from models.heads import LinearHead

NAME = "unmet.aspect_terms.v1"
FEATURES = ("word", "previous_word", "next_word")
LABELS = ("O", "B", "I")


def in_context(sentences: list[np.ndarray]) -> np.ndarray:
    """Every word of every sentence, stacked: its vector beside its left and right neighbours' within the
    sentence (zeros at a sentence's edges). Sentences without words add no rows."""
    sentences = [v for v in sentences if len(v)]
    words = np.vstack(sentences)
    ends = np.cumsum([len(v) for v in sentences])
    previous, following = np.zeros_like(words), np.zeros_like(words)
    previous[1:], following[:-1] = words[:-1], words[1:]
    previous[ends[:-1]] = 0  # a sentence's first word has no left neighbour
    following[ends - 1] = 0  # nor its last a right one
    return np.hstack([words, previous, following])


def word_labels(spans: list[tuple[int, int]], targets: list[tuple[int, int]]) -> list[str]:
    """B/I/O per word from character spans of aspect terms (a word inside a target is part of it)."""
    labels = ["O"] * len(spans)
    for start, end in targets:
        inside = [i for i, (a, b) in enumerate(spans) if a >= start and b <= end]
        for n, i in enumerate(inside):
            labels[i] = "B" if n == 0 else "I"
    return labels


class AspectTermTagger(BaseEstimator):
    """B/I/O softmax over word vectors in context; calling it on a sentence returns its best aspect term."""

    def __init__(self, C: float = 0.5, max_iter: int = 2000, fallback: float | None = None):
        self.C = C
        self.max_iter = max_iter
        self.fallback = fallback

    def fit(self, vectors: list[np.ndarray], labels: list[list[str]]) -> AspectTermTagger:
        """``vectors``: per sentence, (words, dim) from ``SentenceEncoder.encode_and_tag``; ``labels``: B/I/O."""
        rows = [i for i, v in enumerate(vectors) if len(v)]
        if not rows:
            raise DataError("no sentence with words to learn from")
        X = in_context([vectors[i] for i in rows])
        y = np.concatenate([np.asarray(labels[i]) for i in rows])
        if len(y) != len(X):
            raise ValueError(f"{len(X)} words but {len(y)} labels: one label per word")
        self.head_ = LinearHead(features=FEATURES, C=self.C, class_weight=None, max_iter=self.max_iter).fit(X, y)
        self.classes_ = self.head_.classes_
        return self

    def terms(self, texts: list[str], spans: list[list[tuple[int, int]]],
              vectors: list[np.ndarray]) -> list[list[tuple[int, int, float]]]:
        """Every tagged term of each sentence as (start, end, mean probability of being part of a term).

        The arguments are per sentence, as ``SentenceEncoder.encode_and_tag`` hands a batch over; all its words
        go through the softmax at once.
        """
        return self._decode(texts, spans, vectors)[0]

    def _decode(self, texts, spans, vectors) -> tuple[list[list[tuple[int, int, float]]], list[np.ndarray]]:
        """The tagged terms of each sentence and each of its words' probability of being part of a term."""
        found: list[list[tuple[int, int, float]]] = [[] for _ in texts]
        lengths = [len(v) for v in vectors]
        if not sum(lengths):
            return found, [np.zeros(0)] * len(texts)
        probs = self.head_.predict_proba(in_context(vectors), blas=False)  # runs between encoder batches
        tags = self.classes_[probs.argmax(axis=1)]
        inside = probs[:, self.classes_ != "O"].sum(axis=1)
        per_sentence, start = [], 0
        for row, length in enumerate(lengths):
            words = slice(start, start + length)
            found[row] = [(spans[row][a][0], spans[row][b][1], float(inside[words][a:b + 1].mean()))
                          for a, b in _runs(tags[words])]
            per_sentence.append(inside[words])
            start += length
        return found, per_sentence

    def __call__(self, texts: list[str], spans: list[list[tuple[int, int]]],
                 vectors: list[np.ndarray]) -> list[str | None]:
        """Each sentence's most confident aspect term, lower-cased; None where it names none. With ``fallback``, a
        sentence with no tagged term gets its likeliest word when that word's probability of being part of a term
        is at least ``fallback``: a need is nearly always about something, and on voc_needs dev need sentences
        the named aspect is then found for 0.595 of them instead of 0.415 (threshold 0.1)."""
        found, inside = self._decode(texts, spans, vectors)
        out = [best_term(text, terms) for text, terms in zip(texts, found, strict=True)]
        for row, term in enumerate(out):
            if term is None and self.fallback is not None and len(inside[row]):
                word = int(inside[row].argmax())
                if inside[row][word] >= self.fallback:
                    out[row] = texts[row][spans[row][word][0]:spans[row][word][1]].lower()
        return out

    def save(self, directory: str | Path, metadata: dict) -> Path:
        return self.head_.save(directory, {**metadata, "tagger": self.get_params()})

    @classmethod
    def load(cls, directory: str | Path) -> tuple[AspectTermTagger, dict]:
        head, config = LinearHead.load(directory)
        if tuple(head.features) != FEATURES or "tagger" not in config:
            raise ConfigError(f"{directory} holds a {config.get('name')} head, not an aspect-term tagger")
        tagger = cls(**config["tagger"])
        tagger.head_, tagger.classes_ = head, head.classes_
        return tagger, config


def _runs(tags: np.ndarray) -> list[tuple[int, int]]:
    """(first, last) word of each B/I run; an I with no B before it starts a run."""
    runs, current = [], None
    for word, tag in enumerate(tags):
        if tag == "B" or (tag == "I" and current is None):
            if current:
                runs.append(current)
            current = [word, word]
        elif tag == "I":
            current[1] = word
        elif current:
            runs.append(current)
            current = None
    if current:
        runs.append(current)
    return [tuple(run) for run in runs]


def best_term(text: str, terms: list[tuple[int, int, float]]) -> str | None:
    """The most confident of a sentence's terms, lower-cased with its spacing collapsed."""
    if not terms:
        return None
    start, end, _ = max(terms, key=lambda term: term[2])
    return " ".join(text[start:end].lower().split())


def plural_stripped(word: str) -> str:
    """A crude singular for when no lemmatizer is at hand: "batteries" → "battery", "keys" → "key"."""
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    return word[:-1] if word.endswith("s") and not word.endswith("ss") else word


def sentence_scores(predicted: list[str | None], texts: list[str], targets: list[list[tuple[int, int]]],
                    n_boot: int = 1000, seed: int = 0, lemma=plural_stripped) -> dict:
    """Does the one aspect given per sentence name an annotated term? Compared by head word, both sides through
    ``lemma``, so a lemmatized aspect and the raw term it came from count the same.

    Precision over sentences given an aspect, recall over sentences with at least one annotated term; F1 with
    a 95 % bootstrap interval over sentences.
    """
    hit = np.zeros(len(texts), dtype=bool)
    given = np.array([p is not None for p in predicted])
    annotated = np.array([bool(t) for t in targets])

    def head_word(term: str) -> str | None:
        words = re.findall(r"\w+", term.lower())
        return lemma(words[-1]) if words else None

    for i, (term, text, spans) in enumerate(zip(predicted, texts, targets, strict=True)):
        hit[i] = term is not None and head_word(term) in {head_word(text[a:b]) for a, b in spans}
    return {**_f1_with_interval(hit, given, annotated, n_boot, seed),
            "sentences": len(texts), "given": int(given.sum()), "annotated": int(annotated.sum())}


def span_scores(found: list[list[tuple[int, int]]], targets: list[list[tuple[int, int]]], n_boot: int = 1000,
                seed: int = 0) -> dict:
    """Exact-span precision, recall and F1 over all terms (the SemEval aspect-term extraction measure), with a
    95 % bootstrap interval over sentences."""
    right = np.array([len(set(mine) & set(gold)) for mine, gold in zip(found, targets, strict=True)])
    return _f1_with_interval(right, np.array([len(set(f)) for f in found]), np.array([len(set(t)) for t in targets]),
                             n_boot, seed)


def _f1_with_interval(right: np.ndarray, given: np.ndarray, annotated: np.ndarray, n_boot: int, seed: int) -> dict:
    """Precision, recall and F1 from per-sentence counts, with F1's 95 % interval from resampling sentences."""

    def scores(rows: np.ndarray) -> tuple[float, float, float]:
        precision = right[rows].sum() / max(given[rows].sum(), 1)
        recall = right[rows].sum() / max(annotated[rows].sum(), 1)
        return precision, recall, 2 * precision * recall / max(precision + recall, 1e-9)

    precision, recall, f1 = scores(np.arange(len(right)))
    rng = np.random.default_rng(seed)
    draws = [scores(rng.integers(0, len(right), len(right)))[2] for _ in range(n_boot)] or [f1]
    return {"precision": float(precision), "recall": float(recall), "f1": float(f1),
            "f1_ci95": [float(np.percentile(draws, 2.5)), float(np.percentile(draws, 97.5))]}


def evaluate(encoder, tagger: AspectTermTagger | None, segmenter, texts: list[str],
             targets: list[list[tuple[int, int]]], n_boot: int = 1000) -> dict:
    """Dev scores of the tagger (the aspect as the pipeline stores it, and every term) and of the parse rules it
    replaced, with the same head-word lemmatizer on both sides."""
    metrics = {}
    if tagger is not None:
        _, found = encoder.encode_and_tag(texts, tagger.terms)
        best = [best_term(text, terms) for text, terms in zip(texts, found, strict=True)]
        metrics["tagger, one aspect per sentence"] = sentence_scores(
            [term and segmenter.noun_lemma(term) for term in best], texts, targets, n_boot, lemma=segmenter.noun_lemma)
        metrics["tagger, every term (exact span)"] = span_scores([[(a, b) for a, b, _ in f] for f in found], targets,
                                                                 n_boot)
    if segmenter.has_parser_:
        metrics[f"parser rules ({segmenter.aspect_version_}), one per sentence"] = sentence_scores(
            segmenter.aspects(texts), texts, targets, n_boot, lemma=segmenter.noun_lemma)
    return metrics
