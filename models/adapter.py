"""Encoder adapters: what multi-task tuning changed in the shared encoder, stored pickle-free and merged into
the base weights at load, so inference is exactly one pass of the unmodified architecture.

Two kinds: ``lora`` (``unmet.encoder_adapter.v1``: low-rank deltas of the linear layers, a few hundred KB) and
``delta`` (``unmet.encoder_delta.v2``: full fine-tuning of every transformer layer, the embeddings frozen,
stored as fp16 differences to the base weights, about 21 MB instead of a 90 MB model copy; a difference is
small, so fp16 keeps it to ~1e-7 of the weight where fp16 weights would round them to ~1e-4).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from models.errors import ConfigError, NotFoundError
from models.integrity import IntegrityError, sha256_file

ADAPTER_FILE = "adapter.safetensors"
DELTA_FILE = "delta.safetensors"
CONFIG_FILE = "config.json"
DEFAULT_TARGETS = ("query", "key", "value", "attention.output.dense", "intermediate.dense", "output.dense")


class LoRALinear(torch.nn.Module):
    """``base(x) + scale · B(A(x))`` with ``B`` starting at zero, so training starts from the base model."""

    def __init__(self, base: torch.nn.Linear, rank: int, alpha: float):
        super().__init__()
        self.base = base
        self.scale = alpha / rank
        self.lora_a = torch.nn.Parameter(torch.empty(rank, base.in_features))
        self.lora_b = torch.nn.Parameter(torch.zeros(base.out_features, rank))
        torch.nn.init.kaiming_uniform_(self.lora_a, a=math.sqrt(5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + (x @ self.lora_a.T @ self.lora_b.T) * self.scale


def _targets(model: torch.nn.Module, targets: tuple[str, ...]) -> list[str]:
    names = [name for name, module in model.named_modules()
             if isinstance(module, torch.nn.Linear) and ".layer." in f".{name}"
             and any(name.endswith("." + t) or name == t for t in targets)]
    # "output.dense" also matches "attention.output.dense"; the set keeps each module once
    return sorted(set(names))


def attach(model: torch.nn.Module, rank: int = 8, alpha: float = 16.0,
           targets: tuple[str, ...] = DEFAULT_TARGETS) -> list[str]:
    """Freeze ``model`` and wrap the target linear layers in trainable adapters; returns their names."""
    for parameter in model.parameters():
        parameter.requires_grad = False
    names = _targets(model, targets)
    if not names:
        raise ConfigError(f"no linear layer of the encoder matches {targets}")
    for name in names:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name)
        setattr(parent, child, LoRALinear(getattr(parent, child), rank, alpha))
    return names


def adapter_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {f"{name}.{part}": getattr(module, part).detach().cpu().contiguous()
            for name, module in model.named_modules() if isinstance(module, LoRALinear)
            for part in ("lora_a", "lora_b")}


def detach(model: torch.nn.Module) -> None:
    """Merge trained adapters into their base layers and unwrap them (used after training)."""
    for name, module in list(model.named_modules()):
        if isinstance(module, LoRALinear):
            with torch.no_grad():
                module.base.weight += (module.lora_b @ module.lora_a) * module.scale
            parent_name, _, child = name.rpartition(".")
            setattr(model.get_submodule(parent_name), child, module.base)


def save(model: torch.nn.Module, directory: str | Path, metadata: dict) -> Path:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    save_file({k: v.half() for k, v in adapter_state(model).items()}, str(directory / ADAPTER_FILE))
    config = {**metadata, "sha256": {ADAPTER_FILE: sha256_file(directory / ADAPTER_FILE)}}
    (directory / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n")
    return directory


def layer_parameters(model: torch.nn.Module) -> dict[str, torch.nn.Parameter]:
    """The transformer layers' parameters: what full fine-tuning trains (embeddings and pooler stay frozen, so a
    delta holds about half the model's parameters)."""
    return {name: p for name, p in model.named_parameters() if ".layer." in f".{name}"}


def unfreeze_layers(model: torch.nn.Module) -> list[str]:
    """Freeze ``model`` but its transformer layers; returns the trainable parameters' names."""
    trainable = layer_parameters(model)
    for name, parameter in model.named_parameters():
        parameter.requires_grad = name in trainable
    if not trainable:
        raise ConfigError("the encoder has no parameters under a '.layer.' module to fine-tune")
    return sorted(trainable)


def save_delta(model: torch.nn.Module, base_state: dict[str, torch.Tensor], directory: str | Path,
               metadata: dict) -> Path:
    """Write the fine-tuned layers as fp16 differences to ``base_state`` (the weights before tuning)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    deltas = {name: (p.detach().cpu().float() - base_state[name].float()).half().contiguous()
              for name, p in layer_parameters(model).items()}
    save_file(deltas, str(directory / DELTA_FILE))
    config = {**metadata, "kind": "delta", "sha256": {DELTA_FILE: sha256_file(directory / DELTA_FILE)}}
    (directory / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n")
    return directory


def weights_file(config: dict) -> str:
    return DELTA_FILE if config.get("kind") == "delta" else ADAPTER_FILE


def read_config(directory: str | Path) -> dict:
    path = Path(directory) / CONFIG_FILE
    if not path.is_file():
        raise NotFoundError(f"no encoder adapter at {directory} (missing {CONFIG_FILE})")
    return json.loads(path.read_text())


def verified_config(directory: str | Path, base_version: str) -> dict:
    """The adapter's config, after checking its checksum and that it was trained on ``base_version``."""
    directory = Path(directory)
    config = read_config(directory)
    name = weights_file(config)
    expected, actual = config["sha256"][name], sha256_file(directory / name)
    if expected != actual:
        raise IntegrityError(f"{directory / name}: sha256 {actual[:12]}… does not match its config "
                             f"({expected[:12]}…); the artifact was modified")
    if config["base_encoder"] != base_version:
        raise ConfigError(f"adapter {directory} was trained on {config['base_encoder']}, not {base_version}")
    return config


def merge(model: torch.nn.Module, directory: str | Path, base_version: str) -> dict:
    """Add the stored deltas (full or low-rank) to ``model``'s weights in place after checking checksum and base."""
    directory = Path(directory)
    config = verified_config(directory, base_version)
    weights = load_file(str(directory / weights_file(config)))
    if config.get("kind") == "delta":
        parameters = dict(model.named_parameters())
        missing = sorted(set(weights) - set(parameters))
        if missing:
            raise ConfigError(f"encoder delta {directory} changes {missing[0]}, which the encoder does not have")
        with torch.no_grad():
            for name, delta in weights.items():
                parameters[name] += delta.to(parameters[name].dtype)
        return config
    scale = config["alpha"] / config["rank"]
    with torch.no_grad():
        for name in {key.rsplit(".", 1)[0] for key in weights}:
            layer = model.get_submodule(name)
            delta = weights[f"{name}.lora_b"].float() @ weights[f"{name}.lora_a"].float()
            layer.weight += (delta * scale).to(layer.weight.dtype)
    return config
