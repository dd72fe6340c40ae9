"""Versioned registered names for the configurable parts, in the spirit of spaCy's registries.

``get("unmet.needs.v1")`` returns ``Loaded(component, card)`` for every kind: the newest need head and its
config (name, version, encoder, metrics). A new, incompatible implementation gets a new name
(``unmet.needs.v2``) instead of silently changing what an old configuration means.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from models import ARTIFACTS_DIR
from models.errors import ConfigError, NotFoundError

_REGISTRY: dict[str, Callable] = {}


def register(name: str) -> Callable[[Callable], Callable]:
    def decorate(factory: Callable) -> Callable:
        _REGISTRY[name] = factory
        return factory

    return decorate


class Loaded(NamedTuple):
    """A registered component and its card (the config it was saved with, or what describes it)."""

    component: Any
    card: dict


def get(name: str, **kwargs) -> Loaded:
    if name not in _REGISTRY:
        raise ConfigError(f"unknown component {name!r}; registered: {', '.join(sorted(_REGISTRY))}")
    return Loaded(*_REGISTRY[name](**kwargs))


def version_key(name: str) -> tuple:
    """Release numbers sort numerically (1.10.0 > 1.9.0); a name with a non-numeric part (a notebook's
    ``nb-20261123-0130``) sorts below every release, so an experiment never becomes the default silently."""
    parts = name.split(".")
    if all(p.isdigit() for p in parts):
        return (1, *map(int, parts))
    return (0, name)


def artifact_dir(task: str, version: str | None = None, root: Path | None = None, encoder: str | None = None) -> Path:
    """The directory of a trained head: the given version, else the highest one present; with ``encoder``, the
    highest one trained on that encoder's embeddings if any (the fast mode's heads live beside the default's)."""
    base = (root or ARTIFACTS_DIR) / task
    if version:
        return base / version
    versions = sorted((p for p in base.glob("*") if (p / "config.json").is_file()), key=lambda p: version_key(p.name))
    if not versions:
        raise NotFoundError(f"no trained {task} head under {base}; run `unmet train`")
    if encoder:
        matching = [p for p in versions if json.loads((p / "config.json").read_text()).get("encoder") == encoder]
        if matching:
            return matching[-1]
    return versions[-1]


def has_artifact(task: str) -> bool:
    return any((p / "config.json").is_file() for p in (ARTIFACTS_DIR / task).glob("*"))


@register("unmet.sentiment.v1")
def sentiment_head(path: str | Path | None = None, encoder: str | None = None):
    from models.heads import LinearHead

    return LinearHead.load(path or artifact_dir("sentiment", encoder=encoder))


@register("unmet.needs.v1")
def need_head(path: str | Path | None = None, encoder: str | None = None):
    from models.heads import LinearHead

    return LinearHead.load(path or artifact_dir("needs", encoder=encoder))


@register("unmet.implicit_aspects.v1")
def implicit_aspect_head(path: str | Path | None = None, encoder: str | None = None):
    """Does the sentence judge something it does not name (SemEval NULL target)? Trained on SemEval/ACOS."""
    from models.heads import LinearHead

    return LinearHead.load(path or artifact_dir("implicit_aspect", encoder=encoder))


@register("unmet.implied_aspects.v1")
def implied_aspects(path: str | Path | None = None, encoder: str | None = None):
    """The aspect a need sentence implies without naming it, voted by its nearest voc_needs neighbours."""
    from models.implied_aspects import ImpliedAspects

    return ImpliedAspects.load(path or artifact_dir("implied_aspects", encoder=encoder))


@register("unmet.aspect_terms.v1")
def aspect_term_tagger(path: str | Path | None = None, encoder: str | None = None):
    """The aspect term a sentence names, tagged on the encoder's token states (models.aspect_terms)."""
    from models.aspect_terms import AspectTermTagger

    return AspectTermTagger.load(path or artifact_dir("aspect_terms", encoder=encoder))


@register("unmet.sentiment.hf.v1")
def hf_sentiment_head(model: str, label_map: dict[str, str] | None = None, device: str | None = None):
    """Any Hugging Face sequence-classification model (id or path) as the sentiment head."""
    from models.hf_head import HFSentimentHead

    head = HFSentimentHead(model, label_map=label_map, device=device)
    return head, {"name": "unmet.sentiment.hf.v1", "version": model, "encoder": None}


@register("unmet.themes.v3")
def theme_model(**params):
    from models.themes import ThemeModel

    return ThemeModel(**params), {"name": "unmet.themes.v3", "params": params}
