"""The team's edits of themes (rename, merge, hide), stored as rules that every later run applies.

Rules name theme ids. Incremental runs keep ids, so the rules hold as they are; a refit keeps the ids of
themes that continue old ones, and ``carry_edits`` moves the rules of the others to the new theme that took
most of their mentions, so an edit outlives any number of refits.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

import duckdb
import pandas as pd

from pipelines.storage.warehouse import WarehouseError

ACTIONS = ("rename", "merge", "hide")


@dataclass(frozen=True)
class ThemeEdits:
    renames: dict[int, str] = field(default_factory=dict)
    merges: dict[int, int] = field(default_factory=dict)
    hidden: frozenset[int] = frozenset()

    def shown_as(self, theme: int) -> int:
        """The theme a mention is ranked under: merges followed to their end (a cycle stops where it closes)."""
        seen = {theme}
        while theme in self.merges and self.merges[theme] not in seen:
            theme = self.merges[theme]
            seen.add(theme)
        return theme

    def digest(self) -> str:
        """Changes when the rules change, so an edit is applied by the next rank run even on unchanged mentions."""
        rules = [sorted(self.renames.items()), sorted(self.merges.items()), sorted(self.hidden)]
        return hashlib.sha256(json.dumps(rules).encode()).hexdigest()[:16]


def load_edits(con: duckdb.DuckDBPyConnection) -> ThemeEdits:
    """The active rules, applied in the order they were made (a later rename of the same theme wins)."""
    rows = con.execute("""SELECT action, theme_id, into_id, label FROM theme_edits WHERE undone_at IS NULL
                          ORDER BY edit_id""").fetchall()
    renames, merges, hidden = {}, {}, set()
    for action, theme, into, label in rows:
        if action == "rename":
            renames[theme] = label
        elif action == "merge":
            merges[theme] = into
        else:
            hidden.add(theme)
    return ThemeEdits(renames, merges, frozenset(hidden))


def latest_theme_ids(con: duckdb.DuckDBPyConnection) -> set[int]:
    latest = "SELECT theme_id FROM themes WHERE theme_fit_id = (SELECT theme_fit_id FROM v_latest_theme_fit)"
    return {r[0] for r in con.execute(latest).fetchall()}


def add_edit(con: duckdb.DuckDBPyConnection, action: str, theme_id: int, into_id: int | None = None,
             label: str | None = None) -> int:
    """Store one rule after checking it names themes of the latest fit; returns its edit id."""
    if action not in ACTIONS:
        raise WarehouseError(f"unknown theme edit {action!r}: choose one of {', '.join(ACTIONS)}")
    known = latest_theme_ids(con)
    if not known:
        raise WarehouseError("no themes yet: run the pipeline (or unmet themes) first")
    for theme in (theme_id, into_id):
        if theme is not None and theme not in known:
            raise WarehouseError(f"no theme {theme} in the latest fit: see unmet query \"SELECT theme_id, "
                                 f"theme_label FROM v_unmet_needs\"")
    if action == "rename" and not (label or "").strip():
        raise WarehouseError("a rename needs a non-empty label")
    if action == "merge" and (into_id is None or into_id == theme_id):
        raise WarehouseError("a merge needs another theme to merge into")
    return con.execute("""INSERT INTO theme_edits (action, theme_id, into_id, label, created_at)
                          VALUES (?, ?, ?, ?, ?) RETURNING edit_id""",
                       [action, theme_id, into_id, label.strip() if label else None, datetime.now(UTC)]).fetchone()[0]


def undo_edit(con: duckdb.DuckDBPyConnection, edit_id: int) -> None:
    if not con.execute("SELECT 1 FROM theme_edits WHERE edit_id = ? AND undone_at IS NULL", [edit_id]).fetchone():
        raise WarehouseError(f"no active theme edit {edit_id}: see unmet themes edits")
    con.execute("UPDATE theme_edits SET undone_at = ? WHERE edit_id = ?", [datetime.now(UTC), edit_id])


def carry_edits(con: duckdb.DuckDBPyConnection, id_map: pd.DataFrame, new_ids: set[int]) -> tuple[int, list[int]]:
    """After a refit: rules naming a theme that no longer exists move to the new theme that took the largest share
    of its mentions, unless that theme continues another old one (it kept that one's id: hiding or renaming it
    would hide or rename the other). Returns how many rules moved and the ids of the rules left on a theme that
    no longer exists (they no longer apply)."""
    if id_map.empty:
        return 0, []
    continuing = set(id_map["old_theme_id"]) & set(id_map["new_theme_id"])
    own = id_map[(id_map["new_theme_id"] >= 0) & ~id_map["new_theme_id"].isin(continuing)]
    successors = (own.sort_values(["old_theme_id", "shared_mentions"], ascending=[True, False])
                  .drop_duplicates("old_theme_id").set_index("old_theme_id")["new_theme_id"].to_dict())
    moved, stranded = 0, set()
    for column in ("theme_id", "into_id"):
        rows = con.execute(f"SELECT edit_id, {column} FROM theme_edits WHERE undone_at IS NULL "
                           f"AND {column} IS NOT NULL").fetchall()
        for edit_id, theme in rows:
            if theme not in new_ids and theme in successors:
                con.execute(f"UPDATE theme_edits SET {column} = ? WHERE edit_id = ?",
                            [int(successors[theme]), edit_id])
                moved += 1
            elif theme not in new_ids:
                stranded.add(edit_id)
    return moved, sorted(stranded)
