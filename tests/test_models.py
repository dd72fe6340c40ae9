import time

import numpy as np
import pytest

from models import integrity, registry
from models.errors import ConfigError
from models.heads import LinearHead
from models.integrity import IntegrityError, sha256_file
from models.segment import Segmenter


def toy_data(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(240, 16)).astype(np.float32)
    y = np.array(["explicit", "implicit", "none"])[X[:, :3].argmax(axis=1)]
    return X, y


def test_head_overfits_saves_reloads_and_predicts_the_same(tmp_path):
    X, y = toy_data()
    head = LinearHead(C=100.0).fit(X, y)
    assert (head.predict(X) == y).mean() > 0.95
    head.save(tmp_path / "needs", {"name": "unmet.needs.v1", "version": "test", "encoder": "toy"})
    loaded, config = LinearHead.load(tmp_path / "needs")
    np.testing.assert_allclose(loaded.predict_proba(X), head.predict_proba(X), rtol=1e-6)
    assert config["name"] == "unmet.needs.v1" and (tmp_path / "needs" / "head.safetensors").stat().st_size < 10_000


def test_binary_head_keeps_softmax_form():
    X, y = toy_data()
    binary = np.where(y == "none", "none", "need")
    head = LinearHead().fit(X, binary)
    assert head.predict_proba(X).shape == (len(X), 2)
    assert (head.predict(X) == binary).mean() > 0.9


def test_a_settled_model_file_is_hashed_once_and_again_after_any_write(tmp_path, monkeypatch):
    hashed = []
    real_sha256 = integrity.hashlib.sha256
    monkeypatch.setattr(integrity.hashlib, "sha256", lambda: hashed.append(1) or real_sha256())
    weights = tmp_path / "weights.bin"
    weights.write_bytes(b"a" * 4096)
    fresh = sha256_file(weights)
    assert sha256_file(weights) == fresh and len(hashed) == 2  # just written: not kept, it could still change
    real_now = integrity.time.time_ns
    monkeypatch.setattr(integrity.time, "time_ns", lambda: real_now() + 10_000_000_000)  # ten seconds later
    assert sha256_file(weights) == sha256_file(weights) == fresh and len(hashed) == 3  # settled: hashed once
    time.sleep(0.05)  # file times move in ticks of a few ms: a write in a later tick than the check
    weights.write_bytes(b"b" * 4096)  # same size, same inode
    assert sha256_file(weights) != fresh and len(hashed) == 4


def test_tampered_artifact_fails_loudly(tmp_path):
    X, y = toy_data()
    LinearHead().fit(X, y).save(tmp_path / "h", {"name": "x", "version": "1", "encoder": "toy"})
    weights = tmp_path / "h" / "head.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match="modified"):
        LinearHead.load(tmp_path / "h")


def test_default_artifacts_are_registered_small_and_carded():
    for name in ("unmet.sentiment.v1", "unmet.needs.v1"):
        head, config = registry.get(name)
        assert config["name"] == name and config["sha256"]
        directory = registry.artifact_dir("sentiment" if "sentiment" in name else "needs")
        assert (directory / "MODEL_CARD.md").read_text().count("|") > 10
        assert sum(p.stat().st_size for p in directory.iterdir()) < 1_000_000
    themes = registry.get("unmet.themes.v3", random_state=0)  # every kind comes as (component, card)
    assert isinstance(themes, registry.Loaded) and themes.card["name"] == "unmet.themes.v3"
    with pytest.raises(ConfigError, match="unknown component"):
        registry.get("unmet.nothing.v9")


def test_segmenter_splits_lines_and_sentences_and_finds_aspects():
    segmenter = Segmenter()
    [sentences] = segmenter.split(["Dead\nThe battery died halfway through my commute. Please add dark mode."])
    assert [s.text for s in sentences] == ["Dead", "The battery died halfway through my commute.",
                                           "Please add dark mode."]
    assert segmenter.aspects([s.text for s in sentences]) == [None, "battery", "dark mode"]


def test_segmenters_share_one_loaded_pipeline_and_each_parses_with_its_own(monkeypatch):
    """A process loads a segmenter per partition in flight: the pipeline loads once, the parser only to parse."""
    from models import segment

    first = Segmenter()
    loads = []
    load_spacy = segment.load_spacy
    monkeypatch.setattr(segment, "load_spacy", lambda model=None: loads.append(model) or load_spacy(model))
    second = Segmenter()
    assert second.aspect_version_ == first.aspect_version_ and second.lemma_version_ == first.lemma_version_
    assert second.noun_lemma("battery lives") == "battery life" and loads == []
    sentences = ["The battery died halfway through my commute.", "Please add dark mode."]
    assert second.aspects(sentences) == ["battery", "dark mode"] and loads == [None]
    assert first.aspects(sentences) == ["battery", "dark mode"] and loads == [None, None]
    assert first.parser_ is not second.parser_ and second.parser_ is not second.shared_.nlp


def test_notebook_versions_never_outrank_releases():
    from models.registry import version_key

    names = ["1.9.0", "nb-20261123-013000", "1.10.0", "1.1.0"]
    assert sorted(names, key=version_key) == ["nb-20261123-013000", "1.1.0", "1.9.0", "1.10.0"]


def test_settings_read_the_unmet_variables_when_called_and_name_a_bad_one(monkeypatch):
    from models.settings import settings

    monkeypatch.setenv("UNMET_MAX_TEXT_CHARS", "500")
    monkeypatch.setenv("UNMET_DASK_GPU_RESOURCE", "GPU")
    assert (settings().max_text_chars, settings().dask_gpu_resource) == (500, "GPU")
    monkeypatch.setenv("UNMET_MAX_TEXT_CHARS", "lots")
    with pytest.raises(ConfigError, match="UNMET_MAX_TEXT_CHARS: Input should be a valid integer"):
        settings()
