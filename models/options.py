"""The encoder's choices, importable without torch: the CLI and the flows' parameter forms offer them."""

from __future__ import annotations

BACKENDS = ("auto", "torch", "onnx", "onnx-int8", "static")
PRECISIONS = ("fp32", "fp16", "bf16")
