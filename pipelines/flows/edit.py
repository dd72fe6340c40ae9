"""edit_themes: record the team's rename, merge, hide or undo as a rule, then re-rank so that it shows at once."""

from __future__ import annotations

from prefect import flow

from pipelines.config import DEFAULT_DB_PATH
from pipelines.flows.rank import rank_needs
from pipelines.flows.results import EditResult
from pipelines.storage.runs import recorded_run
from pipelines.storage.theme_edits import add_edit, undo_edit


@flow(name="edit_themes", log_prints=True)
def edit_themes(action: str, theme_ids: list[int], label: str | None = None, db_path: str = str(DEFAULT_DB_PATH),
                wait_s: float = 60.0) -> EditResult:
    """``rename [ID] label`` | ``merge [ID, INTO]`` (more ids: all into the last) | ``hide [ID]`` | ``undo [EDIT]``.

    Rules are kept in ``theme_edits`` and applied by every later run and refit (see ``v_theme_edits``).
    """
    parameters = {"action": action, "theme_ids": theme_ids, "label": label}
    with recorded_run(db_path, "edit_themes", parameters, wait_s) as run:
        if action == "undo":
            for edit_id in theme_ids:
                undo_edit(run.con, edit_id)
            edit_ids = theme_ids
        elif action == "merge":
            *sources, into = theme_ids
            edit_ids = [add_edit(run.con, "merge", theme, into_id=into) for theme in sources]
        else:
            edit_ids = [add_edit(run.con, action, theme, label=label) for theme in theme_ids]
        run.complete(counts={"edits": len(edit_ids)})
    ranked = rank_needs(db_path, wait_s=wait_s)
    return EditResult(edit_ids=edit_ids, theme_fit_id=ranked["theme_fit_id"])
