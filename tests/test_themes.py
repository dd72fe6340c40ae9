"""Theme model: outliers reported, readable labels, parents, stable ids across incremental fits, refits mapped."""

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from models.labels import OUTLIER
from models.themes import MentionChunk, ThemeModel, content_keys
from pipelines.ranking.segments import rank_by_segment
from pipelines.ranking.theme_ids import match_refit
from pipelines.ranking.trend import benjamini_hochberg, choose_period, theme_shares, trend_tests
from pipelines.storage.mentions import NOT_SEEN

TOPICS = {
    "battery": ("the battery life is awful", "battery life lasts two hours", "my battery life drains overnight"),
    "crash": ("the app crashes on start", "app crashes every time i open it", "constant crashes after update"),
    "support": ("customer service never answers", "waited a week for customer service", "customer service hung up"),
    "price": ("subscription price doubled", "the subscription price is too high", "price went up again"),
}

FILLERS = ("today", "again", "honestly", "since monday", "every week", "at work", "on my phone", "as usual", "sadly",
           "for the third time", "this morning", "no joke")


def corpus(topics, n_per_topic, seed=0, spread=0.08):
    """Embeddings clustered by topic, texts drawn from the topic's phrasings."""
    rng = np.random.default_rng(seed)
    centers = np.random.default_rng(42).normal(size=(len(TOPICS), 48))
    index = {name: i for i, name in enumerate(TOPICS)}
    X, texts, aspects, truth = [], [], [], []
    for name in topics:
        X.append(centers[index[name]] + spread * rng.normal(size=(n_per_topic, 48)))
        fillers = rng.integers(len(FILLERS), size=n_per_topic)
        texts += [f"{TOPICS[name][i % 3]} {FILLERS[j]}" for i, j in enumerate(fillers)]
        aspects += [name if name != "battery" else "battery life"] * n_per_topic
        truth += [name] * n_per_topic
    return np.vstack(X).astype(np.float32), texts, aspects, np.array(truth)


def test_fit_is_seeded_reports_outliers_and_labels_by_distinctive_phrase():
    X, texts, aspects, truth = corpus(["battery", "crash", "support"], 60)
    first = ThemeModel(random_state=3).fit(X, texts, aspects)
    second = ThemeModel(random_state=3).fit(X, texts, aspects)
    assert (first.labels_ == second.labels_).all()
    assert 0 < first.outliers_["size"] <= 0.1 * len(texts)  # reported, and not a dumping ground
    labels = {t["label"] for t in first.themes_}
    assert any("battery life" in label for label in labels) and any("customer service" in label for label in labels)
    themed = first.labels_ != OUTLIER
    for theme in np.unique(first.labels_[themed]):  # each theme is pure
        assert len(set(truth[first.labels_ == theme])) == 1
    ids = {t["theme_id"] for t in first.themes_}
    assert {t["parent_id"] for t in first.themes_} <= ids
    assert all(t["representatives"] and t["top_terms"] for t in first.themes_)


def test_state_round_trip_assigns_the_same():
    X, texts, aspects, _ = corpus(["battery", "crash", "support"], 40)
    model = ThemeModel().fit(X, texts, aspects)
    reloaded = ThemeModel.from_state(model.state_())
    assert (reloaded.assign(X, texts) == model.assign(X, texts)).all()


def test_partial_fit_keeps_ids_and_flags_a_new_topic_as_emerging():
    X, texts, aspects, _ = corpus(["battery", "crash", "support"], 40)
    model = ThemeModel(emerging_min_size=10).fit(X, texts, aspects)
    first_ids, first_labels = set(model.theme_ids_), model.labels_.copy()
    X2, texts2, aspects2, truth2 = corpus(["battery", "price"], 30, seed=1)
    known = [int(t) for t in first_labels] + [None] * len(texts2)
    model.partial_fit(np.vstack([X, X2]), texts + texts2, aspects + aspects2, known=known)
    assert first_ids <= set(model.theme_ids_)  # no id lost
    kept = first_labels != OUTLIER
    assert (model.labels_[: len(texts)][kept] == first_labels[kept]).all()  # old mentions keep their theme
    new_labels = model.labels_[len(texts):]
    emerging = {t["theme_id"]: t for t in model.themes_ if t["emerging"]}
    assert emerging and min(emerging) > max(first_ids)  # fresh ids, never reused
    assert np.isin(new_labels[truth2 == "price"], list(emerging)).mean() > 0.8
    assert all("price" in theme["label"] for theme in emerging.values())
    battery_themes = set(first_labels[:40]) - {OUTLIER}
    assert np.isin(new_labels[truth2 == "battery"], list(battery_themes)).mean() > 0.8


def test_labelling_in_chunks_gives_what_one_pass_gives():
    """The warehouse streams mentions in chunks: chunk size must not change labels, quotes, sizes or names."""
    X, texts, aspects, _ = corpus(["battery", "crash", "support"], 50)
    X2, texts2, aspects2, _ = corpus(["battery", "price"], 30, seed=1)
    X, texts, aspects = np.vstack([X, X2]), texts + texts2, aspects + aspects2
    whole = ThemeModel(emerging_min_size=10).fit(X[:150], texts[:150], aspects[:150])
    state = whole.state_()
    one = ThemeModel.from_state(state, emerging_min_size=10).partial_fit(X, texts, aspects)
    chunked = ThemeModel.from_state(state, emerging_min_size=10).label(
        (MentionChunk(X[i:i + 37], texts[i:i + 37], aspects[i:i + 37]) for i in range(0, len(texts), 37)),
        emerging=True)
    assert (one.labels_ == chunked.labels_).all() and any(t["emerging"] for t in one.themes_)
    assert one.outliers_ == chunked.outliers_
    for a, b in zip(one.themes_, chunked.themes_, strict=True):  # cohesion: float sums in another order
        assert {**a, "cohesion": 0} == {**b, "cohesion": 0} and abs(a["cohesion"] - b["cohesion"]) < 1e-5


def test_learning_from_a_sample_bounds_the_rows_fitted_and_still_labels_every_row():
    X, texts, aspects, truth = corpus(["battery", "crash", "support"], 100)
    model = ThemeModel(max_fit_rows=90, random_state=1).fit(X, texts, aspects)
    assert len(model.fit_sample(content_keys(texts))) == 90 and len(model.labels_) == len(texts)
    themed = model.labels_ != OUTLIER
    assert themed.mean() > 0.85
    for theme in np.unique(model.labels_[themed]):
        assert len(set(truth[model.labels_ == theme])) == 1


def test_scattered_misfits_do_not_become_a_theme():
    X, texts, aspects, _ = corpus(["battery", "crash"], 40)
    model = ThemeModel(emerging_min_size=10).fit(X, texts, aspects)
    noise = np.random.default_rng(5).normal(size=(25, 48)).astype(np.float32) * 3
    noise_texts = [f"word{i} thing{i} other{i}" for i in range(25)]
    model.partial_fit(np.vstack([X, noise]), texts + noise_texts, aspects + [None] * 25)
    assert not any(t["emerging"] for t in model.themes_)
    assert (model.labels_[len(texts):] == OUTLIER).mean() > 0.8


def test_refit_keeps_ids_of_continuing_themes_and_maps_the_rest():
    old = [3, 3, 3, 7, 7, 7, 9, 9, OUTLIER, NOT_SEEN]  # the last mention is new since the previous fit
    renames, table = match_refit(np.array(old), np.array([20, 20, 20, 21, 21, 22, 22, 22, 22, 22]))
    assert renames == {20: 3, 21: 7}  # 22 takes most of 9 but is mostly others: new id
    assert set(map(tuple, table[["old_theme_id", "new_theme_id"]].to_numpy())) == {(3, 3), (7, 7), (7, 22), (9, 22)}
    assert table.loc[table["old_theme_id"] == 9, "share_of_old"].item() == 1.0


def mentions_over_days(rising_from_day=None):
    rows = []
    for day in range(6):
        for theme, n in ((1, 50), (2, 50)):
            if theme == 2 and rising_from_day is not None and day >= rising_from_day:
                n = 150
            when = pd.Timestamp("2024-03-01", tz="UTC") + pd.Timedelta(days=day)
            rows += [{"feedback_id": f"{day}-{theme}-{i}", "theme_id": theme, "need_kind": "implicit",
                      "sentiment": "negative", "created_at": when,
                      "product": "A" if i % 2 else "B"} for i in range(n)]
    return pd.DataFrame(rows)


def test_trend_flags_a_significant_rise_only():
    rising = mentions_over_days(rising_from_day=5)
    assert choose_period(rising["created_at"]) == "day"
    result = trend_tests(theme_shares(rising, "day"), [1, 2]).set_index("theme_id")
    assert result.loc[2, "trend"] == "rising" and result.loc[1, "trend"] == "falling"
    assert result.loc[2, "share_latest"] == 0.75 and result.loc[2, "share_previous"] == 0.5
    flat = trend_tests(theme_shares(mentions_over_days(), "day"), [1, 2])
    assert set(flat["trend"]) == {"steady"}
    assert np.allclose(benjamini_hochberg(np.array([0.01, 0.04, 0.03])), [0.03, 0.04, 0.04])


def test_rankings_cut_by_segment():
    frame = mentions_over_days(rising_from_day=5).assign(source_kind="review", source_name="x", period="p")
    table = rank_by_segment(frame, min_mentions=30, n_bootstrap=20)
    assert set(table["segment"]) == {"product"}  # one-valued segments repeat the overall ranking
    assert set(table["segment_value"]) == {"A", "B"}
    assert (table.groupby("segment_value")["rank"].min() == 1).all()


def test_the_same_texts_in_another_order_give_the_same_themes():
    """Ids and file names change the order mentions arrive in; the themes must follow the texts alone."""
    X, texts, aspects, _ = corpus(["battery", "crash", "support", "price"], 30, spread=1.0)  # k-means seeding matters
    first_of = {}
    X = X[[first_of.setdefault(t, i) for i, t in enumerate(texts)]]  # an encoder gives one text one embedding
    shuffled = np.random.default_rng(3).permutation(len(texts))
    first = ThemeModel(max_fit_rows=80).fit(X, texts, aspects)
    second = ThemeModel(max_fit_rows=80).fit(X[shuffled], [texts[i] for i in shuffled],
                                             [aspects[i] for i in shuffled])
    assert (first.labels_[shuffled] == second.labels_).all()
    assert [(t["theme_id"], t["label"], t["size"]) for t in first.themes_] == \
        [(t["theme_id"], t["label"], t["size"]) for t in second.themes_]


def test_labels_name_an_aspect_and_a_problem_never_a_verdict_filler_or_the_product():
    from models.theme_labels import AspectProblemRepresenter
    from models.theme_words import FILLER_WORDS, STOP_WORDS, is_bare_verdict, verdict_words

    sizing = ["These Acme jeans run small, so disappointed", "going to return them, they run small",
              "the size runs small, I love the colour though", "sizing is off: runs small", "runs small in the waist"]
    battery = ["the Acme battery dies by noon", "battery dies by noon every day, terrible", "my battery dies fast",
               "honestly the battery dies by noon", "the battery is awful"]
    texts = sizing + battery
    aspects = ["size", "size", "size", "sizing", "waist", "battery", "battery", "battery", "battery", "battery"]
    labels = np.array([0] * 5 + [1] * 5)
    negative = np.ones(len(texts), dtype=bool)
    model = AspectProblemRepresenter().fit(texts, labels, aspects, excluded=frozenset({"acme"}), negative=negative)
    assert model.labels_ == {0: "size — runs small", 1: "battery — dies by noon"}
    assert model.need_statements_[1] == "Better battery: no more “dies by noon”"
    assert model.coverage_ == {0: 0.6, 1: 1.0}  # "sizing" and "waist" do not contain the word "size"
    banned = STOP_WORDS | FILLER_WORDS | verdict_words() | {"acme"}
    assert not any(w in banned for label in model.labels_.values() for w in label.replace("—", " ").split()
                   if w not in ("by",))  # "by" is inside the phrase, never at its ends
    assert is_bare_verdict("Disappointed.") and is_bare_verdict("Not again!") and is_bare_verdict("Love it!!")
    assert not is_bare_verdict("Runs small.") and not is_bare_verdict("The battery died")


def test_bare_verdicts_never_form_a_theme_and_take_their_documents_theme():
    X, texts, aspects, _ = corpus(["battery", "crash"], 40)
    documents = [f"doc{i}" for i in range(len(texts))]
    verdict_rows = np.random.default_rng(0).normal(size=(30, 48)).astype(np.float32) * 0.05 + 5  # one tight blob
    verdicts = ["Disappointed.", "Not again!", "So frustrating"] * 10
    model = ThemeModel().fit(np.vstack([X, verdict_rows]), texts + verdicts, aspects + [None] * 30,
                             documents=documents + documents[:29] + ["alone"])
    verdict_labels = model.labels_[len(texts):]
    assert (verdict_labels[:29] == model.labels_[:29]).all()  # each took its document's theme
    assert verdict_labels[29] == OUTLIER  # a verdict alone in its document stays an outlier
    assert all(t["label"] not in ("disappointed", "frustrating", "mixed mentions") for t in model.themes_)


def test_a_large_cluster_that_shares_no_aspect_or_problem_is_split_and_a_labelled_one_is_not():
    from models.theme_labels import NO_LABEL
    from models.themes import split_mixed

    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(0, 0.1, (20, 8)) + 3, rng.normal(0, 0.1, (20, 8)) - 3,  # one "cluster", two topics
                   rng.normal(0, 0.1, (10, 8))]).astype(np.float32)
    raw = np.array([0] * 40 + [1] * 10)
    split = split_mixed(X, raw, lambda labels: {0: NO_LABEL, 1: "battery — dies"}, seed=0)
    assert len(set(split[:40])) == 2 and set(split[:20]).isdisjoint(split[20:40])  # the two topics apart
    assert (split[40:] == 1).all()
    kept = split_mixed(X, raw, lambda labels: {0: "app — crashes", 1: "battery — dies"}, seed=0)
    assert (kept == raw).all()


def test_quotes_that_name_the_label_come_first_among_the_closest():
    from models.themes import ThemeSummary

    summary = ThemeSummary(n_representatives=2, rows_per_theme=100, seed=0)
    texts = ["It zooms too much.", "The charger broke.", "Not a good fit.", "Chargers do not stay in."]
    summary.add(np.arange(4), np.zeros(4, dtype=np.int64), np.array([0.9, 0.5, 0.8, 0.4], dtype=np.float32),
                texts, [None] * 4, np.zeros(4, dtype=bool), np.ones(4, dtype=bool))
    assert summary.representatives(0) == [0, 2]  # by similarity alone
    assert summary.representatives(0, {"charger"}) == [1, 3]  # "charger" and "chargers" name the label


class EmbeddingFeatures(BaseEstimator):
    """A swapped featurizer: the sentence embeddings alone, with its own saved state."""

    def __init__(self, scale: float = 1.0):
        self.scale = scale

    def fit(self, embeddings, texts):
        self.dim_ = embeddings.shape[1]
        return self

    def transform(self, embeddings, texts):
        return embeddings * self.scale

    def state_(self):
        return {"dim": self.dim_, "scale": self.scale}

    @classmethod
    def from_state(cls, state):
        features = cls(scale=state["scale"])
        features.dim_ = state["dim"]
        return features


def test_swapped_stages_are_cloned_fitted_saved_and_reloaded_to_predict_the_same():
    from sklearn.cluster import KMeans

    from models.theme_labels import AspectProblemRepresenter
    from models.theme_stages import Clusterer, Featurizer, Representer

    X, texts, aspects, truth = corpus(["battery", "crash", "support", "price"], 40)
    featurizer, clusterer = EmbeddingFeatures(scale=2.0), KMeans(n_clusters=4, n_init=4, random_state=0)
    representer = AspectProblemRepresenter(max_rows_per_theme=50)
    assert isinstance(featurizer, Featurizer) and isinstance(clusterer, Clusterer)
    assert isinstance(representer, Representer)
    model = ThemeModel(featurizer=featurizer, clusterer=clusterer, representer=representer, random_state=0)
    model.fit(X, texts, aspects)
    assert isinstance(model.featurizer_, EmbeddingFeatures) and model.featurizer_ is not featurizer
    assert not hasattr(featurizer, "dim_") and not hasattr(clusterer, "labels_")  # the stages passed in stay unfitted
    assert model.representer_.max_rows_per_theme == 50
    assert len({t["theme_id"] for t in model.themes_}) == 4
    reloaded = ThemeModel.from_state(model.state_(), featurizer=EmbeddingFeatures(), random_state=0)
    assert isinstance(reloaded.featurizer_, EmbeddingFeatures) and reloaded.featurizer_.scale == 2.0
    assert (reloaded.assign(X, texts, aspects) == model.assign(X, texts, aspects)).all()
    new_topic = corpus(["price"], 30, seed=5)[0] + 3.0  # far from every theme: misfits through the same stages
    grown = reloaded.partial_fit(np.vstack([X, new_topic]), texts + ["brand new complaint"] * 30,
                                 aspects + ["gadget"] * 30)
    assert grown.emerging_.any()
