"""Multi-task LoRA tuning of the shared encoder: every head's training data shapes one adapter.

Each step draws a batch from one (task, data set) pair, runs the encoder with adapters, mean-pools, and
applies that pair's temporary linear layer. Only the adapter is kept; the
deployable heads are refitted afterwards on the adapted embeddings (``models.train``).
"""

from __future__ import annotations

import logging
import random
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch

from models import ARTIFACTS_DIR, adapter, datasets
from models.encoder import SentenceEncoder

log = logging.getLogger(__name__)
TASKS = {"sentiment": datasets.SENTIMENT_LABELS, "needs": datasets.NEED_LABELS,
         "implicit_aspect": datasets.IMPLICIT_ASPECT_LABELS}
ADAPTER_NAME = "unmet.encoder_adapter.v1"
DEFAULT_OVERSAMPLE = {"maalej2016": 2, "clap2017": 2}
LOGIT_SCALE = 20.0  # pooled embeddings are unit length; a fixed temperature lets a linear layer separate them


def model_card(config: dict) -> str:
    """MODEL_CARD.md of an adapter: what it is, how it was trained, on what, under which terms."""
    lines = [f"# {config['name']} version {config['version']}", "",
             f"LoRA adapter (rank {config['rank']}, alpha {config['alpha']}) for {config['base_encoder']}, on "
             f"{len(config['modules'])} linear layers ({', '.join(config['targets'])}). It is merged into the "
             "encoder weights at load, so inference is one pass of the unchanged architecture. Weights "
             f"`adapter.safetensors` (fp16, sha256 `{config['sha256']['adapter.safetensors']}`, checked at load), "
             "no pickle.", "",
             f"Trained {config['trained_at']}: {config['epochs']} epochs, batch {config['batch_size']}, AdamW lr "
             f"{config['lr']} one-cycle, max {config['max_length']} tokens, seed {config['seed']}, "
             f"{config['training']['steps']} steps in {config['training']['seconds']:.0f} s on CPU; one temporary "
             f"classifier per (task, data set); oversampled: {config.get('oversample') or 'none'}.", "",
             "## Training data (train rows only; dev rows by the hash rule in models/README.md)", "",
             "| task / set | rows | license |", "|---|---|---|"]
    for key, entry in config["training_rows"].items():
        lines.append(f"| {key} | {entry['rows']} | {entry['license']} |")
    lines += ["", "Inherits the most restrictive terms: non-commercial research use.", "",
              "## Metrics", "", "The adapter has no output of its own; the heads of the same version report dev "
              "metrics with 95 % intervals in their model cards (`unmet eval` reproduces them).", ""]
    return "\n".join(lines)


def _batches(lengths: list[int], batch_size: int, rng: random.Random) -> list[list[int]]:
    """Shuffled batches of similar length (sort within windows of 50 batches) to pad little."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    window = batch_size * 50
    batches = []
    for start in range(0, len(order), window):
        chunk = sorted(order[start:start + window], key=lambda i: lengths[i])
        batches += [chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size)]
    return batches


def finetune_encoder(data_dir: str | Path, version: str, out_dir: Path = ARTIFACTS_DIR, rank: int = 8,
                     alpha: float = 16.0, epochs: int = 2, batch_size: int = 32, lr: float = 5e-4,
                     max_length: int = 96, seed: int = 0, limit: int | None = None,
                     extra: dict[str, tuple[list[str], list[str]]] | None = None,
                     oversample: dict[str, int] | None = None, overwrite: bool = False) -> dict:
    """Train and save an adapter under ``out_dir/encoder/<version>``; returns training statistics.

    ``limit`` caps rows per labelled set (for notebooks and tests); ``extra`` adds (texts, labels) per task,
    for example human corrections from the warehouse; ``oversample`` repeats small sets (default: the two
    app-review sets twice, since their explicit requests are the rarest and hardest class).
    """
    oversample = DEFAULT_OVERSAMPLE if oversample is None else oversample
    directory = Path(out_dir) / "encoder" / version
    if (directory / adapter.CONFIG_FILE).exists() and not overwrite:
        raise FileExistsError(f"{directory} exists; choose a new --version")
    torch.manual_seed(seed)
    rng = random.Random(seed)
    encoder = SentenceEncoder(adapter=None)
    model, tokenizer = encoder.model_.train(), encoder.tokenizer_
    adapted = adapter.attach(model, rank=rank, alpha=alpha)

    # One temporary classifier per (task, data set): the sets label differently (a negative app rating is "none"
    # in Maalej 2016, a negative SemEval opinion "implicit"), and separate heads let the encoder serve both.
    groups: dict[str, tuple[list[str], list[str]]] = {}
    rows = {}
    for task in TASKS:
        for labelled in datasets.training_sets(task, data_dir):
            n = min(len(labelled), limit or len(labelled))
            groups[f"{task}/{labelled.name}"] = (labelled.texts[:n] * oversample.get(labelled.name, 1),
                                                 labelled.labels[:n] * oversample.get(labelled.name, 1))
            rows[f"{task}/{labelled.name}"] = {"rows": n, "license": labelled.license}
        if extra and task in extra and extra[task][0]:
            groups[f"{task}/corrections"] = (list(extra[task][0]), list(extra[task][1]))
            rows[f"{task}/corrections"] = {"rows": len(extra[task][0]), "license": "your own labels"}
    data, heads = {}, torch.nn.ModuleDict()
    for key, (texts, ys) in groups.items():
        labels = TASKS[key.split("/")[0]]
        y = torch.tensor([labels.index(label) for label in ys])
        counts = torch.bincount(y, minlength=len(labels)).clamp(min=1).float()
        data[key] = (texts, y, (counts.sum() / (len(labels) * counts)).sqrt())  # softened class balance
        heads[key.replace("/", "__")] = torch.nn.Linear(encoder.dim_, len(labels))

    parameters = [p for p in model.parameters() if p.requires_grad] + list(heads.parameters())
    optimizer = torch.optim.AdamW(parameters, lr=lr, weight_decay=0.01)
    plan = []
    for _ in range(epochs):
        epoch = [(task, batch) for task, (texts, _, _) in data.items()
                 for batch in _batches([len(t) for t in texts], batch_size, rng)]
        rng.shuffle(epoch)
        plan += epoch
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=len(plan), pct_start=0.06)
    started, losses = time.time(), []
    for step, (task, batch) in enumerate(plan, 1):
        texts, y, weights = data[task]
        tokens = tokenizer([texts[i] for i in batch], padding=True, truncation=True, max_length=max_length,
                           return_tensors="pt")
        hidden = model(**tokens).last_hidden_state
        mask = tokens["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9), dim=-1)
        logits = heads[task.replace("/", "__")](pooled * LOGIT_SCALE)
        loss = torch.nn.functional.cross_entropy(logits, y[batch], weight=weights)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()
        losses.append(loss.item())
        if step % 100 == 0 or step == len(plan):
            log.info("step %d/%d loss %.3f (%.0f texts/s)", step, len(plan), np.mean(losses[-100:]),
                     step * batch_size / (time.time() - started))
    model.eval()
    stats = {"steps": len(plan), "seconds": round(time.time() - started, 1),
             "final_loss": float(np.mean(losses[-100:]))}
    adapter.save(model, directory, {
        "name": ADAPTER_NAME, "version": version, "base_encoder": encoder.version_, "rank": rank, "alpha": alpha,
        "targets": list(adapter.DEFAULT_TARGETS), "modules": adapted, "epochs": epochs, "batch_size": batch_size,
        "lr": lr, "max_length": max_length, "oversample": oversample, "seed": seed, "training_rows": rows,
        "training": stats,
        "trained_at": datetime.now(UTC).date().isoformat(),
    })
    config = adapter.read_config(directory)
    (directory / "MODEL_CARD.md").write_text(model_card(config))
    return {"path": str(directory), "rows": rows, **stats}
