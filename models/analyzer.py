"""Document analysis: split (CPU) → encode once, every head reads the same embeddings and the aspect-term tagger
the same pass's token states (GPU when there is one) → tables (CPU). The three stages can run in different
processes (pipelines/flows/analyze.py). Without a tagger for the encoder (the static fast mode), the need
sentences are parsed for their aspect instead."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from models import registry
from models.encoder import SentenceEncoder
from models.errors import ConfigError
from models.features import apply_heads
from models.labels import SENTIMENT_LABELS
from models.segment import Segmenter, Sentence

# A sentence left with no words once handles, links and redaction masks are removed (a trailing "@user")
# states no need, whatever the head says about it.
CONTENTLESS_RULE = "unmet.needs.contentless.v1"
_NON_CONTENT = re.compile(r"@\w+|https?://\S+|\bhttp\b|\[(?:email|phone|card|iban|address)\]")
_LETTER = re.compile(r"[^\W\d_]")


def has_content(sentence: str) -> bool:
    return _LETTER.search(_NON_CONTENT.sub(" ", sentence)) is not None


ANALYSED_LANGUAGES = ("en",)  # the packaged heads are English; other languages are kept, marked skipped

SENTENCE_SCHEMA = pa.schema([
    ("sentence_id", pa.string()), ("feedback_id", pa.string()), ("analysis_version", pa.string()),
    ("sentence_index", pa.int32()), ("text", pa.string()), ("char_start", pa.int32()), ("char_end", pa.int32()),
    ("sentiment", pa.string()), ("sentiment_score", pa.float64()), ("sentiment_confidence", pa.float64()),
    ("sentiment_model", pa.string()), ("need_kind", pa.string()), ("need_confidence", pa.float64()),
    ("need_model", pa.string()), ("aspect", pa.string()), ("aspect_model", pa.string()),
    ("aspect_kind", pa.string()), ("aspect_kind_model", pa.string()), ("segmenter", pa.string()),
])
DOCUMENT_SCHEMA = pa.schema([
    ("feedback_id", pa.string()), ("analysis_version", pa.string()), ("status", pa.string()),
    ("sentiment", pa.string()), ("sentiment_score", pa.float64()), ("sentiment_confidence", pa.float64()),
    ("sentiment_model", pa.string()), ("n_sentences", pa.int32()),
])


@dataclass
class AnalysisBatch:
    documents: pa.Table
    sentences: pa.Table
    embeddings: pa.Table


class Analyzer:
    """Holds the loaded models; ``analyze`` labels a batch of documents."""

    def __init__(self, encoder: str | None = None, spacy_model: str | None = None,
                 sentiment_head: str | None = None, need_head: str | None = None,
                 implicit_aspect_head: str | None = None, sentiment_labels: dict[str, str] | None = None,
                 adapter: str | None = "default", languages: tuple[str, ...] = ANALYSED_LANGUAGES,
                 device: str | None = None,
                 batch_size: int | None = None, encoder_backend: str = "auto", precision: str = "fp32",
                 threads: int | None = None, aspect_term_head: str | None = None):
        self.languages = languages
        self.segmenter = Segmenter(spacy_model)
        self.encoder = SentenceEncoder(encoder, device=device, batch_size=batch_size, adapter=adapter,
                                       backend=encoder_backend, precision=precision, threads=threads)
        if sentiment_head and sentiment_head.startswith("hf:"):
            sentiment = registry.get("unmet.sentiment.hf.v1", model=sentiment_head[3:], label_map=sentiment_labels,
                                     device=device)
        else:
            sentiment = registry.get("unmet.sentiment.v1", path=sentiment_head, encoder=self.encoder.version_)
        loaded = {"sentiment": sentiment,
                  "needs": registry.get("unmet.needs.v1", path=need_head, encoder=self.encoder.version_)}
        if implicit_aspect_head or registry.has_artifact("implicit_aspect"):
            head, config = registry.get("unmet.implicit_aspects.v1", path=implicit_aspect_head,
                                        encoder=self.encoder.version_)
            if implicit_aspect_head or config.get("encoder") == self.encoder.version_:  # optional head: the
                loaded["implicit_aspect"] = (head, config)  # default one is skipped under another encoder
        self.heads = {}
        self.aspect_tagger, tagger_version = self._load_aspect_tagger(aspect_term_head)
        self.implied_aspects, implied_version = self._load_implied_aspects()
        self.versions = {"segmenter": self.segmenter.version_, "encoder": self.encoder.version_,
                         "encoder_numerics": self.encoder.numerics_, "aspects": self.segmenter.aspect_version_,
                         "aspect_lemmas": None, "need_rules": CONTENTLESS_RULE}
        if self.aspect_tagger:
            self.versions["aspects"] = tagger_version
            self.versions["aspect_lemmas"] = self.segmenter.lemma_version_
        if self.implied_aspects:
            self.versions["implied_aspects"] = implied_version
        for task, (head, config) in loaded.items():
            if config.get("encoder") not in (None, self.encoder.version_):
                raise ConfigError(f"the {task} head was trained on {config.get('encoder')} embeddings but the "
                                 f"encoder is {self.encoder.version_}: retrain with `unmet train`")
            self.heads[task] = head
            self.versions[task] = f"{config['name']}@{config['version']}"
        self.sentiment, self.needs = self.heads["sentiment"], self.heads["needs"]
        self.version = hashlib.sha256(json.dumps(self.versions, sort_keys=True).encode()).hexdigest()[:16]

    def _load_aspect_tagger(self, path: str | None) -> tuple[object | None, str | None]:
        """(tagger, its version) for this encoder; (None, None), so the parser tags aspects, for ``"parser"``, the
        static fast mode, or when no tagger was trained on this encoder's token states."""
        if path == "parser" or not self.encoder.has_token_states:
            return None, None
        if not path and not registry.has_artifact("aspect_terms"):
            return None, None
        tagger, config = registry.get("unmet.aspect_terms.v1", path=path, encoder=self.encoder.version_)
        if config.get("encoder") != self.encoder.version_:
            if path:
                raise ConfigError(f"the aspect-term tagger {path} was trained on {config.get('encoder')} token states "
                                 f"but the encoder is {self.encoder.version_}: retrain with `unmet train`")
            return None, None
        return tagger, f"{config['name']}@{config['version']}"

    def _load_implied_aspects(self) -> tuple[object | None, str | None]:
        """(model, version) of the implied-aspect vote (it reads words, so any encoder), else (None, None)."""
        if not registry.has_artifact("implied_aspects"):
            return None, None
        model, config = registry.get("unmet.implied_aspects.v1")
        return model, f"{config['name']}@{config['version']}"

    def label_texts(self, texts: list[str]) -> dict[str, tuple[list[str], np.ndarray]]:
        """Encode once; every head's (classes, probabilities) for each text."""
        return apply_heads(self.heads, self.encoder.encode(texts), texts)

    def analyze(self, feedback_ids: list[str], texts: list[str], languages: list[str],
                progress=None) -> AnalysisBatch:
        segmented = segment(self.segmenter, feedback_ids, texts, languages, self.languages)
        return assemble(self.segmenter, segmented, self.decide(segmented.sentence_texts, progress))

    def decide(self, sentence_texts: list[str], progress=None) -> Decisions:
        """The encoder pass, every head and the aspect-term tagger: the only stage that wants a GPU."""
        aspects = None
        if self.aspect_tagger:
            embeddings, aspects = self.encoder.encode_and_tag(sentence_texts, self.aspect_tagger, progress=progress)
        else:
            embeddings = self.encoder.encode(sentence_texts, progress=progress)
        heads = apply_heads(self.heads, embeddings, sentence_texts)
        implied = None
        if self.implied_aspects:  # voted for the sentences the need head calls needs, a fraction of all
            classes, probs = heads["needs"]
            needs = np.flatnonzero(np.array(classes)[probs.argmax(axis=1)] != "none")
            implied = [None] * len(sentence_texts)
            for row, aspect in zip(needs, self.implied_aspects.predict([sentence_texts[i] for i in needs]),
                                   strict=True):
                implied[row] = aspect
        return Decisions(embeddings, heads, dict(self.versions), self.version, aspects, implied)


@dataclass
class Segmented:
    """A partition split into sentences: ``owners`` pairs each sentence with its document's position."""
    feedback_ids: list[str]
    wanted: list[int]                     # positions of the documents in an analysed language
    owners: list[tuple[int, Sentence]]

    @property
    def sentence_texts(self) -> list[str]:
        return [s.text for _, s in self.owners]


@dataclass
class Decisions:
    """What the encoder and the heads decided for a partition's sentences, and the model versions that did."""
    embeddings: np.ndarray
    heads: dict[str, tuple[list[str], np.ndarray]]
    versions: dict[str, str | None]
    version: str
    aspects: list[str | None] | None = None  # the tagger's term per sentence; None: parse need sentences instead
    implied: list[str | None] | None = None  # the implied aspect voted for each need sentence; None: no such model


def segment(segmenter: Segmenter, feedback_ids: list[str], texts: list[str], languages: list[str],
            analysed: tuple[str, ...] = ANALYSED_LANGUAGES) -> Segmented:
    """Split the documents in an ``analysed`` language into sentences (CPU)."""
    wanted = [i for i, lang in enumerate(languages) if lang in analysed]
    split = segmenter.split([texts[i] for i in wanted])
    return Segmented(list(feedback_ids), wanted, [(wanted[k], s) for k, sentences in enumerate(split)
                                                  for s in sentences])


def assemble(segmenter: Segmenter, segmented: Segmented, decisions: Decisions) -> AnalysisBatch:
    """Labels, aspects of need sentences (the tagger's, lemmatized; parsed here when there is no tagger) and the
    Arrow tables of one partition."""
    here, there = ((segmenter.lemma_version_, decisions.versions["aspect_lemmas"]) if decisions.aspects is not None
                   else (segmenter.aspect_version_, decisions.versions["aspects"]))
    if here != there:
        raise ConfigError(f"the spaCy pipeline here ({here}) is not the one the partition was decided with ({there}): "
                         "load the same spaCy model everywhere")
    feedback_ids, owners, versions, version = (segmented.feedback_ids, segmented.owners, decisions.versions,
                                               decisions.version)
    sentence_texts, embeddings, decided = segmented.sentence_texts, decisions.embeddings, decisions.heads
    sentiment_classes, sentiment_probs = decided["sentiment"]
    sentiment_probs = sentiment_probs[:, [sentiment_classes.index(label) for label in SENTIMENT_LABELS]]
    need_classes, need_probs = decided["needs"]
    need_labels = np.array(need_classes)[need_probs.argmax(axis=1)]
    contentless = np.array([not has_content(t) for t in sentence_texts], dtype=bool)
    need_labels[contentless] = "none"
    aspects: list[str | None] = [None] * len(owners)
    need_rows = np.flatnonzero(need_labels != "none")
    if decisions.aspects is not None:  # the tagger read every sentence in the encoder pass: keep what it named
        aspects = [term and segmenter.noun_lemma(term) for term in decisions.aspects]
    else:  # no tagger: parse the need sentences only, a fraction of all
        for row, aspect in zip(need_rows, segmenter.aspects([sentence_texts[i] for i in need_rows]), strict=True):
            aspects[row] = aspect
    aspect_kinds: list[str | None] = [None] * len(owners)
    p_implicit = None
    if "implicit_aspect" in decided:
        aspect_classes, aspect_probs = decided["implicit_aspect"]
        aspect_kinds = [aspect_classes[i] for i in aspect_probs.argmax(axis=1)]
        p_implicit = aspect_probs[:, aspect_classes.index("implicit")]
    if decisions.implied is not None:
        aspects, aspect_kinds = resolve_aspects(aspects, aspect_kinds, p_implicit, decisions.implied, need_rows)

    sentence_ids = [hashlib.sha256(f"{feedback_ids[d]}|{version}|{s.index}".encode()).hexdigest()[:20]
                    for d, s in owners]
    polarity = sentiment_probs[:, 2] - sentiment_probs[:, 0]
    sentences = pa.Table.from_pydict({
        "sentence_id": sentence_ids,
        "feedback_id": [feedback_ids[d] for d, _ in owners],
        "analysis_version": [version] * len(owners),
        "sentence_index": [s.index for _, s in owners],
        "text": sentence_texts,
        "char_start": [s.start for _, s in owners],
        "char_end": [s.end for _, s in owners],
        "sentiment": [SENTIMENT_LABELS[i] for i in sentiment_probs.argmax(axis=1)],
        "sentiment_score": polarity.astype(float),
        "sentiment_confidence": sentiment_probs.max(axis=1).astype(float),
        "sentiment_model": [versions["sentiment"]] * len(owners),
        "need_kind": need_labels.astype(str).tolist(),
        "need_confidence": np.where(contentless, 1.0, need_probs.max(axis=1)).astype(float),
        "need_model": [versions["needs"]] * len(owners),
        "aspect": aspects,
        "aspect_model": [versions["aspects"]] * len(owners),
        "aspect_kind": [kind if label != "none" else None for kind, label in zip(aspect_kinds, need_labels,
                                                                                 strict=True)],
        "aspect_kind_model": [versions.get("implicit_aspect")] * len(owners),
        "segmenter": [versions["segmenter"]] * len(owners),
    }, schema=SENTENCE_SCHEMA)
    documents = _documents(segmented, sentiment_probs, versions, version)
    flat = pa.array(embeddings.reshape(-1), type=pa.float32())
    embedding_table = pa.Table.from_pydict({
        "sentence_id": sentence_ids,
        "encoder": [versions["encoder"]] * len(owners),
        "embedding": pa.ListArray.from_arrays(
            pa.array(np.arange(0, len(owners) + 1) * embeddings.shape[1], type=pa.int32()), flat),
    })
    return AnalysisBatch(documents, sentences, embedding_table)


IMPLIED_OVER_NAMED = 0.8  # P(implicit) from the aspect-kind head above which the implied aspect replaces a named
# term: on voc_needs dev need sentences, named aspects found 0.590 and aspect kind right 0.842 (at 0.5: 0.565, 0.830)


def resolve_aspects(named: list[str | None], kinds: list[str | None], p_implicit: np.ndarray | None,
                    implied: list[str | None], need_rows) -> tuple[list[str | None], list[str | None]]:
    """One aspect per need sentence: the implied one where the aspect-kind head is confident the sentence names
    none, or where the tagger found no term; else the named term. ``aspect_kind`` then says which it is."""
    aspects, resolved = list(named), list(kinds)
    for row in need_rows:
        confident = p_implicit is not None and p_implicit[row] >= IMPLIED_OVER_NAMED
        if implied[row] and (confident or not named[row]):
            aspects[row], resolved[row] = implied[row], "implicit"
        elif named[row]:
            resolved[row] = "explicit"
    return aspects, resolved


def _documents(segmented: Segmented, sentiment_probs: np.ndarray, versions: dict, version: str) -> pa.Table:
    """Document sentiment: the mean of its sentences' probabilities."""
    by_doc: dict[int, list[int]] = {}
    for row, (d, _) in enumerate(segmented.owners):
        by_doc.setdefault(d, []).append(row)
    analysed = set(segmented.wanted)
    rows = []
    for d, feedback_id in enumerate(segmented.feedback_ids):
        base = {"feedback_id": feedback_id, "analysis_version": version, "sentiment_model": versions["sentiment"]}
        if d not in analysed:
            rows.append({**base, "status": "skipped_language", "n_sentences": 0})
            continue
        members = by_doc.get(d, [])
        if not members:
            rows.append({**base, "status": "analyzed", "n_sentences": 0})
            continue
        mean = sentiment_probs[members].mean(axis=0)
        rows.append({**base, "status": "analyzed", "n_sentences": len(members),
                     "sentiment": SENTIMENT_LABELS[int(mean.argmax())],
                     "sentiment_score": float(mean[2] - mean[0]), "sentiment_confidence": float(mean.max())})
    return pa.Table.from_pylist(rows, schema=DOCUMENT_SCHEMA)
