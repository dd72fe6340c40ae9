"""Any Hugging Face sequence-classification model as the sentiment head (``hf:<model id or path>``).

For users with internet or their own fine-tuned weights. It costs a second transformer pass per sentence
(the default head reads the shared embedding instead), so it is opt-in. The model's labels are mapped onto
negative / neutral / positive by name; ``label_map`` covers models whose labels are ``LABEL_0``-style.
"""

from __future__ import annotations

import numpy as np
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from models.batching import token_count_batches
from models.errors import ConfigError
from models.hub import load_pretrained
from models.labels import SENTIMENT_LABELS

_SYNONYMS = {"neg": "negative", "negative": "negative", "neu": "neutral", "neutral": "neutral", "pos": "positive",
             "positive": "positive", "1 star": "negative", "2 stars": "negative", "3 stars": "neutral",
             "4 stars": "positive", "5 stars": "positive"}


class HFSentimentHead:
    """Head-shaped wrapper: ``classes_``, ``predict_proba_texts``; reads text, not the shared embedding."""

    reads_text = True

    def __init__(self, model: str, label_map: dict[str, str] | None = None, device: str | None = None,
                 batch_size: int = 32, max_length: int = 256):
        self.model = model
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.batch_size = batch_size
        self.max_length = max_length
        self.tokenizer_ = load_pretrained(AutoTokenizer, model, "sentiment classifier")
        self.model_ = load_pretrained(AutoModelForSequenceClassification, model, "sentiment classifier")
        self.model_ = self.model_.to(self.device).eval()
        names = {int(i): str(n) for i, n in self.model_.config.id2label.items()}
        mapping = {k.lower(): v for k, v in (label_map or {}).items()}
        self.target_ = {}
        for index, name in names.items():
            target = mapping.get(name.lower()) or _SYNONYMS.get(name.lower())
            if target not in SENTIMENT_LABELS:
                raise ConfigError(f"{model}: cannot map its label {name!r} onto {SENTIMENT_LABELS}; pass a label "
                                 f"map such as {name}=negative")
            self.target_[index] = SENTIMENT_LABELS.index(target)
        self.classes_ = np.array(SENTIMENT_LABELS)
        self.features = ("text",)

    def predict_proba_texts(self, texts: list[str]) -> np.ndarray:
        """Probabilities over negative/neutral/positive (classes a model lacks get 0; same-named ones add up)."""
        out = np.zeros((len(texts), len(SENTIMENT_LABELS)), dtype=np.float32)
        with torch.inference_mode():
            for index, batch, _ in token_count_batches(self.tokenizer_, texts, self.batch_size, self.max_length):
                inputs = {name: torch.from_numpy(values).to(self.device) for name, values in batch.items()}
                probs = torch.softmax(self.model_(**inputs).logits.float(), dim=-1).cpu().numpy()
                for source, target in self.target_.items():
                    out[index, target] += probs[:, source]
        return out

    def predict(self, texts: list[str]) -> np.ndarray:
        return self.classes_[self.predict_proba_texts(texts).argmax(axis=1)]


def parse_label_map(spec: str | None) -> dict[str, str] | None:
    """``"LABEL_0=negative,LABEL_1=neutral,LABEL_2=positive"`` → dict."""
    if not spec:
        return None
    pairs = [p.split("=", 1) for p in spec.split(",") if p.strip()]
    if any(len(p) != 2 for p in pairs):
        raise ConfigError(f"label map must look like LABEL_0=negative,LABEL_1=positive, got {spec!r}")
    return {k.strip(): v.strip().lower() for k, v in pairs}
