"""Fast mode: static token embeddings distilled from the shared encoder (in the manner of Model2Vec).

Every vocabulary token goes once through the encoder (``[CLS] token [SEP]``, mean-pooled); the outputs are
projected onto the principal components learned at training time; a sentence is the mean of its tokens'
rows. No transformer runs at analysis time, so encoding costs about as much as tokenizing. The heads need
their own training on this space (``unmet train --encoder-backend static``); their accuracy cost is in
models/README.md. The projection is a committed artifact (checksummed), so the space is the same on every
machine; the token table is rebuilt from the encoder once and cached like the ONNX export.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from safetensors.numpy import load_file, save_file

from models.integrity import cached_file, sha256_file, verify_files

log = logging.getLogger(__name__)
NAME = "unmet.static_embeddings.v1"


def token_outputs(pooled: torch.nn.Module, tokenizer, device: str, batch_size: int = 1024) -> np.ndarray:
    """(vocabulary, hidden) mean-pooled encoder output of each token on its own."""
    size = len(tokenizer)
    cls, sep = tokenizer.cls_token_id, tokenizer.sep_token_id
    out = []
    with torch.inference_mode():
        for start in range(0, size, batch_size):
            ids = torch.arange(start, min(start + batch_size, size)).unsqueeze(1)
            input_ids = torch.cat([torch.full_like(ids, cls), ids, torch.full_like(ids, sep)], dim=1).to(device)
            mask = torch.ones_like(input_ids)
            out.append(pooled(input_ids, mask, torch.zeros_like(input_ids)).float().cpu().numpy())
    return np.concatenate(out)


def fit_projection(outputs: np.ndarray, dims: int) -> dict[str, np.ndarray]:
    """Principal components of the token outputs (the projection that training commits)."""
    from sklearn.decomposition import PCA

    pca = PCA(n_components=dims, svd_solver="full").fit(outputs)
    return {"mean": pca.mean_.astype(np.float32), "components": pca.components_.astype(np.float32)}


def save_projection(projection: dict[str, np.ndarray], directory: Path, encoder_version: str, version: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    save_file(projection, str(directory / "projection.safetensors"))
    config = {"name": NAME, "version": version, "encoder": encoder_version,
              "dims": int(projection["components"].shape[0]),
              "sha256": {"projection.safetensors": sha256_file(directory / "projection.safetensors")}}
    (directory / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    return directory


def load_projection(directory: Path) -> tuple[dict[str, np.ndarray], dict]:
    config = json.loads((directory / "config.json").read_text())
    verify_files(directory, config["sha256"], f"static projection {directory}")
    return load_file(str(directory / "projection.safetensors")), config


def token_table(pooled: Callable[[], torch.nn.Module], tokenizer, device: str, projection: dict[str, np.ndarray],
                cache: Path) -> np.ndarray:
    """The projected token table, from the checksummed cache, else rebuilt (a few seconds); ``pooled`` is called
    only to rebuild it, so the fast mode needs no transformer in memory once the table is cached."""
    def build() -> None:
        log.info("distilling the static token table into %s", cache)
        outputs = token_outputs(pooled(), tokenizer, device)
        save_file({"table": ((outputs - projection["mean"]) @ projection["components"].T).astype(np.float32)},
                  str(cache))

    return load_file(str(cached_file(cache, build)))["table"]


def cache_name(encoder_version: str, projection_config: dict) -> str:
    key = json.dumps([encoder_version, projection_config["sha256"], torch.__version__])
    return hashlib.sha256(key.encode()).hexdigest()[:16] + ".safetensors"


class StaticRunner:
    """Sentence = L2-normalised mean of its tokens' static vectors."""

    def __init__(self, table: np.ndarray, tokenizer, max_length: int):
        self.table_ = table
        self.tokenizer_ = tokenizer
        self.max_length = max_length

    def __call__(self, texts: list[str]) -> np.ndarray:
        ids = self.tokenizer_(texts, add_special_tokens=False, truncation=True, max_length=self.max_length)["input_ids"]
        lengths = np.array([len(row) for row in ids])
        out = np.zeros((len(texts), self.table_.shape[1]), dtype=np.float32)
        present = lengths > 0
        if present.any():
            flat = np.fromiter((i for row in ids for i in row), dtype=np.int64, count=int(lengths.sum()))
            starts = np.concatenate([[0], np.cumsum(lengths[present])[:-1]])
            out[present] = np.add.reduceat(self.table_[flat], starts, axis=0) / lengths[present, None]
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-9)
