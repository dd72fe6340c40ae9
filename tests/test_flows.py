"""The flows end to end on the bundled sample data, under Prefect's test harness."""

import json

import duckdb
import pytest

from pipelines.cli import main
from pipelines.flows import analyze_feedback, feedback_pipeline, ingest_feedback, rank_needs
from tests.conftest import SAMPLE

SAMPLE_FILES = [str(p) for p in sorted(SAMPLE.iterdir()) if p.suffix in (".csv", ".json", ".jsonl")]


def counts(db):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {table: con.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in
                ("documents", "quarantine", "sentences", "document_analysis", "v_feedback", "v_need_mentions",
                 "v_unmet_needs", "sentence_embeddings")}
    finally:
        con.close()


@pytest.fixture(scope="module")
def sample_db(tmp_path_factory, prefect_harness):
    db = tmp_path_factory.mktemp("warehouse") / "unmet.duckdb"
    first = feedback_pipeline(SAMPLE_FILES, str(db), n_bootstrap=100)
    return db, first


def test_pipeline_accounts_for_every_row(sample_db):
    db, result = sample_db
    ingest = result["ingest"]
    for file in ingest["files"]:
        assert file["rows_read"] == file["stored"] + file["quarantined"]
    assert ingest["quarantined"] >= 6  # the sample's deliberate bad rows
    table = counts(db)
    assert table["documents"] == ingest["new_documents"] > 300
    assert table["quarantine"] == ingest["new_quarantined"]


def test_views_are_filled(sample_db):
    db, result = sample_db
    table = counts(db)
    assert table["v_feedback"] == table["documents"]
    assert table["v_need_mentions"] > 50 and table["v_unmet_needs"] >= 2
    con = duckdb.connect(str(db), read_only=True)
    top = con.execute("SELECT rank, theme_label, example_quotes FROM v_unmet_needs ORDER BY rank LIMIT 1").fetchone()
    assert top[0] == 1 and top[1]
    assert json.loads(top[2])[0]["feedback_id"]
    skipped = con.execute("SELECT count(*) FROM document_analysis WHERE status = 'skipped_language'").fetchone()[0]
    assert skipped >= 3  # the Spanish, German and French reviews are kept, not analysed with English models
    labels = con.execute("SELECT DISTINCT need_model, sentiment_model FROM sentences").fetchall()
    assert len(labels) == 1 and all(labels[0])
    runs = con.execute("SELECT flow, status FROM runs ORDER BY started_at").fetchall()
    assert runs == [("ingest_feedback", "completed"), ("analyze_feedback", "completed"), ("rank_needs", "completed")]
    con.close()


def test_second_run_adds_nothing_and_does_no_model_work(sample_db):
    db, first = sample_db
    before = counts(db)
    again = feedback_pipeline(SAMPLE_FILES, str(db), n_bootstrap=100)
    assert again["ingest"]["new_documents"] == 0 and again["ingest"]["new_quarantined"] == 0
    assert again["analyze"]["documents"] == 0
    assert again["rank"]["theme_fit_id"] == first["rank"]["theme_fit_id"]
    assert counts(db) == before


def test_incremental_file_is_analysed_alone(sample_db, tmp_path):
    db, _ = sample_db
    new = tmp_path / "new.csv"
    new.write_text("id,text\nn1,The lamp flickers whenever the fridge turns on.\n", encoding="utf-8")
    assert ingest_feedback([str(new)], str(db))["new_documents"] == 1
    assert analyze_feedback(str(db))["documents"] == 1
    assert rank_needs(str(db), n_bootstrap=50)["mentions"] > 0


def test_cli_query_is_read_only_and_refuses_files(sample_db, capsys):
    db, _ = sample_db
    assert main(["query", "SELECT count(*) AS n FROM v_feedback", "--db", str(db), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["n"] > 300
    assert main(["query", "DELETE FROM documents", "--db", str(db)]) == 2
    assert "read-only" in capsys.readouterr().err.lower()
    assert main(["query", "SELECT * FROM read_csv('/etc/passwd')", "--db", str(db)]) == 2
    assert main(["status", "--db", str(db)]) == 0


def test_cli_errors_are_clear(tmp_path, capsys):
    assert main(["query", "SELECT 1", "--db", str(tmp_path / "none.duckdb")]) == 2
    assert "no database" in capsys.readouterr().err
    assert main(["run", str(tmp_path / "missing.csv"), "--db", str(tmp_path / "x.duckdb")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_prefect_yaml_deployments_validate(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    prefect = str(Path(sys.executable).with_name("prefect"))
    root = SAMPLE.parent.parent
    env = {**os.environ, "PREFECT_HOME": str(tmp_path), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "UNMET_HOME": str(root), "PREFECT_API_URL": ""}
    subprocess.run([prefect, "work-pool", "create", "unmet-process", "--type", "process"], cwd=root, env=env,
                   check=True, capture_output=True, timeout=300)
    done = subprocess.run([prefect, "--no-prompt", "deploy", "--all"], cwd=root, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert done.stdout.count("successfully created") == 2


def test_a_directory_yields_its_feedback_files_only(caplog):
    from pipelines.flows.ingest import expand_inputs

    with caplog.at_level("WARNING", logger="unmet.ingest"):
        found = expand_inputs([str(SAMPLE)])
    assert [p.name for p in found] == ["app_store_reviews.csv", "marketplace_reviews.jsonl", "social_posts.json"]
    assert "generate.py" in caplog.text  # skipped, and said so
