import numpy as np
import pandas as pd

from pipelines.ranking import opportunity, rank_themes


def mentions(spec):
    """spec: theme -> (documents, negative documents, explicit documents); one mention per document."""
    rows = []
    for theme, (docs, negative, explicit) in spec.items():
        for i in range(docs):
            rows.append((f"{theme}-{i}", theme, "explicit" if i < explicit else "implicit",
                         "negative" if i < negative else "positive"))
    return pd.DataFrame(rows, columns=["feedback_id", "theme_id", "need_kind", "sentiment"])


def test_ulwick_formula():
    assert opportunity(np.array([10.0, 5.0, 2.0]), np.array([0.0, 5.0, 9.0])).tolist() == [20.0, 5.0, 2.0]


def test_components_and_point_scores():
    table = rank_themes(mentions({1: (100, 100, 0), 2: (50, 25, 50)}), n_bootstrap=50).set_index("theme_id")
    assert table.loc[1, "importance"] == 10.0 and table.loc[1, "satisfaction"] == 0.0
    assert table.loc[1, "opportunity_score"] == 20.0
    assert table.loc[2, "importance"] == 5.0 and table.loc[2, "satisfaction"] == 5.0
    assert table.loc[2, "opportunity_score"] == 5.0
    assert table.loc[2, "explicit_share"] == 1.0 and table.loc[2, "negative_share"] == 0.5


def test_three_angry_mentions_do_not_outrank_three_hundred():
    table = rank_themes(mentions({"big": (300, 240, 0), "tiny": (3, 3, 0)}), n_bootstrap=300)
    assert table.iloc[0]["theme_id"] == "big"
    tiny = table.set_index("theme_id").loc["tiny"]
    assert tiny["ci_low"] <= tiny["opportunity_score"] <= tiny["ci_high"]


def test_intervals_narrow_with_more_data_and_are_reproducible():
    small = rank_themes(mentions({1: (20, 10, 0), 2: (20, 5, 0)}), seed=1).set_index("theme_id")
    large = rank_themes(mentions({1: (2000, 1000, 0), 2: (2000, 500, 0)}), seed=1).set_index("theme_id")
    assert (large.ci_high - large.ci_low).loc[1] < (small.ci_high - small.ci_low).loc[1]
    again = rank_themes(mentions({1: (20, 10, 0), 2: (20, 5, 0)}), seed=1).set_index("theme_id")
    pd.testing.assert_frame_equal(small, again)
    assert list(large["rank"].sort_values()) == [1, 2]


def test_empty_input():
    assert rank_themes(mentions({})).empty


def test_star_ratings_decide_satisfaction_and_give_each_theme_its_impact():
    """Negative-sounding sentences in 5-star reviews are not an unmet need; 1-star reviews are."""
    frame = mentions({"nitpick": (100, 100, 0), "broken": (100, 100, 0)})
    frame["rating"] = np.where(frame["theme_id"] == "nitpick", 5.0, 1.0)
    others = pd.Series(3.0, index=[f"other-{i}" for i in range(100)])  # rated documents that raise no need
    ratings = pd.concat([frame.drop_duplicates("feedback_id").set_index("feedback_id")["rating"], others])
    verdicts = pd.DataFrame({"rating": ratings, "recommend": pd.Series(pd.NA, index=ratings.index, dtype="boolean")})
    table = rank_themes(frame, n_bootstrap=50, verdicts=verdicts).set_index("theme_id")
    assert table.loc["nitpick", "satisfaction"] == 10.0 and table.loc["broken", "satisfaction"] == 0.0
    assert table.loc["broken", "rank"] == 1 and table.loc["broken", "opportunity_score"] == 20.0
    assert set(table["satisfaction_basis"]) == {"ratings"}
    broken = table.loc["broken"]
    assert broken["mean_rating"] == 1.0 and broken["mean_rating_without"] == 4.0 and broken["rating_impact"] == -3.0
    assert broken["rating_impact_ci_low"] < -3.0 < broken["rating_impact_ci_high"] < 0
    unrated = rank_themes(mentions({"nitpick": (100, 100, 0)}), n_bootstrap=50).set_index("theme_id")
    assert unrated.loc["nitpick", "satisfaction"] == 0.0 and unrated.loc["nitpick", "satisfaction_basis"] == "sentiment"
    assert np.isnan(unrated.loc["nitpick", "rating_impact"])


def test_a_recommend_flag_counts_where_there_is_no_rating_and_gives_the_recommend_impact():
    frame = mentions({"fine": (40, 40, 0), "dealbreaker": (40, 40, 0)})
    frame["recommend"] = pd.array(frame["theme_id"] == "fine", dtype="boolean")
    others = pd.Series(True, index=[f"other-{i}" for i in range(60)], dtype="boolean")
    flags = pd.concat([frame.drop_duplicates("feedback_id").set_index("feedback_id")["recommend"], others])
    verdicts = pd.DataFrame({"rating": np.nan, "recommend": flags})
    table = rank_themes(frame, n_bootstrap=50, verdicts=verdicts).set_index("theme_id")
    assert table.loc["fine", "satisfaction"] == 10.0 and table.loc["dealbreaker", "satisfaction"] == 0.0
    deal = table.loc["dealbreaker"]
    assert deal["recommend_share"] == 0.0 and deal["recommend_share_without"] == 1.0
    assert deal["recommend_impact"] == -1.0 and np.isnan(deal["rating_impact"])


def test_intervals_follow_the_documents_content_not_their_ids():
    table = mentions({"a": (40, 30, 5), "b": (30, 10, 20), "c": (25, 20, 2)})
    table["document_key"] = np.arange(len(table)) * 7919 % 1009  # the warehouse's hash of text and rating
    renamed = table.assign(feedback_id="salted-" + table["feedback_id"].str[::-1])  # another salt: other ids
    first, second = (rank_themes(t, n_bootstrap=200, seed=1).set_index("theme_id") for t in (table, renamed))
    pd.testing.assert_frame_equal(first, second)
    without_key = rank_themes(renamed.drop(columns="document_key"), n_bootstrap=200, seed=1).set_index("theme_id")
    assert not np.allclose(without_key["ci_low"], first["ci_low"])  # by id order the intervals move
