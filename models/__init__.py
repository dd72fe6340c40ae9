"""NLP models of unmet: segmentation, the shared sentence encoder, the heads that read its
embeddings (sentiment, needs), aspect extraction and the theme model, with their trained artifacts."""

from pathlib import Path

ARTIFACTS_DIR = Path(__file__).resolve().parent / "artifacts"
