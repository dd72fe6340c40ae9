"""The aspect-term tagger: learns B/I/O on word vectors, survives save → load, reads the encoder's own pass."""

import numpy as np
import pytest
from labelled_fixture import build

from models.aspect_terms import AspectTermTagger, in_context, sentence_scores, span_scores, word_labels
from models.datasets import aspect_terms

VOCAB = ["the", "battery", "life", "is", "short", "screen", "cracked", "please", "add", "dark", "mode", "it", "broke"]
TERMS = {"battery life", "screen", "dark mode"}


def toy_sentence(words: list[str], rng_seed: int = 0) -> tuple[str, list[tuple[int, int]], np.ndarray]:
    """A sentence as the encoder hands it to the tagger: text, word spans, one vector per word."""
    rng = np.random.default_rng(rng_seed)
    table = {w: np.random.default_rng(i).normal(size=16).astype(np.float32) for i, w in enumerate(VOCAB)}
    text, spans = "", []
    for word in words:
        spans.append((len(text), len(text) + len(word)))
        text += word + " "
    vectors = np.stack([table[w] + rng.normal(scale=0.05, size=16).astype(np.float32) for w in words])
    return text.strip(), spans, vectors


TRAIN = [["the", "battery", "life", "is", "short"], ["the", "screen", "cracked"], ["please", "add", "dark", "mode"],
         ["it", "broke"], ["the", "screen", "is", "short"], ["add", "battery", "life"]]


def labels_of(words: list[str]) -> list[str]:
    text = " ".join(words)
    targets = [(text.index(term), text.index(term) + len(term)) for term in TERMS if term in text]
    spans = toy_sentence(words)[1]
    return word_labels(spans, targets)


def test_word_labels_and_context_features():
    assert labels_of(["the", "battery", "life", "is", "short"]) == ["O", "B", "I", "O", "O"]
    assert labels_of(["it", "broke"]) == ["O", "O"]
    vectors = np.arange(6, dtype=np.float32).reshape(3, 2)
    context = in_context([vectors])
    assert context.shape == (3, 6)
    assert context[0].tolist() == [0, 1, 0, 0, 2, 3] and context[2].tolist() == [4, 5, 2, 3, 0, 0]
    # stacked sentences never see each other's words; a sentence without words adds no rows
    two = in_context([vectors[:2], np.zeros((0, 2), dtype=np.float32), vectors[2:] + 10])
    assert two.tolist() == [[0, 1, 0, 0, 2, 3], [2, 3, 0, 1, 0, 0], [14, 15, 0, 0, 0, 0]]


def test_tagger_overfits_saves_reloads_and_tags_the_same(tmp_path):
    data = [toy_sentence(words, seed) for seed in range(5) for words in TRAIN]
    labels = [labels_of(words) for _ in range(5) for words in TRAIN]
    tagger = AspectTermTagger(C=10.0).fit([v for _, _, v in data], labels)
    batch = [toy_sentence(words, 99) for words in (TRAIN[0], ["it", "broke"], TRAIN[2])]
    texts, spans, vectors = (list(column) for column in zip(*batch, strict=True))
    assert tagger(texts, spans, vectors) == ["battery life", None, "dark mode"]
    one_by_one = [tagger([t], [s], [v])[0] for t, s, v in batch]  # a batch tags each sentence as if alone
    assert one_by_one == ["battery life", None, "dark mode"]
    assert tagger(["", "it broke"], [[], spans[1]], [np.zeros((0, 16), np.float32), vectors[1]]) == [None, None]
    tagger.save(tmp_path / "tagger", {"name": "unmet.aspect_terms.v1", "version": "0.0.1", "encoder": "toy"})
    loaded, config = AspectTermTagger.load(tmp_path / "tagger")
    assert config["tagger"] == tagger.get_params()
    for words in TRAIN:
        text, spans, vectors = toy_sentence(words, 7)
        assert loaded.terms([text], [spans], [vectors]) == tagger.terms([text], [spans], [vectors])
    with pytest.raises(ValueError, match="one label per word"):
        AspectTermTagger().fit([data[0][2]], [["O"]])


def test_scores_count_head_words_and_exact_spans():
    texts = ["The batteries die.", "It broke.", "Screen and keys."]
    targets = [[(4, 13)], [], [(0, 6), (11, 15)]]
    scores = sentence_scores(["battery", "it", "keys"], texts, targets, n_boot=20)
    assert scores["precision"] == pytest.approx(2 / 3) and scores["recall"] == pytest.approx(1.0)
    assert scores["f1_ci95"][0] <= scores["f1"] <= scores["f1_ci95"][1]
    spans = span_scores([[(4, 13)], [(0, 2)], [(0, 6)]], targets, n_boot=50)
    assert (spans["precision"], spans["recall"], spans["f1"]) == pytest.approx((2 / 3, 2 / 3, 2 / 3))
    low, high = spans["f1_ci95"]
    assert 0 <= low < 2 / 3 < high <= 1  # resampling the three sentences moves F1 both ways


def test_encoder_hands_the_tagger_word_vectors_from_the_same_pass():
    from models.encoder import SentenceEncoder

    texts = ["The battery died halfway through my commute.", "ok", "Please add dark-mode!"] * 3
    seen = {}
    for backend in ("torch", "onnx"):
        encoder = SentenceEncoder(backend=backend)
        embeddings, words = encoder.encode_and_tag(texts, lambda batch, spans, vectors: [
            ([text[a:b] for a, b in word_spans], word_vectors)
            for text, word_spans, word_vectors in zip(batch, spans, vectors, strict=True)])
        assert encoder.tagging_s_ > 0  # what the benchmark reports as the tagging stage
        np.testing.assert_allclose(embeddings, encoder.encode(texts), atol=1e-6)
        assert encoder.tagging_s_ == 0
        assert words[2][0] == ["Please", "add", "dark", "-", "mode", "!"]
        assert words[0][1].shape == (8, encoder.dim_)
        seen[backend] = words
    for (names_t, vectors_t), (names_o, vectors_o) in zip(seen["torch"], seen["onnx"], strict=True):
        assert names_t == names_o
        np.testing.assert_allclose(vectors_t, vectors_o, atol=1e-4)


def test_the_pipeline_tags_aspects_without_parsing(monkeypatch):
    from models.analyzer import Analyzer

    analyzer = Analyzer()
    assert analyzer.aspect_tagger is not None and analyzer.versions["aspects"].startswith("unmet.aspect_terms.v1@")
    monkeypatch.setattr(analyzer.segmenter, "aspects", lambda texts: pytest.fail("the parser ran"))
    batch = analyzer.analyze(["a", "b"], ["The batteries died halfway through my commute.",
                                          "I love it. Please add a sleep timer."], ["en", "en"])
    rows = batch.sentences.to_pylist()
    by_text = {r["text"]: r for r in rows}
    assert by_text["The batteries died halfway through my commute."]["aspect"] == "battery"
    assert by_text["Please add a sleep timer."]["aspect"] == "sleep timer"
    assert by_text["I love it."]["aspect"] is None  # names nothing
    assert {r["aspect_model"] for r in rows} == {analyzer.versions["aspects"]}


def test_parser_rules_remain_for_encoders_without_a_tagger():
    from models.analyzer import Analyzer

    analyzer = Analyzer(aspect_term_head="parser")
    assert analyzer.aspect_tagger is None and analyzer.versions["aspects"].startswith("unmet.aspects.v2")
    batch = analyzer.analyze(["a"], ["The battery died halfway through my commute."], ["en"])
    assert batch.sentences.column("aspect").to_pylist() == ["battery"]


def test_train_writes_a_tagger_with_its_card_and_the_rules_it_replaces(tmp_path_factory, tmp_path):
    from models.analyzer import Analyzer
    from models.train import train_heads

    data = build(tmp_path_factory.mktemp("shared") / "data")
    result = train_heads(data, "9.9.9", out_dir=tmp_path, tasks=("aspect_terms",), n_boot=20)
    card = (tmp_path / "aspect_terms" / "9.9.9" / "MODEL_CARD.md").read_text()
    assert "one aspect per sentence" in card and "parser rules" in card
    metrics = result["aspect_terms"]["metrics"]
    assert {"tagger, one aspect per sentence", "tagger, every term (exact span)"} <= set(metrics)
    analyzer = Analyzer(aspect_term_head=str(tmp_path / "aspect_terms" / "9.9.9"))
    assert analyzer.versions["aspects"] == "unmet.aspect_terms.v1@9.9.9"
    with pytest.raises(FileExistsError, match="choose a new"):
        train_heads(data, "9.9.9", out_dir=tmp_path, tasks=("aspect_terms",))


def test_flows_and_cli_pass_the_aspect_method_to_the_models():
    from pipelines.cli import build_parser
    from pipelines.flows.analyze import ModelSettings, checked_out
    from pipelines.flows.params import ModelParams

    args = build_parser().parse_args(["run", "data/sample", "--aspect-term-head", "parser"])
    assert args.aspect_term_head == "parser"
    with checked_out(ModelSettings(ModelParams(aspect_term_head="parser"))) as analyzer:
        assert analyzer.aspect_tagger is None and analyzer.versions["aspects"].startswith("unmet.aspects.v2")
    with checked_out(ModelSettings()) as analyzer:
        assert analyzer.versions["aspects"].startswith("unmet.aspect_terms.v1@")


def test_malformed_aspect_annotations_are_kept_out_with_where_and_why(tmp_path, caplog):
    root = build(tmp_path)
    xml = root / "semeval_absa" / "2014" / "Restaurants_Train.xml"
    xml.parent.mkdir(parents=True)
    xml.write_text('<sentences><sentence id="ok"><text>The battery died.</text><aspectTerms>'
                   '<aspectTerm term="battery" from="4" to="11"/></aspectTerms></sentence>'
                   '<sentence id="nofrom"><text>The screen cracked.</text><aspectTerms>'
                   '<aspectTerm term="screen" to="10"/></aspectTerms></sentence>'
                   '<sentence id="past"><text>Dark mode please.</text><aspectTerms>'
                   '<aspectTerm term="dark mode" from="0" to="90"/></aspectTerms></sentence></sentences>')
    acos = root / "semeval_absa" / "acos" / "Restaurant-ACOS" / "rest16_quad_train.tsv"
    acos.write_text(acos.read_text() + "the sleep timer is gone\t3,9 X#Y 0 -1,-1\nbad field here\tx,y X#Y 0 -1,-1\n")
    terms = aspect_terms(root)
    assert "The battery died." in terms.texts
    assert terms.targets[terms.texts.index("The battery died.")] == [(4, 11)]
    malformed = {"The screen cracked.", "Dark mode please.", "the sleep timer is gone", "bad field here"}
    assert not malformed & set(terms.texts)
    why = "\n".join(terms.kept_out)
    assert len(terms.kept_out) == 4
    assert "sentence nofrom: aspect offsets from=None to='10' are not integers" in why
    assert "sentence past: aspect span (0, 90) lies outside the 17-character text" in why
    assert "aspect tokens 3,9 lie outside the 5-token text" in why and "'x,y' is not 'first,end'" in why
    assert terms.part("dev").kept_out == terms.kept_out
    assert "4 aspect-term sentences left out as malformed" in caplog.text


def test_a_need_that_names_no_aspect_stores_the_implied_one_as_implicit():
    from models.analyzer import resolve_aspects

    named = ["battery", None, "screen", "app", None, "lamp"]
    kinds = ["explicit", "explicit", "implicit", "implicit", "implicit", None]
    p_implicit = np.array([0.1, 0.2, 0.95, 0.6, 0.9, 0.99])
    implied = ["power", "delivery", "weight", "speed", None, None]
    aspects, resolved = resolve_aspects(named, kinds, p_implicit, implied, need_rows=[0, 1, 2, 3, 4])
    assert aspects == ["battery", "delivery", "weight", "app", None, "lamp"]  # named wins unless the head is sure
    assert resolved == ["explicit", "implicit", "implicit", "explicit", "implicit", None]  # row 5: not a need


def test_the_pipeline_stores_implied_aspects_of_needs():
    from models.analyzer import Analyzer

    analyzer = Analyzer()
    assert analyzer.versions["implied_aspects"].startswith("unmet.implied_aspects.v1@")
    batch = analyzer.analyze(["a", "b"], ["Too heavy to hold with one hand.", "Great product."], ["en", "en"])
    rows = {r["text"]: r for r in batch.sentences.to_pylist()}
    heavy = rows["Too heavy to hold with one hand."]
    assert (heavy["need_kind"], heavy["aspect"], heavy["aspect_kind"]) == ("implicit", "weight", "implicit")
    assert rows["Great product."]["need_kind"] == "none" and rows["Great product."]["aspect_kind"] is None


def test_the_fallback_names_the_likeliest_word_of_a_sentence_with_no_tagged_term():
    from models.aspect_terms import AspectTermTagger
    from models.heads import LinearHead

    head = LinearHead(features=("word", "previous_word", "next_word"))
    head.classes_ = np.array(["B", "I", "O"])
    head.coef_ = np.zeros((3, 6), dtype=np.float32)
    head.coef_[0, 0] = 1.5  # "B" rises with the first dimension of the word itself
    head.intercept_ = np.array([0.0, 0.0, 2.0], dtype=np.float32)
    head.n_features_in_ = 6
    text, spans, vectors = "battery dies", [(0, 7), (8, 12)], np.array([[1.0, 0.0], [0.0, 0.0]])
    for fallback, expected in ((None, None), (0.5, None), (0.3, "battery")):
        tagger = AspectTermTagger(fallback=fallback)
        tagger.head_, tagger.classes_ = head, head.classes_
        assert tagger.terms([text], [spans], [vectors]) == [[]]  # every word is "O": no term tagged
        assert tagger([text], [spans], [vectors]) == [expected]
