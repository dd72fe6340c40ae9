"""Multi-task tuning of the shared encoder: every head's training data shapes one encoder.

Each step draws a batch from one group of rows (a data set, possibly labelled for several tasks at once:
voc_needs carries need kind, sentiment and aspect kind on the same sentences), runs the encoder, mean-pools,
and applies that group's temporary linear layer per task; the aspect-span group trains a temporary B/I/O layer
on the token states instead. Only the encoder change is kept (``mode="full"``: every transformer layer, stored
as an fp16 delta; ``mode="lora"``: low-rank adapters); the deployable heads are refitted afterwards on the tuned
embeddings and token states (``models.train``).
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch

from models import ARTIFACTS_DIR, adapter, datasets
from models.encoder import SentenceEncoder
from models.errors import AlreadyExistsError, ConfigError
from models.labels import TASK_LABELS

log = logging.getLogger(__name__)
NAMES = {"lora": "unmet.encoder_adapter.v1", "delta": "unmet.encoder_delta.v2"}
LOGIT_SCALE = 20.0  # pooled embeddings are unit length; a fixed temperature lets a linear layer separate them
IGNORE = -100  # a row without a label for a task (cross-entropy skips it)
SPAN_GROUP = "aspect_terms/semeval_acos_voc"


@dataclass(frozen=True)
class GroupSpec:
    """Which labelled sets form a group, how many of its rows one epoch draws (None: all) and its loss weight."""
    sets: tuple[tuple[str, str], ...]  # (task, set name) labelling the same texts
    per_epoch: int | None = None
    weight: float = 1.0


# Decided on the voc_needs dev rows (models/README.md, "How the default models are trained"): voc_needs defines
# need kind; the other sets add sentiment and their own readings of app reviews through temporary heads of their
# own, drawn in small shares so that the task itself dominates every epoch.
DEFAULT_MIX = {
    "voc_needs": GroupSpec((("needs", "voc_needs"), ("sentiment", "voc_needs"), ("implicit_aspect", "voc_needs"))),
    "semeval_tweets": GroupSpec((("sentiment", "semeval_tweets"),), per_epoch=5000),
    "airline_tweets": GroupSpec((("sentiment", "airline_tweets"),), per_epoch=3000),
    "semeval_absa": GroupSpec((("sentiment", "semeval_absa"),), per_epoch=2500),
    "sst2": GroupSpec((("sentiment", "sst2"),), per_epoch=1500, weight=0.5),
    "maalej2016": GroupSpec((("needs", "maalej2016"),), per_epoch=1000, weight=0.5),
    "clap2017": GroupSpec((("needs", "clap2017"),), per_epoch=1000, weight=0.5),
    SPAN_GROUP: GroupSpec((), per_epoch=4000, weight=0.5),
}


@dataclass
class Group:
    """The rows of one group: texts, one label tensor per task (IGNORE where a row has none), class weights."""
    spec: GroupSpec
    texts: list[str]
    labels: dict[str, torch.Tensor] = field(default_factory=dict)
    class_weights: dict[str, torch.Tensor] = field(default_factory=dict)
    spans: list[list[tuple[int, int]]] | None = None  # the aspect-span group

    def draw(self, rng: random.Random) -> list[int]:
        rows = list(range(len(self.texts)))
        if self.spec.per_epoch and self.spec.per_epoch < len(rows):
            rows = rng.sample(rows, self.spec.per_epoch)
        return rows


def build_groups(data_dir: str | Path, mix: dict[str, GroupSpec], limit: int | None = None,
                 extra: dict[str, tuple[list[str], list[str]]] | None = None) -> tuple[dict[str, Group], dict]:
    """The groups of ``mix`` from the train rows (``limit`` caps rows per set), plus human corrections."""
    groups, rows = {}, {}
    for key, spec in mix.items():
        if key == SPAN_GROUP:
            terms = datasets.aspect_terms(data_dir).part("train")
            terms = terms.first(limit) if limit else terms
            groups[key] = Group(spec, terms.texts, spans=terms.targets)
            rows[key] = {"rows": len(terms), "license": terms.license}
            continue
        by_task: dict[str, dict[str, str]] = {}
        for task, name in spec.sets:
            labelled = datasets.training_sets(task, data_dir, names=(name,))[0]
            n = min(len(labelled), limit or len(labelled))
            by_task[task] = dict(zip(labelled.texts[:n], labelled.labels[:n], strict=True))
            rows[f"{task}/{name}"] = {"rows": n, "license": labelled.license}
        texts = list(dict.fromkeys(t for labelled in by_task.values() for t in labelled))
        groups[key] = _labelled_group(spec, texts, by_task)
    for task, (texts, labels) in (extra or {}).items():
        if texts:
            groups[f"{task}/corrections"] = _labelled_group(GroupSpec(((task, "corrections"),)), list(texts),
                                                            {task: dict(zip(texts, labels, strict=True))})
            rows[f"{task}/corrections"] = {"rows": len(texts), "license": "your own labels"}
    return groups, rows


def _labelled_group(spec: GroupSpec, texts: list[str], by_task: dict[str, dict[str, str]]) -> Group:
    group = Group(spec, texts)
    for task, labelled in by_task.items():
        classes = TASK_LABELS[task]
        y = torch.tensor([classes.index(labelled[t]) if t in labelled else IGNORE for t in texts])
        counts = torch.bincount(y[y != IGNORE], minlength=len(classes)).clamp(min=1).float()
        group.labels[task] = y
        group.class_weights[task] = (counts.sum() / (len(classes) * counts)).sqrt()  # softened class balance
    return group


def _batches(rows: list[int], lengths: list[int], batch_size: int, rng: random.Random) -> list[list[int]]:
    """Shuffled batches of similar length (sorted within windows of 50 batches) to pad little."""
    order = list(rows)
    rng.shuffle(order)
    window = batch_size * 50
    batches = []
    for start in range(0, len(order), window):
        chunk = sorted(order[start:start + window], key=lambda i: lengths[i])
        batches += [chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size)]
    return batches


def token_targets(offsets: torch.Tensor, spans: list[list[tuple[int, int]]], special: torch.Tensor) -> torch.Tensor:
    """B/I/O class per token (0 O, 1 B, 2 I; IGNORE for special and padding tokens) from character spans."""
    targets = torch.zeros(offsets.shape[:2], dtype=torch.long)
    for row, row_spans in enumerate(spans):
        for start, end in row_spans:
            inside = (offsets[row, :, 0] >= start) & (offsets[row, :, 1] <= end) & (offsets[row, :, 1] > 0)
            positions = torch.nonzero(inside).flatten()
            if len(positions):
                targets[row, positions] = 2
                targets[row, positions[0]] = 1
    targets[special.bool()] = IGNORE
    return targets


def model_card(config: dict) -> str:
    """MODEL_CARD.md of an encoder adapter or delta: what it is, how it was trained, on what, under which terms."""
    if config.get("kind") == "delta":
        what = (f"Full fine-tuning of every transformer layer of {config['base_encoder']} (embeddings frozen), stored "
                f"as fp16 differences to the base weights in `delta.safetensors` (sha256 "
                f"`{config['sha256']['delta.safetensors']}`, checked at load), no pickle.")
    else:
        what = (f"LoRA adapter (rank {config['rank']}, alpha {config['alpha']}) for {config['base_encoder']}, on "
                f"{len(config['modules'])} linear layers. Weights `adapter.safetensors` (fp16, sha256 "
                f"`{config['sha256']['adapter.safetensors']}`, checked at load), no pickle.")
    training = config["training"]
    lines = [f"# {config['name']} version {config['version']}", "", what + " It is merged into the encoder weights "
             "at load, so inference is one pass of the unchanged architecture.", "",
             f"Trained {config['trained_at']} on {training.get('where', 'CPU')}: {config['epochs']} epochs, batch "
             f"{config['batch_size']}, AdamW lr {config['lr']} one-cycle, max {config['max_length']} tokens, seed "
             f"{config['seed']}, {training['steps']} steps ({training['texts']} texts) in {training['seconds']:.0f} s; "
             "one temporary classifier per (group, task), a temporary B/I/O layer on the token states for the "
             "aspect spans.", "",
             "## Training data (train rows only; voc_needs dev rows and every text containing one left out)", "",
             "| task / set | rows | rows per epoch | loss weight | license |", "|---|---|---|---|---|"]
    for key, entry in config["training_rows"].items():
        lines.append(f"| {key} | {entry['rows']} | {entry.get('per_epoch') or 'all'} | {entry.get('weight', 1.0)} | "
                     f"{entry['license']} |")
    lines += ["", "Inherits the most restrictive terms: non-commercial research use.", "",
              "## Metrics", "", "The encoder has no output of its own; the heads of the same version report dev "
              "metrics with 95 % intervals in their model cards (`unmet eval` reproduces them).", ""]
    return "\n".join(lines)


def finetune_encoder(data_dir: str | Path, version: str, out_dir: Path = ARTIFACTS_DIR, mode: str = "full",
                     rank: int = 32, alpha: float = 32.0, epochs: int = 4, batch_size: int = 32,
                     lr: float | None = None, max_length: int = 96, seed: int = 0, limit: int | None = None,
                     mix: dict[str, GroupSpec] | None = None,
                     extra: dict[str, tuple[list[str], list[str]]] | None = None, overwrite: bool = False,
                     topic_weight: float = 0.0) -> dict:
    """Tune the encoder and save it under ``out_dir/encoder/<version>``; returns training statistics.

    ``topic_weight`` > 0 keeps what the untuned encoder knows about topics: each sentence batch also pays that
    weight × the mean squared difference between the batch's cosine-similarity matrices under the tuned and the
    frozen untuned encoder, so sentences about the same thing stay close while the heads' directions are learnt
    (themes are clustered on the same embedding, and tuning for needs alone scattered them).

    ``mode``: ``full`` (every transformer layer; default lr 5e-5) or ``lora`` (rank ``rank``; default lr 5e-4).
    ``limit`` caps rows per labelled set (for notebooks and tests); ``mix`` replaces the default groups;
    ``extra`` adds (texts, labels) per task, for example human corrections from the warehouse.
    """
    if mode not in ("full", "lora"):
        raise ConfigError(f"mode must be full or lora, not {mode!r}")
    lr = lr or (5e-5 if mode == "full" else 5e-4)
    directory = Path(out_dir) / "encoder" / version
    if (directory / adapter.CONFIG_FILE).exists() and not overwrite:
        raise AlreadyExistsError(f"{directory} exists; choose a new --version")
    torch.manual_seed(seed)
    rng = random.Random(seed)
    encoder = SentenceEncoder(adapter=None, backend="torch")
    model, tokenizer = encoder.model_.train(), encoder.tokenizer_
    if mode == "full":  # the delta is taken against these weights
        base_state = {name: p.detach().clone() for name, p in adapter.layer_parameters(model).items()}
        trained = adapter.unfreeze_layers(model)
    else:
        trained = adapter.attach(model, rank=rank, alpha=alpha)

    teacher = SentenceEncoder(adapter=None, backend="torch").model_.eval() if topic_weight > 0 else None
    mix = DEFAULT_MIX if mix is None else mix
    groups, rows = build_groups(data_dir, mix, limit, extra)
    for key, group in groups.items():
        for task_set in [key] if group.spans is not None else [f"{t}/{n}" for t, n in group.spec.sets]:
            rows[task_set].update(per_epoch=group.spec.per_epoch, weight=group.spec.weight)
    heads = torch.nn.ModuleDict()
    for key, group in groups.items():
        for task in group.labels:
            heads[_head_name(key, task)] = torch.nn.Linear(encoder.dim_, len(TASK_LABELS[task]))
    if SPAN_GROUP in groups:
        heads["span_tags"] = torch.nn.Linear(encoder.dim_, 3)
    lengths = {key: [len(t) for t in group.texts] for key, group in groups.items()}

    parameters = [p for p in model.parameters() if p.requires_grad] + list(heads.parameters())
    optimizer = torch.optim.AdamW(parameters, lr=lr, weight_decay=0.01)
    plan = []
    for _ in range(epochs):
        epoch = [(key, batch) for key, group in groups.items()
                 for batch in _batches(group.draw(rng), lengths[key], batch_size, rng)]
        rng.shuffle(epoch)
        plan += epoch
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=len(plan), pct_start=0.06)
    started, losses, seen = time.time(), [], 0
    for step, (key, batch) in enumerate(plan, 1):
        group = groups[key]
        texts = [group.texts[i] for i in batch]
        loss = _span_loss(model, tokenizer, heads, group, batch, texts, max_length) if group.spans is not None \
            else _sentence_loss(model, tokenizer, heads, key, group, batch, texts, max_length, teacher, topic_weight)
        loss = loss * group.spec.weight
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(parameters, 1.0)
        optimizer.step()
        scheduler.step()
        losses.append(loss.item())
        seen += len(batch)
        if step % 100 == 0 or step == len(plan):
            log.info("step %d/%d loss %.3f (%.0f texts/s)", step, len(plan), np.mean(losses[-100:]),
                     seen / (time.time() - started))
    model.eval()
    where = torch.cuda.get_device_name() if encoder.device == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    stats = {"steps": len(plan), "texts": seen, "seconds": round(time.time() - started, 1),
             "final_loss": float(np.mean(losses[-100:])), "where": where}
    metadata = {"name": NAMES["delta" if mode == "full" else "lora"], "version": version,
                "base_encoder": encoder.version_, "mode": mode, "epochs": epochs, "batch_size": batch_size, "lr": lr,
                "max_length": max_length, "seed": seed, "topic_weight": topic_weight, "training_rows": rows,
                "training": stats,
                "trained_at": datetime.now(UTC).date().isoformat()}
    if mode == "full":
        adapter.save_delta(model, base_state, directory, {**metadata, "parameters": len(trained)})
    else:
        adapter.save(model, directory, {**metadata, "rank": rank, "alpha": alpha,
                                        "targets": list(adapter.DEFAULT_TARGETS), "modules": trained})
    config = adapter.read_config(directory)
    (directory / "MODEL_CARD.md").write_text(model_card(config))
    return {"path": str(directory), "rows": rows, **stats}


def _head_name(key: str, task: str) -> str:
    return f"{key}__{task}".replace("/", "__").replace(".", "_")


def _pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9), dim=-1)


def _sentence_loss(model, tokenizer, heads, key: str, group: Group, batch: list[int], texts: list[str],
                   max_length: int, teacher=None, topic_weight: float = 0.0) -> torch.Tensor:
    tokens = tokenizer(texts, padding=True, truncation=True, max_length=max_length, return_tensors="pt")
    hidden = model(**tokens).last_hidden_state
    pooled = _pool(hidden, tokens["attention_mask"])
    loss = hidden.new_zeros(())
    if teacher is not None:
        with torch.no_grad():
            untuned = _pool(teacher(**tokens).last_hidden_state, tokens["attention_mask"])
        loss = loss + topic_weight * torch.nn.functional.mse_loss(pooled @ pooled.T, untuned @ untuned.T)
    for task, y in group.labels.items():
        targets = y[batch]
        if (targets != IGNORE).any():
            logits = heads[_head_name(key, task)](pooled * LOGIT_SCALE)
            loss = loss + torch.nn.functional.cross_entropy(logits, targets, weight=group.class_weights[task],
                                                            ignore_index=IGNORE)
    return loss


def _span_loss(model, tokenizer, heads, group: Group, batch: list[int], texts: list[str],
               max_length: int) -> torch.Tensor:
    tokens = tokenizer(texts, padding=True, truncation=True, max_length=max_length, return_tensors="pt",
                       return_offsets_mapping=True, return_special_tokens_mask=True)
    offsets, special = tokens.pop("offset_mapping"), tokens.pop("special_tokens_mask")
    special = special | (tokens["attention_mask"] == 0)
    targets = token_targets(offsets, [group.spans[i] for i in batch], special)
    hidden = model(**tokens).last_hidden_state
    logits = heads["span_tags"](hidden)
    return torch.nn.functional.cross_entropy(logits.reshape(-1, 3), targets.reshape(-1), ignore_index=IGNORE)
