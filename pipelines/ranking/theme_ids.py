"""Theme ids across a full refit: new themes that clearly continue an old one keep its id; the rest get
fresh ids, and every (old, new) pair that shares mentions is recorded so dashboards can follow the change."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipelines.storage.mentions import NOT_SEEN


def match_refit(old_labels: np.ndarray, new_labels: np.ndarray) -> tuple[dict[int, int], pd.DataFrame]:
    """Renames for the new fit (new id → old id) and the old → new mapping table.

    ``old_labels`` holds each mention's theme in the previous fit (-1 outlier, ``NOT_SEEN`` when it was not
    in that fit). A new theme keeps an old id when each is the other's main source/destination: more than
    half of the old theme's mentions moved into it and more than half of its mentions came from that old
    theme.
    """
    pairs = pd.DataFrame({"old": np.asarray(old_labels, dtype=np.int64), "new": np.asarray(new_labels)})
    shared = pairs[pairs["old"] != NOT_SEEN]
    columns = ["old_theme_id", "new_theme_id", "shared_mentions", "share_of_old"]
    if shared.empty:
        return {}, pd.DataFrame(columns=columns)
    counts = shared.groupby(["old", "new"]).size().rename("shared_mentions").reset_index()
    old_sizes = shared.groupby("old").size()
    new_sizes = pairs.groupby("new").size()
    counts["share_of_old"] = counts["shared_mentions"] / counts["old"].map(old_sizes)
    counts["share_of_new"] = counts["shared_mentions"] / counts["new"].map(new_sizes)
    renames = {}
    for row in counts.itertuples():
        if row.old >= 0 and row.new >= 0 and row.share_of_old > 0.5 and row.share_of_new > 0.5:
            renames[int(row.new)] = int(row.old)
    table = counts.rename(columns={"old": "old_theme_id", "new": "new_theme_id"})
    table = table[table["old_theme_id"] >= 0]
    table["new_theme_id"] = table["new_theme_id"].map(lambda t: renames.get(int(t), int(t)))
    return renames, table[columns].reset_index(drop=True)
