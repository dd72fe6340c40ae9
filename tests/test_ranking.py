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
