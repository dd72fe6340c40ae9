"""Features shared by the heads: the sentence embedding, plus cheap lexicon scores for sentiment."""

from __future__ import annotations

import functools

import numpy as np

from models.errors import ConfigError

LEXICON_FEATURES = ("vader_neg", "vader_neu", "vader_pos", "vader_compound")


@functools.cache
def _vader():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def lexicon_features(texts: list[str]) -> np.ndarray:
    analyzer = _vader()
    scores = [analyzer.polarity_scores(t) for t in texts]
    return np.array([[s["neg"], s["neu"], s["pos"], s["compound"]] for s in scores], dtype=np.float32)


def build_features(names: list[str], embeddings: np.ndarray, texts: list[str],
                   cache: dict | None = None) -> np.ndarray:
    """Concatenate the named feature blocks; ``cache`` lets several heads share computed blocks."""
    cache = {} if cache is None else cache
    blocks = []
    for name in names:
        if name == "embedding":
            blocks.append(embeddings)
        elif name == "lexicon":
            if "lexicon" not in cache:
                cache["lexicon"] = lexicon_features(texts)
            blocks.append(cache["lexicon"])
        else:
            raise ConfigError(f"unknown feature block {name!r} (known: embedding, lexicon)")
    return np.hstack(blocks).astype(np.float32)


def apply_heads(heads: dict, embeddings: np.ndarray, texts: list[str]) -> dict[str, tuple[list[str], np.ndarray]]:
    """Every head's (classes, probabilities) from one set of embeddings; feature blocks computed once.

    A head that reads text itself (``reads_text``, e.g. a Hugging Face classifier) is given the texts.
    """
    cache: dict = {}
    return {task: (list(head.classes_),
                   head.predict_proba_texts(texts) if getattr(head, "reads_text", False)
                   else head.predict_proba(build_features(list(head.features), embeddings, texts, cache)))
            for task, head in heads.items()}
