"""Language of each document: py3langid's model, run on a whole batch at once.

py3langid walks its byte automaton in a Python loop, one text at a time, and was about a third of ingest time.
Here the automaton steps every text of a group at once with numpy, and one sparse product scores the batch:
the same model and rules (upper-case text lower-cased, NFC, scores scaled by 1/√bytes, softmax, aliased labels
folded), so labels and probabilities are py3langid's to float rounding.
"""

from __future__ import annotations

import functools
import re
import unicodedata

import numpy as np
from scipy import sparse

COMMON_LANGUAGES = ["en", "es", "de", "fr", "it", "pt", "nl", "sv", "da", "no", "fi", "pl", "cs", "ru", "uk", "tr",
                    "ar", "he", "fa", "hi", "bn", "zh", "ja", "ko", "vi", "th", "id", "ms", "ro", "hu", "el"]
DEFAULT = "en"  # short or unsure guesses: what most feedback is
_TWELVE_LETTERS = re.compile(r"(?:[\W\d_]*[^\W\d_]){12}")
_OPENING_CHARS = 1000  # the opening says which language a text is in
_GROUP = 256  # texts stepped together, in order of length, so short ones do not wait on long ones


@functools.cache
def _model():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(COMMON_LANGUAGES)  # rare labels (e.g. pidgins) mostly catch English slang
    labels = list(identifier.nb_classes)
    first = {label: labels.index(label) for label in labels}
    return {"next": np.asarray(identifier.tk_nextmove),
            "rowbase": np.asarray(identifier.tk_row, dtype=np.int64) << 8,
            "feature": np.asarray(identifier.tk_output, dtype=np.int64),
            "table": np.asarray(identifier.nb_ptc, dtype=np.float32), "prior": identifier.nb_pc, "labels": labels,
            "aliases": [(first[label], i) for i, label in enumerate(labels) if first[label] != i]}  # srl → sr


def _encoded(text: str) -> bytes:
    text = text[:_OPENING_CHARS]
    if text.isupper():
        text = text.lower()
    return unicodedata.normalize("NFC", text).encode("utf8", errors="surrogatepass")


def _feature_counts(encoded: list[bytes], model: dict) -> sparse.csr_matrix:
    """(texts × features) counts of the features the automaton emits along each text's bytes."""
    lengths = np.array([len(b) for b in encoded])
    rows, columns = [], []
    order = np.argsort(lengths, kind="stable")
    for start in range(0, len(order), _GROUP):
        group = order[start:start + _GROUP]
        width = int(lengths[group].max())
        if width == 0:
            continue
        data = np.zeros((len(group), width), dtype=np.int64)
        for place, index in enumerate(group):
            data[place, :lengths[index]] = np.frombuffer(encoded[index], dtype=np.uint8)
        state = np.zeros(len(group), dtype=np.int64)
        emitted = np.empty((len(group), width), dtype=np.int64)
        for step in range(width):
            state = model["next"][model["rowbase"][state] + data[:, step]]
            emitted[:, step] = model["feature"][state]
        emitted[np.arange(width) >= lengths[group][:, None]] = -1  # past a text's end
        place, step = np.nonzero(emitted >= 0)
        rows.append(group[place])
        columns.append(emitted[place, step])
    rows = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
    columns = np.concatenate(columns) if columns else np.zeros(0, dtype=np.int64)
    counts = sparse.coo_matrix((np.ones(len(rows), dtype=np.float32), (rows, columns)),
                               shape=(len(encoded), len(model["table"])))
    return counts.tocsr()  # duplicates summed


def language_scores(texts: list[str]) -> tuple[list[str], np.ndarray]:
    """(labels, probabilities: texts × labels) as py3langid's ``classify`` computes them, for a whole batch."""
    model = _model()
    encoded = [_encoded(text) for text in texts]
    counts = _feature_counts(encoded, model)
    counts.data = np.log1p(counts.data)
    scores = np.asarray(counts @ model["table"], dtype=np.float32) + model["prior"]
    scores[np.diff(counts.indptr) == 0] = 0.0  # no features: every language equally likely
    scores *= (1.0 / np.sqrt([max(len(b), 1) for b in encoded])).astype(np.float32)[:, None]
    scores = np.exp(scores - scores.max(axis=1, keepdims=True))
    scores /= scores.sum(axis=1, keepdims=True)
    for first, alias in model["aliases"]:
        scores[:, first] += scores[:, alias]
        scores[:, alias] = 0.0
    return model["labels"], scores


def detect_languages(texts: list[str]) -> list[str]:
    """ISO 639-1 code per text; texts with fewer than 12 letters in their first 200 characters, and guesses
    below even odds, are English."""
    languages = [DEFAULT] * len(texts)
    judged = [i for i, text in enumerate(texts) if _TWELVE_LETTERS.match(text, 0, 200)]
    if not judged:
        return languages
    labels, scores = language_scores([texts[i] for i in judged])
    best = scores.argmax(axis=1)
    for i, label, probability in zip(judged, best, scores[np.arange(len(judged)), best], strict=True):
        if probability >= 0.5:
            languages[i] = labels[label]
    return languages
