import pyarrow as pa
import pytest

from pipelines.storage import WarehouseBusy, WarehouseError, connect, insert_new, migrate
from pipelines.storage.views import views
from pipelines.storage.warehouse import migration_files

PUBLIC_VIEWS = [view for view in views() if not view.internal]


def test_migrations_apply_once_and_are_recorded(tmp_path):
    con = connect(tmp_path / "w.duckdb")
    versions = [v for v, _, _ in migration_files()]
    assert [r[0] for r in con.execute("SELECT version FROM schema_migrations ORDER BY 1").fetchall()] == versions
    assert migrate(con) == []  # second time: nothing to do
    con.close()
    connect(tmp_path / "w.duckdb").close()  # reopening is safe


def test_newer_schema_is_refused(tmp_path):
    con = connect(tmp_path / "w.duckdb")
    con.execute("INSERT INTO schema_migrations VALUES (999, '999_future.sql', 'x', now())")
    with pytest.raises(WarehouseError, match="newer than this unmet"):
        migrate(con)


def test_views_match_the_contract_and_are_documented(tmp_path):
    con = connect(tmp_path / "w.duckdb")
    assert {view.name for view in PUBLIC_VIEWS} >= {"v_feedback", "v_need_mentions", "v_unmet_needs",
                                                    "v_unmet_needs_by_segment", "v_theme_trends", "v_theme_edits"}
    for view in PUBLIC_VIEWS:
        columns = [d[0] for d in con.execute(f"SELECT * FROM {view.name} LIMIT 0").description]
        assert columns == [c.name for c in view.columns]
        comment = con.execute("SELECT comment FROM duckdb_views() WHERE view_name = ?", [view.name]).fetchone()[0]
        assert comment == view.description
        documented = dict(con.execute("SELECT column_name, comment FROM duckdb_columns() WHERE table_name = ?",
                                      [view.name]).fetchall())
        assert documented == {c.name: c.description for c in view.columns}
        assert all(c.description.strip() for c in view.columns)


def test_a_changed_view_is_recreated_once_and_the_readme_lists_the_views(tmp_path, monkeypatch):
    from dataclasses import replace
    from pathlib import Path

    from pipelines.storage import views as view_module
    from pipelines.storage.views import readme_table

    con = connect(tmp_path / "w.duckdb")
    assert view_module.sync_views(con) == []  # unchanged: nothing re-created
    edited = tuple(replace(v, description="Edited.") if v.name == "v_theme_edits" else v for v in views())
    monkeypatch.setattr(view_module, "views", lambda: edited)
    assert view_module.sync_views(con) == ["v_theme_edits"]
    assert con.execute("SELECT comment FROM duckdb_views() WHERE view_name = 'v_theme_edits'").fetchone()[0] \
        == "Edited."
    assert view_module.sync_views(con) == []
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    assert readme_table() in readme  # regenerate with: python -m pipelines.storage.views --readme



def test_insert_new_is_idempotent_and_dedupes_within_batch(tmp_path):
    con = connect(tmp_path / "w.duckdb")
    rows = pa.table({"key": ["a", "b", "b"], "value": ["x", "y", "y"]})
    con.execute("CREATE TABLE kv (key VARCHAR PRIMARY KEY, value VARCHAR, run VARCHAR)")
    assert insert_new(con, "kv", rows, "key", {"run": "r1"}) == 2
    assert insert_new(con, "kv", rows, "key", {"run": "r2"}) == 0
    assert con.execute("SELECT count(*), min(run) FROM kv").fetchone() == (2, "r1")


def test_missing_database_for_readers_and_busy_database(tmp_path):
    with pytest.raises(WarehouseError, match="no database"):
        connect(tmp_path / "none.duckdb", read_only=True)
    path = tmp_path / "w.duckdb"
    connect(path).close()
    import subprocess
    import sys
    holder = subprocess.Popen([sys.executable, "-c", f"import duckdb,time; c=duckdb.connect({str(path)!r}); "
                               "print('ready', flush=True); time.sleep(30)"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(WarehouseBusy, match="busy"):
            connect(path)
    finally:
        holder.kill()
        holder.wait()
    connect(path).close()  # the lock goes with its holder: the file opens again


def test_a_refit_carries_edits_to_the_theme_that_took_most_of_the_old_one(tmp_path):
    from datetime import UTC, datetime

    import pandas as pd

    from pipelines.storage.theme_edits import carry_edits, load_edits

    con = connect(tmp_path / "w.duckdb")
    now = datetime.now(UTC)
    con.execute("""INSERT INTO theme_edits (action, theme_id, into_id, label, created_at) VALUES
                   ('rename', 3, NULL, 'Sizing runs small', ?), ('merge', 4, 3, NULL, ?), ('hide', 5, NULL, NULL, ?),
                   ('hide', 6, NULL, NULL, ?)""", [now] * 4)
    con.execute("INSERT INTO theme_edits (action, theme_id, created_at) VALUES ('hide', 7, ?)", [now])
    id_map = pd.DataFrame({"old_theme_id": [3, 3, 4, 5, 6, 7, 7], "new_theme_id": [20, 21, 4, 22, -1, 4, 23],
                           "shared_mentions": [10, 30, 8, 5, 9, 6, 2],
                           "share_of_old": [0.25, 0.75, 1.0, 1.0, 1.0, 0.75, 0.25]})
    assert carry_edits(con, id_map, new_ids={4, 20, 21, 22, 23}) == (4, [4])
    edits = load_edits(con)
    assert edits.renames == {21: "Sizing runs small"} and edits.merges == {4: 21}
    # 6: every mention became an outlier, nothing to carry it to; 7: most of it joined 4, which continues the old
    # 4, so the hide goes to 23 (its own successor), never to the visible 4
    assert edits.hidden == {22, 6, 23}
    assert edits.shown_as(4) == 21 and edits.shown_as(21) == 21
