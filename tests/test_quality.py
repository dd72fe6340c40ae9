"""Model quality tooling: label mapping, dev split, metrics, evaluation, adapters, HF heads, corrections."""

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from labelled_fixture import THINGS, build

from models import adapter, datasets
from models.evaluation import TARGETS, Benchmark, Evaluator, aggregate_needs, compare
from models.integrity import IntegrityError
from models.labels import IMPLICIT_ASPECT_LABELS, NEED_LABELS, SENTIMENT_LABELS
from models.metrics import paired_difference, score
from models.segment import Segmenter
from pipelines.cli import main
from pipelines.storage import WarehouseError, add_label, connect, read_labels


@pytest.fixture(scope="module")
def labelled(tmp_path_factory):
    return build(tmp_path_factory.mktemp("shared") / "data")


def test_dev_rule_ignores_case_punctuation_and_tokenization():
    xml = "They never brought us complimentary noodles, ignored requests for sugar."
    acos = "they never brought us complimentary noodles , ignored requests for sugar ."
    assert datasets.text_key(xml) == datasets.text_key(acos)
    assert datasets.is_dev(xml) == datasets.is_dev(acos)
    share = np.mean([datasets.is_dev(f"sentence number {i}") for i in range(5000)])
    assert 0.17 < share < 0.23


def test_readers_map_labels_as_documented(labelled):
    maalej = datasets.load("needs/maalej2016", labelled)
    assert maalej.labels[maalej.texts.index("Please add a dark mode to the battery.")] == "explicit"
    assert maalej.labels[maalej.texts.index("The battery died after an hour.")] == "implicit"
    clap = datasets.load("needs/clap2017", labelled)
    assert set(clap.labels) == {"explicit", "implicit", "none"}
    urr = datasets.load("needs/urr2017", labelled)
    assert "Café UI" not in urr.texts  # UI alone is ambiguous: left out
    aspects = datasets.load("implicit_aspect/semeval16_rest", labelled)
    assert aspects.labels[0] == "implicit" and aspects.labels[1] == "explicit"  # target NULL on every third row
    sentiment = datasets.load("sentiment/semeval_absa", labelled)
    assert len(sentiment) == 60  # ACOS re-annotates the same sentences: kept once


def test_train_and_dev_never_share_a_text_and_eval_only_sets_never_train(labelled):
    for name in datasets.READERS:
        full = datasets.load(name, labelled)
        train, dev = full.part("train"), full.part("dev")
        assert len(train) + len(dev) == len(full)
        assert not {datasets.text_key(t) for t in train.texts} & {datasets.text_key(t) for t in dev.texts}
        if full.eval_only:
            assert len(train) == 0
    with pytest.raises(FileNotFoundError, match="--data-dir"):
        datasets.load("needs/maalej2016", labelled / "missing")


def test_metrics_match_hand_computed_values():
    truth = ["a", "a", "b", "b", "b", "c"]
    pred = ["a", "b", "b", "b", "c", "c"]
    s = score(truth, pred, ("a", "b", "c"), n_boot=200)
    assert s.values["recall:a"] == 0.5 and s.values["precision:a"] == 1.0
    assert s.values["f1:b"] == pytest.approx(2 / 3)
    assert s.values["macro_recall"] == pytest.approx((0.5 + 2 / 3 + 1) / 3)
    assert s.values["accuracy"] == pytest.approx(4 / 6)
    assert s.matrix == [[1, 1, 0], [0, 2, 1], [0, 0, 1]]
    low, high = s.intervals["accuracy"]
    assert low <= s.values["accuracy"] <= high and high > low
    with pytest.raises(ValueError, match="not one of"):
        score(["a"], ["z"], ("a", "b"))


def test_paired_difference_sees_a_real_improvement():
    rng = np.random.default_rng(0)
    truth = rng.choice(["x", "y"], 400)
    worse = np.where(rng.random(400) < 0.4, np.where(truth == "x", "y", "x"), truth)
    better = np.where(rng.random(400) < 0.1, np.where(truth == "x", "y", "x"), truth)
    diff = paired_difference(truth, worse, better, ("x", "y"), "macro_f1", n_boot=300)
    assert diff["difference"] > 0.2 and diff["ci_low"] > 0 and diff["p_not_better"] < 0.01


def test_document_need_is_explicit_over_implicit_over_none():
    classes = ["explicit", "implicit", "none"]
    assert aggregate_needs(np.array([[0.1, 0.2, 0.7], [0.2, 0.7, 0.1]]), classes) == "implicit"
    assert aggregate_needs(np.array([[0.6, 0.2, 0.2], [0.2, 0.7, 0.1]]), classes) == "explicit"
    assert aggregate_needs(np.array([[0.1, 0.2, 0.7]]), classes) == "none"


class Oracle:
    """Knows the fixture's labels: scores must then be perfect, so the plumbing cannot hide errors."""

    def __init__(self, data_dir, wrong_task=None):
        self.segmenter = Segmenter()
        self.heads = {"sentiment": None, "needs": None, "implicit_aspect": None}
        self.truth = {}
        for name in datasets.READERS:
            labelled = datasets.load(name, data_dir)
            for text, label in zip(labelled.texts, labelled.labels, strict=True):
                self.truth[(labelled.task, text)] = label
        self.wrong_task = wrong_task

    def label_texts(self, texts):
        out = {}
        for task, labels in (("sentiment", SENTIMENT_LABELS), ("needs", NEED_LABELS),
                             ("implicit_aspect", IMPLICIT_ASPECT_LABELS)):
            probs = np.full((len(texts), len(labels)), 0.01)
            for i, text in enumerate(texts):
                label = self.truth.get((task, text), labels[-1])
                j = labels.index(label)
                probs[i, (j + 1) % len(labels) if task == self.wrong_task else j] = 1.0
            out[task] = (list(labels), probs)
        return out


def test_evaluator_scores_a_perfect_model_perfectly_and_a_wrong_one_badly(labelled):
    sentence_level = [b for b in TARGETS if b.level == "sentence"]
    results = Evaluator(Oracle(labelled), labelled, n_boot=50).run(sentence_level)
    assert {r.benchmark.title for r in results} == {b.title for b in sentence_level}
    assert all(r.value == 1.0 for r in results)
    wrong = Evaluator(Oracle(labelled, wrong_task="needs"), labelled, n_boot=50).run(sentence_level)
    rows = compare(results, wrong, n_boot=50)
    needs = [r for r in rows if r["benchmark"].startswith(("explicit", "implicit need"))]
    assert needs and all(r["after"] < 0.5 and r["difference"] < 0 for r in needs)


def test_document_level_runs_the_pipeline_split(labelled):
    bench = Benchmark("amazon", ("sentiment/amazon_reviews",), "macro_f1", level="document", binary=True)
    result = Evaluator(Oracle(labelled), labelled, n_boot=0).run([bench])[0]
    # reviews are "<sentence> Returned it." / "<sentence> Love it.": the oracle only knows the first sentence
    # and labels unknown ones positive, so negatives are averaged with a positive second sentence
    assert result.scored.n == 60 and 0.3 < result.value < 1.0


def tiny_bert(tmp_path, labels=None):
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification, BertModel

    from models.encoder import packaged_model_dir

    config = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, id2label=labels or {0: "NEG", 1: "POS"},
                        label2id={v: k for k, v in (labels or {0: "NEG", 1: "POS"}).items()})
    torch.manual_seed(0)
    model = BertForSequenceClassification(config) if labels is not False else BertModel(config)
    model.save_pretrained(tmp_path)
    AutoTokenizer.from_pretrained(packaged_model_dir()).save_pretrained(tmp_path)
    return model


def overfit_tiny_bert(prepare):
    """A tiny BERT, its weights before tuning, the names ``prepare(model)`` made trainable, probe ids and the tuned
    model's output on them after overfitting a random target."""
    from transformers import BertConfig, BertModel

    config = BertConfig(vocab_size=100, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=32)
    torch.manual_seed(0)
    model = BertModel(config).eval()
    base_state = {k: v.clone() for k, v in model.state_dict().items()}
    names = prepare(model)
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    ids = torch.randint(0, 100, (8, 6))
    target = torch.randn(8, 16)
    for _ in range(30):
        loss = ((model(input_ids=ids).last_hidden_state.mean(1) - target) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        tuned = model(input_ids=ids).last_hidden_state
    return SimpleNamespace(config=config, model=model, base_state=base_state, names=names, ids=ids, tuned=tuned)


def fresh_base(run):
    from transformers import BertModel

    fresh = BertModel(run.config).eval()
    fresh.load_state_dict(run.base_state)
    return fresh


def test_adapter_trains_saves_merges_and_reproduces(tmp_path):
    from transformers import BertModel

    run = overfit_tiny_bert(lambda model: adapter.attach(model, rank=4, alpha=8))
    assert len(run.names) == 2 * 6 and all(".layer." in f".{n}" for n in run.names)
    adapter.save(run.model, tmp_path / "a", {"name": "t", "version": "1", "base_encoder": "tiny", "rank": 4,
                                             "alpha": 8})
    fresh = fresh_base(run)
    with torch.no_grad():
        assert not torch.allclose(fresh(input_ids=run.ids).last_hidden_state, run.tuned, atol=1e-3)
        adapter.merge(fresh, tmp_path / "a", "tiny")
        assert torch.allclose(fresh(input_ids=run.ids).last_hidden_state, run.tuned, atol=2e-2)  # fp16 storage
    with pytest.raises(ValueError, match="trained on tiny"):
        adapter.merge(BertModel(run.config), tmp_path / "a", "other")
    blob = bytearray((tmp_path / "a" / adapter.ADAPTER_FILE).read_bytes())
    blob[-1] ^= 0xFF
    (tmp_path / "a" / adapter.ADAPTER_FILE).write_bytes(bytes(blob))
    with pytest.raises(IntegrityError, match="modified"):
        adapter.merge(BertModel(run.config), tmp_path / "a", "tiny")


def test_full_finetune_delta_saves_merges_and_reproduces(tmp_path):
    from transformers import BertModel

    run = overfit_tiny_bert(adapter.unfreeze_layers)
    assert run.names and all(".layer." in f".{n}" for n in run.names)
    assert not run.model.embeddings.word_embeddings.weight.requires_grad  # embeddings stay frozen: a smaller delta
    adapter.save_delta(run.model, run.base_state, tmp_path / "d", {"name": "t", "version": "2", "base_encoder": "tiny"})
    assert adapter.read_config(tmp_path / "d")["kind"] == "delta"
    fresh = fresh_base(run)
    with torch.no_grad():
        assert not torch.allclose(fresh(input_ids=run.ids).last_hidden_state, run.tuned, atol=1e-2)
        adapter.merge(fresh, tmp_path / "d", "tiny")
        assert torch.allclose(fresh(input_ids=run.ids).last_hidden_state, run.tuned, atol=1e-3)  # fp16 differences
    with pytest.raises(ValueError, match="trained on tiny"):
        adapter.merge(BertModel(run.config), tmp_path / "d", "other")
    blob = bytearray((tmp_path / "d" / adapter.DELTA_FILE).read_bytes())
    blob[-1] ^= 0xFF
    (tmp_path / "d" / adapter.DELTA_FILE).write_bytes(bytes(blob))
    with pytest.raises(IntegrityError, match="modified"):
        adapter.merge(BertModel(run.config), tmp_path / "d", "tiny")


def test_implied_aspects_vote_of_neighbours_survives_save_and_reload(tmp_path):
    from models.implied_aspects import ImpliedAspects, shares_a_word

    texts = ["way too expensive", "overpriced for what it is", "costs too much money", "too heavy to carry",
             "weighs a ton", "took three weeks to arrive", "still waiting for the package"]
    aspects = ["price", "price", "price", "weight", "weight", "delivery", "delivery"]
    model = ImpliedAspects(k=3).fit(texts, aspects)
    probe = ["far too expensive", "heavy to carry around", "waiting three weeks for the package"]
    assert model.predict(probe) == ["price", "weight", "delivery"]
    assert model.predict(["zebra quantum"]) == [None]  # shares no word with any labelled sentence: no guess
    model.save(tmp_path / "m", {"name": "t", "version": "1", "encoder": None})
    loaded, config = ImpliedAspects.load(tmp_path / "m")
    assert loaded.predict(probe) == ["price", "weight", "delivery"] and config["aspects"] == sorted(set(aspects))
    blob = bytearray((tmp_path / "m" / "neighbours.safetensors").read_bytes())
    blob[-1] ^= 0xFF
    (tmp_path / "m" / "neighbours.safetensors").write_bytes(bytes(blob))
    with pytest.raises(IntegrityError, match="modified"):
        ImpliedAspects.load(tmp_path / "m")
    assert shares_a_word("batteries", "battery life") and not shares_a_word("screen", "battery")
    assert not shares_a_word(None, "price")


def test_voc_needs_keeps_its_own_split_and_other_sets_never_train_on_its_dev_sentences(labelled):
    voc = datasets.load("needs/voc_needs", labelled)
    rows = datasets.voc_sentences(labelled)
    assert [r.split == "dev" for r in rows] == [t in set(voc.part("dev").texts) for t in voc.texts]
    dev_sentence = next(r.sentence for r in rows if r.split == "dev" and r.need_kind == "implicit"
                        and r.aspect_named)  # "The battery died after an hour." is also a Maalej/CLAP text
    for task in ("needs", "sentiment"):
        for trained in datasets.training_sets(task, labelled):
            if trained.name != "voc_needs":
                assert not any(dev_sentence.lower().rstrip(".") in t.lower() for t in trained.texts), trained.name
    assert dev_sentence in datasets.load("needs/maalej2016", labelled).texts  # it was there before the filter
    kinds = datasets.load("implicit_aspect/voc_needs", labelled)
    assert set(kinds.labels) == {"explicit", "implicit"}
    spans = datasets.voc_aspect_spans(labelled)
    named = [(t, s) for t, s in zip(spans.texts, spans.targets, strict=True) if s]
    assert named and all(t[a:b].lower() in THINGS for t, ((a, b),) in named)
    tweets = datasets.load("sentiment/semeval_tweets", labelled)
    assert set(tweets.labels) == set(SENTIMENT_LABELS)


def test_any_hf_classifier_can_be_the_sentiment_head(tmp_path):
    from models.analyzer import Analyzer
    from models.hf_head import HFSentimentHead

    tiny_bert(tmp_path / "binary")
    analyzer = Analyzer(sentiment_head=f"hf:{tmp_path / 'binary'}", sentiment_labels={"NEG": "negative",
                                                                                       "POS": "positive"})
    assert analyzer.versions["sentiment"] == f"unmet.sentiment.hf.v1@{tmp_path / 'binary'}"
    classes, probs = analyzer.label_texts(["Great lamp.", "It broke."])["sentiment"]
    assert classes == ["negative", "neutral", "positive"]
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    assert (probs[:, 1] == 0).all()  # a binary model never says neutral
    head = HFSentimentHead(str(tmp_path / "binary"), {"NEG": "negative", "POS": "positive"}, batch_size=2)
    texts = ["It broke after a week and support never answered.", "Great lamp.", "ok", "It broke.", "Bright."]
    alone = np.vstack([head.predict_proba_texts([text]) for text in texts])  # batches by token count, in order
    np.testing.assert_allclose(head.predict_proba_texts(texts), alone, atol=1e-6)
    batch = analyzer.analyze(["d1"], ["Great lamp. It broke."], ["en"])
    assert batch.sentences.num_rows == 2
    tiny_bert(tmp_path / "odd", labels={0: "LABEL_0", 1: "LABEL_1"})
    with pytest.raises(ValueError, match="label map"):
        Analyzer(sentiment_head=f"hf:{tmp_path / 'odd'}")


def test_human_labels_are_validated_stored_and_latest_wins(tmp_path, capsys):
    db = tmp_path / "w.duckdb"
    con = connect(db)
    add_label(con, "needs", "implicit", text="It dies at noon.")
    add_label(con, "needs", "explicit", text="It dies at noon.", labelled_by="ana")
    with pytest.raises(WarehouseError, match="not valid for needs"):
        add_label(con, "needs", "positive", text="x")
    with pytest.raises(WarehouseError, match="no sentence"):
        add_label(con, "sentiment", "negative", sentence_id="nope")
    con.close()
    assert main(["label", "--db", str(db), "--task", "sentiment", "--label", "negative", "--text", "Meh."]) == 0
    assert main(["label", "--db", str(db), "--task", "needs", "--label", "maybe", "--text", "Meh."]) == 2
    assert "not valid" in capsys.readouterr().err
    labels = read_labels(db)
    assert labels["needs"] == (["It dies at noon."], ["explicit"])
    assert labels["sentiment"] == (["Meh."], ["negative"])


def test_train_writes_a_new_carded_version_and_never_overwrites(labelled, tmp_path):
    from models.train import train_heads

    results = train_heads(labelled, "9.9.9", out_dir=tmp_path, tasks=("needs",), n_boot=50,
                          extra={"needs": (["Add a snooze button."], ["explicit"])})
    config = json.loads((tmp_path / "needs" / "9.9.9" / "config.json").read_text())
    assert config["training_rows"]["corrections"]["rows"] == 1
    card = (tmp_path / "needs" / "9.9.9" / "MODEL_CARD.md").read_text()
    assert "explicit need (app reviews" in card and "95 % CI" in card
    assert results["needs"]["metrics"]
    with pytest.raises(FileExistsError, match="choose a new"):
        train_heads(labelled, "9.9.9", out_dir=tmp_path, tasks=("needs",))


def test_eval_command_prints_the_target_table(labelled, tmp_path, capsys):
    out = tmp_path / "eval.json"
    assert main(["eval", "--data-dir", str(labelled), "--n-boot", "20", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "tweet sentiment (TweetEval val)" in printed and "sentences/s" in printed
    report = json.loads(out.read_text())
    titles = {r["title"] for r in report["results"]}
    assert {b.title for b in TARGETS} <= titles
    assert all(r["ci95"][0] <= r["value"] <= r["ci95"][1] for r in report["results"])
    assert report["throughput"]["sentences_per_s"] > 0
    assert "aspect named per sentence" in printed
    assert {"tagger, one aspect per sentence", "tagger, every term (exact span)"} <= set(report["aspect_terms"])
    assert main(["eval", "--data-dir", str(tmp_path / "nowhere")]) == 2
    assert "not found" in capsys.readouterr().err


def test_shipped_artifacts_are_small_pickle_free_and_one_pass():
    from models import ARTIFACTS_DIR
    from models.analyzer import Analyzer

    files = [p for p in ARTIFACTS_DIR.rglob("*") if p.is_file()]
    assert sum(p.stat().st_size for p in files) <= 40_000_000  # small enough for git (issue: ≤ 40 MB in all)
    assert {p.suffix for p in files} <= {".safetensors", ".json", ".md"}
    analyzer = Analyzer()
    assert set(analyzer.heads) == {"sentiment", "needs", "implicit_aspect"}
    assert "+unmet.encoder_delta.v2@2.0.0" in analyzer.versions["encoder"]
    assert analyzer.aspect_tagger is not None and analyzer.implied_aspects is not None
    calls = []
    original = analyzer.encoder._forward
    analyzer.encoder._forward = lambda batch, tokens: calls.append(len(batch["input_ids"])) or original(batch, tokens)
    batch = analyzer.analyze(["a"], ["Please add a timer. The lamp died after a week."], ["en"])
    assert calls == [2]  # one encoder pass over the two sentences serves all three heads and the aspect tagger
    assert batch.sentences.column("need_kind").to_pylist() == ["explicit", "implicit"]


class StoresAspects:
    """Analyzes each voc_needs sentence as one document and stores ``aspect_of(row)`` for it, as the warehouse would."""

    def __init__(self, data_dir, aspect_of):
        import pyarrow as pa

        self.pa, self.rows = pa, {r.id: r for r in datasets.voc_sentences(data_dir)}
        self.aspect_of = aspect_of

    def analyze(self, ids, texts, languages):
        rows = [self.rows[i] for i in ids]
        return SimpleNamespace(sentences=self.pa.Table.from_pylist([
            {"feedback_id": r.id, "need_kind": r.need_kind, "aspect": self.aspect_of(r),
             "aspect_kind": None if r.need_kind == "none" else "explicit" if r.aspect_named else "implicit",
             "sentiment": r.sentiment} for r in rows]),
            documents=self.pa.Table.from_pylist([{"feedback_id": r.id, "sentiment": r.sentiment} for r in rows]))


def test_voc_needs_aspect_match_is_one_for_the_annotated_aspect_and_zero_for_another(labelled):
    perfect = Evaluator(StoresAspects(labelled, lambda r: r.aspect or None), labelled, n_boot=20).voc_needs()
    measures = perfect["measures"]
    dev_named = sum(r.split == "dev" and r.need_kind != "none" and r.aspect_named
                    for r in datasets.voc_sentences(labelled))
    assert measures["named aspect found"]["n"] == dev_named > 0
    assert measures["named aspect found"]["value"] == measures["implied aspect found"]["value"] == 1.0
    assert all(m["need kind"]["value"] == 1.0 for title, m in measures.items()
               if title.startswith("sentences with") and m["need kind"]["n"])
    wrong = Evaluator(StoresAspects(labelled, lambda r: "zebra"), labelled, n_boot=20).voc_needs()["measures"]
    assert wrong["named aspect found"]["value"] == wrong["implied aspect found"]["value"] == 0.0
    assert perfect["cue_sentences"]["a wish ('wish')"]  # the fixture's "I wish the … had an offline option"
