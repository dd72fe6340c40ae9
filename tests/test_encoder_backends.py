"""The encoder's backends: ONNX gives torch's embeddings, int8 is close and recorded, the cache is checked."""

import numpy as np
import pytest

from models.encoder import SentenceEncoder

SENTENCES = ["The battery died halfway through my commute.", "Please add dark mode.", "ok",
             "I love it, but the charger stopped working after two weeks and support never answered my emails.",
             "Works great"] * 7


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("onnx-cache")


@pytest.fixture(scope="module")
def torch_embeddings():
    return SentenceEncoder(backend="torch").encode(SENTENCES)


def test_onnx_backend_gives_the_torch_embeddings(cache, torch_embeddings, monkeypatch):
    monkeypatch.setenv("UNMET_CACHE_DIR", str(cache))
    encoder = SentenceEncoder(backend="onnx", batch_size=4)
    assert encoder.backend_ == "onnx" and encoder.numerics_ == "fp32"
    embeddings = encoder.encode(SENTENCES)
    assert np.allclose(embeddings, torch_embeddings, atol=1e-4)
    assert np.allclose(np.linalg.norm(embeddings, axis=1), 1.0, atol=1e-5)


def test_a_cached_export_runs_without_loading_the_torch_weights(cache, torch_embeddings, monkeypatch):
    """Each analyzer in a process loads its own encoder: with the export cached, the torch copy of the weights is
    neither loaded nor kept in memory, unless something asks for it."""
    import models.encoder as encoder_module

    monkeypatch.setenv("UNMET_CACHE_DIR", str(cache))
    SentenceEncoder(backend="onnx")  # makes the export if no earlier test did
    loads = []
    real = encoder_module.AutoModel.from_pretrained
    monkeypatch.setattr(encoder_module.AutoModel, "from_pretrained", lambda *a, **k: loads.append(a) or real(*a, **k))
    encoder = SentenceEncoder(backend="onnx")
    assert np.allclose(encoder.encode(SENTENCES), torch_embeddings, atol=1e-4)
    assert loads == [] and encoder.dim_ == 384 and "+" in encoder.version_  # adapter in the version, unmerged
    assert encoder.model_.config.hidden_size == 384 and len(loads) == 1  # loaded on demand (fine-tuning, baseline)


def test_int8_backend_is_close_and_says_its_numerics_differ(cache, torch_embeddings, monkeypatch):
    monkeypatch.setenv("UNMET_CACHE_DIR", str(cache))
    encoder = SentenceEncoder(backend="onnx-int8")
    cosine = (encoder.encode(SENTENCES) * torch_embeddings).sum(axis=1)
    assert encoder.numerics_ == "int8"
    assert cosine.min() > 0.95 and cosine.mean() > 0.98
    assert not np.allclose(cosine, 1.0, atol=1e-4)  # it really is the quantized model


def test_a_corrupted_cached_export_is_made_again(cache, torch_embeddings, monkeypatch):
    monkeypatch.setenv("UNMET_CACHE_DIR", str(cache))
    SentenceEncoder(backend="onnx")
    [exported] = (cache / "onnx").glob("*-fp32.onnx")
    exported.write_bytes(exported.read_bytes()[:1000])  # a partial file, as after a crash mid-write
    embeddings = SentenceEncoder(backend="onnx").encode(SENTENCES)
    assert np.allclose(embeddings, torch_embeddings, atol=1e-4)
    assert exported.stat().st_size > 1_000_000


def test_empty_input_and_order_are_kept(cache, torch_embeddings, monkeypatch):
    monkeypatch.setenv("UNMET_CACHE_DIR", str(cache))
    encoder = SentenceEncoder(batch_size=3)
    assert encoder.encode([]).shape == (0, encoder.dim_)
    reversed_rows = encoder.encode(SENTENCES[::-1])
    assert np.allclose(reversed_rows[::-1], torch_embeddings, atol=1e-4)


def test_batches_group_texts_by_token_count_so_nothing_is_padded(cache, monkeypatch):
    # character lengths order these 11, 11, 15, 24 (token counts 8, 6, 6, 8): batches of two would pad both
    texts = ["a b c d e f", "I am not ok", "Extraordinarily", "Unbelievably comfortable"]
    monkeypatch.setenv("UNMET_CACHE_DIR", str(cache))
    encoder = SentenceEncoder(batch_size=2)
    masks, forward = [], encoder._forward
    monkeypatch.setattr(encoder, "_forward", lambda batch, tokens: masks.append(batch["attention_mask"])
                        or forward(batch, tokens))
    embeddings = encoder.encode(texts)
    assert [mask.shape for mask in masks] == [(2, 6), (2, 8)] and all(mask.all() for mask in masks)
    alone = np.vstack([encoder.encode([text]) for text in texts])
    np.testing.assert_allclose(embeddings, alone, atol=1e-5)


def test_chunked_tokenization_and_a_left_padding_tokenizer_give_the_same_results(cache, torch_embeddings,
                                                                                  monkeypatch):
    import models.batching

    monkeypatch.setenv("UNMET_CACHE_DIR", str(cache))
    tag = lambda batch, spans, vectors: [  # noqa: E731  (the words and their vectors, as the tagger sees them)
        ([text[a:b] for a, b in word_spans], word_vectors)
        for text, word_spans, word_vectors in zip(batch, spans, vectors, strict=True)]
    encoder = SentenceEncoder(batch_size=3)
    _, whole = encoder.encode_and_tag(SENTENCES, tag)
    monkeypatch.setattr(models.batching, "CHUNK", 4)  # 5 distinct texts of 35: two chunks, the last one short
    encoder.tokenizer_.padding_side = "left"  # would shift BERT's absolute positions: batches pad on the right
    progress = []
    embeddings, words = encoder.encode_and_tag(SENTENCES, tag, progress=lambda done, total: progress.append(done))
    np.testing.assert_allclose(embeddings, torch_embeddings, atol=1e-4)
    assert progress == sorted(progress) and progress[-1] == len(SENTENCES)
    for (names, vectors), (names_whole, vectors_whole) in zip(words, whole, strict=True):
        assert names == names_whole
        np.testing.assert_allclose(vectors, vectors_whole, atol=1e-4)


def test_each_distinct_text_goes_through_the_model_once(cache, torch_embeddings, monkeypatch):
    monkeypatch.setenv("UNMET_CACHE_DIR", str(cache))
    encoder = SentenceEncoder(batch_size=4)
    rows_run, forward = [], encoder._forward
    monkeypatch.setattr(encoder, "_forward", lambda batch, tokens: rows_run.append(len(batch["input_ids"]))
                        or forward(batch, tokens))
    progress = []
    texts = SENTENCES[3:] + SENTENCES[:3]  # 35 texts, 5 distinct, repeats scattered
    embeddings, tags = encoder.encode_and_tag(texts, lambda batch, spans, vectors: list(batch),
                                              progress=lambda done, total: progress.append((done, total)))
    assert sum(rows_run) == 5
    assert tags == texts and progress[-1] == (35, 35)
    np.testing.assert_allclose(embeddings, torch_embeddings[[SENTENCES.index(t) for t in texts]], atol=1e-4)


def test_bad_backend_settings_fail_with_clear_messages():
    with pytest.raises(ValueError, match="unknown encoder backend 'tensorrt'"):
        SentenceEncoder(backend="tensorrt")
    with pytest.raises(ValueError, match="runs on the CPU only"):
        SentenceEncoder(backend="onnx", device="cuda")
    with pytest.raises(ValueError, match="torch backend only"):
        SentenceEncoder(backend="onnx", precision="fp16")


def test_static_fast_mode_uses_its_own_projection_and_heads(cache, monkeypatch):
    from models.analyzer import Analyzer

    monkeypatch.setenv("UNMET_CACHE_DIR", str(cache))
    analyzer = Analyzer(encoder_backend="static")
    assert analyzer.encoder.numerics_ == "static" and "unmet.static_embeddings.v1@" in analyzer.encoder.version_
    embeddings = analyzer.encoder.encode(SENTENCES + [""])
    assert embeddings.shape == (len(SENTENCES) + 1, analyzer.encoder.dim_) and analyzer.encoder.dim_ < 384
    assert np.allclose(np.linalg.norm(embeddings[:-1], axis=1), 1.0, atol=1e-5) and not embeddings[-1].any()
    # heads trained on this space are picked, not the default ones
    assert analyzer.versions["needs"].endswith("-static") and analyzer.versions["sentiment"].endswith("-static")
    batch = analyzer.analyze(["a", "b"], ["The battery died halfway through my commute.", "Please add dark mode."],
                             ["en", "en"])
    assert batch.sentences.column("need_kind").to_pylist() == ["implicit", "explicit"]
    # the cached token table is reused: the same vectors come back from a second load
    again = Analyzer(encoder_backend="static").encoder.encode(SENTENCES + [""])
    assert np.array_equal(embeddings, again)


def test_heads_are_chosen_for_the_encoder_they_were_trained_on(tmp_path):
    import json

    from models.registry import artifact_dir

    for version, encoder in (("1.0.0", "space-a"), ("2.0.0", "space-b"), ("1.5.0-fast", "space-c")):
        (tmp_path / "needs" / version).mkdir(parents=True)
        (tmp_path / "needs" / version / "config.json").write_text(json.dumps({"encoder": encoder}))
    assert artifact_dir("needs", root=tmp_path).name == "2.0.0"
    assert artifact_dir("needs", root=tmp_path, encoder="space-a").name == "1.0.0"
    assert artifact_dir("needs", root=tmp_path, encoder="space-c").name == "1.5.0-fast"
    assert artifact_dir("needs", root=tmp_path, encoder="unknown").name == "2.0.0"  # the caller's check then says why
