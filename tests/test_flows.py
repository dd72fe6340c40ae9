"""The flows end to end on the bundled sample data, under Prefect's test harness."""

import csv
import json
import os
import shutil
import subprocess
from pathlib import Path

import duckdb
import pytest

from pipelines.cli import main
from pipelines.flows import analyze_feedback, feedback_pipeline, ingest_feedback, rank_needs
from pipelines.flows.params import RankParams
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
    first = feedback_pipeline(SAMPLE_FILES, str(db), rank=RankParams(n_bootstrap=100))
    return db, first


def test_pipeline_accounts_for_every_row(sample_db):
    db, result = sample_db
    ingest = result["ingest"]
    for file in ingest["files"]:  # the rows as another reader counts them
        path = Path(file["file"])
        if path.suffix == ".csv":
            rows = len(list(csv.reader(path.open(newline="", encoding="utf-8")))) - 1
        else:
            rows = (len(json.loads(path.read_text())["data"]) if path.suffix == ".json"  # an X API v2 envelope
                    else len(path.read_text().splitlines()))
        assert file["rows_read"] == rows == file["stored"] + file["quarantined"], file
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
    again = feedback_pipeline(SAMPLE_FILES, str(db), rank=RankParams(n_bootstrap=100))
    assert again["ingest"]["new_documents"] == 0 and again["ingest"]["new_quarantined"] == 0
    assert again["analyze"]["documents"] == 0
    assert again["rank"]["theme_fit_id"] == first["rank"]["theme_fit_id"]
    assert counts(db) == before


def test_subflows_end_without_waiting_for_a_heartbeat_thread(sample_db, monkeypatch):
    """Prefect joins a flow's heartbeat thread at its end, and the thread sleeps in whole seconds; the subflows
    run in the parent's process, whose heartbeats cover them, so only the parent sends any."""
    from prefect import flow_engine

    heartbeats = {}
    send_heartbeats = flow_engine._send_heartbeats

    def recorded(engine, *args, **kwargs):
        heartbeats[engine.flow.name] = engine.heartbeat_seconds
        return send_heartbeats(engine, *args, **kwargs)

    monkeypatch.setattr(flow_engine, "_send_heartbeats", recorded)
    db, _ = sample_db
    feedback_pipeline(SAMPLE_FILES, str(db), rank=RankParams(n_bootstrap=100))  # as the run before: nothing new
    assert heartbeats.pop("feedback_pipeline") is not None
    assert heartbeats == {"ingest_feedback": None, "analyze_feedback": None, "rank_needs": None}


def test_sentences_without_words_are_not_needs(sample_db):
    db, _ = sample_db
    with duckdb.connect(str(db), read_only=True) as con:
        handles = con.execute("SELECT count(*) FROM sentences WHERE text = '@user'").fetchone()[0]
        as_needs = con.execute("SELECT count(*) FROM v_need_mentions WHERE sentence = '@user'").fetchone()[0]
    assert handles > 0 and as_needs == 0  # the sample's trailing handles split off as their own sentence


def test_ranking_does_not_walk_the_previous_fit_state(sample_db, tmp_path, monkeypatch):
    """Prefect visits every item of a task's parameters looking for futures: passed plainly, the previous fit's
    state (a few hundred floats per theme) was walked several times per run, 4 s for 33 themes."""
    from prefect.utilities import collections

    from pipelines.storage.theme_store import load_previous_fit

    db = tmp_path / "refit.duckdb"
    shutil.copy(sample_db[0], db)
    with duckdb.connect(str(db), read_only=True) as con:
        state = load_previous_fit(con).state
    numbers = sum(len(centroid) for centroid in state["centroids"])
    visited = []
    visit_collection = collections.visit_collection
    monkeypatch.setattr(collections, "visit_collection",
                        lambda expr, *args, **kwargs: visited.append(1) or visit_collection(expr, *args, **kwargs))
    result = rank_needs(str(db), RankParams(refit=True, n_bootstrap=20))
    assert result["kind"] == "refit" and numbers > 1000
    assert 0 < len(visited) < numbers / 4


def test_incremental_file_is_analysed_alone(sample_db, tmp_path):
    db, _ = sample_db
    new = tmp_path / "new.csv"
    new.write_text("id,text\nn1,The lamp flickers whenever the fridge turns on.\n", encoding="utf-8")
    assert ingest_feedback([str(new)], str(db))["new_documents"] == 1
    assert analyze_feedback(str(db))["documents"] == 1
    assert rank_needs(str(db), RankParams(n_bootstrap=50))["mentions"] > 0


def test_cli_query_is_read_only_and_refuses_files(sample_db, capsys):
    db, _ = sample_db
    assert main(["query", "SELECT count(*) AS n FROM v_feedback", "--db", str(db), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["n"] > 300
    assert main(["query", "DELETE FROM documents", "--db", str(db)]) == 2
    assert "read-only" in capsys.readouterr().err.lower()
    assert main(["query", "SELECT * FROM read_csv('/etc/passwd')", "--db", str(db)]) == 2
    assert main(["status", "--db", str(db)]) == 0


def test_cli_query_prints_one_line_per_row_when_piped(sample_db, capsys):
    db, _ = sample_db
    sql = "SELECT * FROM v_need_mentions ORDER BY mention_id LIMIT 15"
    assert main(["query", sql, "--db", str(db)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 + 15  # header, rule, rows: no frame folded to a console width
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        columns = [d[0] for d in con.execute(sql).description]
        longest = max(len(r[0] or "") for r in con.execute("SELECT sentence FROM v_need_mentions").fetchall())
    assert lines[0].split() == columns  # headers whole, in order
    assert longest > 40 and any("…" in line for line in lines[2:])  # long values clipped, with an ellipsis
    assert main(["query", sql, "--db", str(db), "--format", "csv"]) == 0
    assert "…" not in capsys.readouterr().out  # the full values


def test_outliers_are_minus_one_in_the_mentions_view_as_its_comment_says(sample_db, tmp_path):
    import shutil

    import duckdb

    db, _ = sample_db
    copy = tmp_path / "copy.duckdb"
    shutil.copy(db, copy)
    with duckdb.connect(str(copy)) as con:
        latest = "(SELECT theme_fit_id FROM v_latest_theme_fit)"
        mention = con.execute(f"SELECT sentence_id FROM theme_assignments WHERE theme_fit_id = {latest} "
                              "ORDER BY sentence_id LIMIT 1").fetchone()[0]
        con.execute(f"UPDATE theme_assignments SET theme_id = -1 WHERE theme_fit_id = {latest} AND sentence_id = ?",
                    [mention])
        outliers = con.execute(f"SELECT count(*) FROM theme_assignments WHERE theme_id = -1 AND theme_fit_id = "
                               f"{latest}").fetchone()[0]
        shown = con.execute("SELECT theme_id, theme_label FROM v_need_mentions WHERE mention_id = ?",
                            [mention]).fetchone()
        assert shown == (-1, "outliers (fits no theme)")
        assert con.execute("SELECT count(*) FROM v_need_mentions WHERE theme_id = -1").fetchone()[0] == outliers
        assert con.execute("SELECT count(*) FROM v_need_mentions WHERE theme_id IS NULL").fetchone()[0] == 0
        comment = con.execute("SELECT comment FROM duckdb_columns() WHERE table_name = 'v_need_mentions' "
                              "AND column_name = 'theme_id'").fetchone()[0]
    assert "-1 = fits no theme" in comment


def test_cli_errors_are_clear(tmp_path, capsys):
    assert main(["query", "SELECT 1", "--db", str(tmp_path / "none.duckdb")]) == 2
    assert "no database" in capsys.readouterr().err
    assert main(["run", str(tmp_path / "missing.csv"), "--db", str(tmp_path / "x.duckdb")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["run", str(SAMPLE), "--db", str(tmp_path / "x.duckdb"), "--batch-rows", "0"]) == 2
    assert "IngestParams.batch_rows: Input should be greater than 0" in capsys.readouterr().err
    assert not (tmp_path / "x.duckdb").exists()  # refused before any work


def test_only_unmet_errors_are_one_line_user_errors(tmp_path, monkeypatch, capsys):
    import pipelines.cli as cli
    from models.errors import ConfigError, UnmetError
    from models.integrity import IntegrityError
    from pipelines.sources import SourceError
    from pipelines.storage import WarehouseError

    assert all(issubclass(e, UnmetError) for e in (ConfigError, IntegrityError, SourceError, WarehouseError))

    def fails_with(error):
        def handler(args):
            raise error
        return handler

    monkeypatch.setattr(cli, "cmd_query", fails_with(ConfigError("--period must be day, week or month")))
    assert main(["query", "SELECT 1", "--db", str(tmp_path / "x.duckdb")]) == 2
    assert capsys.readouterr().err == "error: --period must be day, week or month\n"
    monkeypatch.setattr(cli, "cmd_query", fails_with(ValueError("a bug")))
    with pytest.raises(ValueError, match="a bug"):  # a bug keeps its traceback instead of passing for a user error
        main(["query", "SELECT 1", "--db", str(tmp_path / "x.duckdb")])


def test_prefect_yaml_deployments_validate(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    prefect = str(Path(sys.executable).with_name("prefect"))
    root = SAMPLE.parent.parent
    env = {**os.environ, "PREFECT_HOME": str(tmp_path), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "UNMET_HOME": str(root), "PREFECT_API_URL": "", "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120"}
    subprocess.run([prefect, "work-pool", "create", "unmet-process", "--type", "process"], cwd=root, env=env,
                   check=True, capture_output=True, timeout=300)
    done = subprocess.run([prefect, "--no-prompt", "deploy", "--all"], cwd=root, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert done.stdout.count("successfully created") == 3


def test_the_views_data_tests_pass_on_the_demo_warehouse_and_catch_bad_rows(sample_db, tmp_path):
    from pipelines.storage.views import data_test_failures

    db, _ = sample_db
    with duckdb.connect(str(db), read_only=True) as con:
        assert data_test_failures(con) == []
        assert con.execute("SELECT count(*) FROM v_unmet_needs").fetchone()[0] > 5  # the tests ran on rows
    broken = tmp_path / "broken.duckdb"
    shutil.copy(db, broken)
    with duckdb.connect(str(broken)) as con:
        con.execute("UPDATE documents SET source_kind = 'forum' WHERE feedback_id = "
                    "(SELECT min(feedback_id) FROM documents)")
        con.execute("UPDATE sentences SET need_kind = 'maybe' WHERE sentence_id = "
                    "(SELECT min(mention_id) FROM v_need_mentions)")
        con.execute("UPDATE need_rankings SET rank = 1")
        failures = data_test_failures(con)
    assert "v_feedback.source_kind: accepted_values fails on 1 row" in failures
    assert any(f.startswith("v_unmet_needs.rank: unique fails") for f in failures)
    assert not any(f.startswith("v_need_mentions.need_kind") for f in failures)  # the view keeps needs only


def test_prefect_yaml_parameters_are_the_flows_groups():
    import yaml
    from prefect.exceptions import ParameterTypeError

    from pipelines.flows import ClusterParams, ModelParams

    spec = yaml.safe_load((SAMPLE.parent.parent / "prefect.yaml").read_text())
    for deployment in spec["deployments"]:  # as Prefect validates a run's parameters before it starts
        validated = feedback_pipeline.validate_parameters(deployment["parameters"])
        assert isinstance(validated["models"], ModelParams) and isinstance(validated["cluster"], ClusterParams)
    nightly_dask = feedback_pipeline.validate_parameters(spec["deployments"][2]["parameters"])
    assert nightly_dask["cluster"].dask_workers == 8 and nightly_dask["cluster"].batch_documents == 2000
    for wrong in ({"models": {"encoder_bakend": "onnx"}}, {"cluster": {"batch_documents": 0}},
                  {"rank": {"period": "fortnight"}}):  # a typo, a bound, a choice: refused before the run
        with pytest.raises(ParameterTypeError):
            feedback_pipeline.validate_parameters({"inputs": ["data/sample"], **wrong})


def test_a_directory_yields_its_feedback_files_only(caplog):
    from pipelines.flows.ingest import expand_inputs

    with caplog.at_level("WARNING", logger="unmet.ingest"):
        found = expand_inputs([str(SAMPLE)])
    assert [p.name for p in found] == ["app_store_reviews.csv", "marketplace_reviews.jsonl", "social_posts.json"]
    assert "generate.py" in caplog.text  # skipped, and said so


def theme_of_mentions(db, fit_id):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return dict(con.execute("""SELECT s.feedback_id || ':' || s.sentence_index, ta.theme_id
                                   FROM theme_assignments ta JOIN sentences s USING (sentence_id)
                                   WHERE ta.theme_fit_id = ?""", [fit_id]).fetchall())
    finally:
        con.close()


def test_incremental_runs_keep_theme_ids_and_a_refit_maps_them(tmp_path, prefect_harness):
    db = str(tmp_path / "unmet.duckdb")
    first = feedback_pipeline([SAMPLE_FILES[0]], db, rank=RankParams(n_bootstrap=50))["rank"]
    second = feedback_pipeline(SAMPLE_FILES[1:], db, rank=RankParams(n_bootstrap=50))["rank"]
    assert (first["kind"], second["kind"]) == ("initial", "incremental")
    before, after = theme_of_mentions(db, first["theme_fit_id"]), theme_of_mentions(db, second["theme_fit_id"])
    assert len(after) > len(before)
    assert all(after[key] == theme for key, theme in before.items() if theme >= 0)  # ids survive
    third = rank_needs(db, RankParams(n_bootstrap=50))
    assert third["theme_fit_id"] == second["theme_fit_id"]  # nothing new: fit kept

    assert main(["themes", "--db", db]) == 0
    con = duckdb.connect(db, read_only=True)
    refit = con.execute("SELECT theme_fit_id, kind, previous_fit_id FROM v_latest_theme_fit").fetchone()
    assert refit[1:] == ("refit", second["theme_fit_id"])
    mapped = con.execute("SELECT count(DISTINCT old_theme_id), sum(shared_mentions) FROM theme_id_map "
                         "WHERE theme_fit_id = ?", [refit[0]]).fetchone()
    themed_before = sum(theme >= 0 for theme in after.values())
    assert mapped[0] == len({t for t in after.values() if t >= 0}) and mapped[1] == themed_before
    new_ids = {r[0] for r in con.execute("SELECT theme_id FROM themes WHERE theme_fit_id = ?", [refit[0]]).fetchall()}
    fresh = new_ids - set(after.values())
    assert all(i > max(after.values()) for i in fresh)  # ids are never reused for another theme
    segments = con.execute("SELECT DISTINCT segment FROM v_unmet_needs_by_segment").fetchall()
    assert ("source_name",) in segments
    con.close()


def html_text(html: str) -> str:
    import html as entities
    import re

    return entities.unescape(re.sub(r"<[^>]+>", " ", html))


def find_chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    if os.environ.get("UNMET_REQUIRE_CHROMIUM"):
        pytest.fail("UNMET_REQUIRE_CHROMIUM is set but no chromium is installed (apt-get install chromium)")
    pytest.skip("chromium not installed (Debian package 'chromium'); .ci/run installs it")


def test_report_renders_charts_in_headless_chromium(sample_db, tmp_path, prefect_harness):
    chromium = find_chromium()
    db = tmp_path / "edited.duckdb"
    shutil.copy(sample_db[0], db)
    theme = ranked(db)[1][0]
    assert main(["themes", "rename", str(theme), "Our name for it", "--db", str(db)]) == 0
    out = tmp_path / "report.html"
    assert main(["report", "--db", str(db), "--out", str(out)]) == 0
    html = out.read_text(encoding="utf-8")
    assert "cdn" not in html.lower().split("<body", 1)[0][-2000:] and "<script src=" not in html  # self-contained
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--window-size=1280,2400", "--virtual-time-budget=10000"]
    dom = subprocess.run([chromium, *flags, "--dump-dom", out.as_uri()], capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert 'data-js-errors="0"' in dom.stdout
    assert 'data-charts-drawn="5"' in dom.stdout  # landscape, top needs, trends, explicit/implicit, hierarchy
    for section in ("landscape", "top-needs", "trends", "need-split", "ranking", "quotes", "edits"):
        assert f'id="{section}"' in dom.stdout
    con = duckdb.connect(str(db), read_only=True)
    top = con.execute("SELECT need_statement, rating_impact FROM v_unmet_needs ORDER BY rank LIMIT 1").fetchone()
    requests = con.execute("SELECT count(*) FROM v_unmet_needs WHERE rank <= 20 AND top_requests <> '[]'").fetchone()[0]
    con.close()
    text = html_text(dom.stdout)
    assert top[0] in text and "Our name for it" in text and ">renamed<" in dom.stdout  # the team's edit shows
    assert text.count("Need:") >= 2 and requests > 0 and text.count("Top requests") == requests
    assert top[1] < 0 and f"{top[1]:+.2f}".replace("-", "−") in text  # the rating impact of the top need
    assert "rename" in html_text(dom.stdout.split('id="edits"', 1)[1])
    assert "Uncaught" not in dom.stderr
    artifacts = Path(os.environ.get("UNMET_TEST_ARTIFACTS", Path(__file__).parent / "artifacts"))
    artifacts.mkdir(parents=True, exist_ok=True)
    shot = artifacts / "report.png"
    subprocess.run([chromium, *flags, f"--screenshot={shot}", out.as_uri()], capture_output=True, timeout=120,
                   check=True)
    assert shot.stat().st_size > 20_000


def test_export_writes_partitioned_parquet_that_duckdb_reads_back(sample_db, tmp_path, capsys):
    db, _ = sample_db
    out = tmp_path / "lake"
    assert main(["export", str(out), "--db", str(db)]) == 0
    assert "v_feedback:" in capsys.readouterr().out
    assert any(p.name.startswith("year=") for p in (out / "v_feedback").iterdir())
    con = duckdb.connect()
    try:
        lake = {view: con.execute(f"SELECT count(*) FROM read_parquet('{out / view}/**/*.parquet', "
                                  "hive_partitioning = true)").fetchone()[0]
                for view in ("v_feedback", "v_need_mentions", "v_unmet_needs")}
        months = con.execute(f"SELECT count(DISTINCT (year, month)) FROM read_parquet('{out}/v_feedback/**/*.parquet', "
                             "hive_partitioning = true)").fetchone()[0]
    finally:
        con.close()
    table = counts(db)
    assert lake == {view: table[view] for view in lake} and months > 1
    assert main(["export", str(out), "--db", str(db)]) == 0  # a second export replaces the first
    con = duckdb.connect()
    again = con.execute(f"SELECT count(*) FROM read_parquet('{out}/v_feedback/**/*.parquet')").fetchone()[0]
    con.close()
    assert again == table["v_feedback"]


def test_the_pipeline_loads_its_models_while_ingest_reads_and_analysis_uses_those(tmp_path, prefect_harness,
                                                                                   monkeypatch):
    import threading

    from pipelines.flows import analyze

    built = []

    class CountedAnalyzer(analyze.Analyzer):
        def __init__(self, *args, **kwargs):
            built.append(threading.current_thread().name)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(analyze, "_idle", {})  # no analyzer left over from other tests
    monkeypatch.setattr(analyze, "Analyzer", CountedAnalyzer)
    result = feedback_pipeline([SAMPLE_FILES[0]], str(tmp_path / "unmet.duckdb"), rank=RankParams(n_bootstrap=20))
    assert result["analyze"]["documents"] > 0
    assert built == ["unmet-preload-models"] * 2  # two partitions in flight, both analyzers loaded beside ingest


def test_period_on_undated_data_is_a_warning_and_changes_nothing(tmp_path, prefect_harness, caplog, capsys):
    rows = ["The app crashes when I open settings.", "Please add a dark mode.", "The battery dies by noon.",
            "Support never answered my ticket.", "Setup failed three times.", "I wish it had a sleep timer."] * 4
    path = tmp_path / "undated.csv"
    path.write_text("text\n" + "".join(f"{t} ({i})\n" for i, t in enumerate(rows)), encoding="utf-8")
    db = str(tmp_path / "undated.duckdb")
    first = feedback_pipeline([str(path)], db, rank=RankParams(n_bootstrap=20))
    assert first["rank"]["mentions"] > 0
    with caplog.at_level("WARNING", logger="unmet"):
        again = rank_needs(db, RankParams(n_bootstrap=20, period="month"))
    assert again["kind"] == "reused" and again["theme_fit_id"] == first["rank"]["theme_fit_id"]
    assert "has no dates" in caplog.text
    with duckdb.connect(db, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM v_theme_trends").fetchone()[0] == 0
        comment = con.execute("SELECT comment FROM duckdb_views() WHERE view_name = 'v_theme_trends'").fetchone()[0]
    assert "no rows when the data has no dates" in comment
    from pipelines.report import build_report

    html = build_report(db, tmp_path / "report.html").read_text(encoding="utf-8")
    assert "NaT" not in html and "with no dates (trends are not computed)" in html
    assert 'id="chart-2"' not in html  # no empty trend chart
    capsys.readouterr()
    assert main(["run", str(path), "--db", db]) == 0
    assert "the data has no dates: trends are not computed" in capsys.readouterr().out


def ranked(db, columns="theme_id, theme_label, mentions"):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(f"SELECT {columns} FROM v_unmet_needs ORDER BY rank").fetchall()
    finally:
        con.close()


def test_the_teams_renames_merges_and_hides_last_through_runs_and_refits(tmp_path, prefect_harness, capsys):
    db = str(tmp_path / "unmet.duckdb")
    feedback_pipeline([SAMPLE_FILES[0]], db, rank=RankParams(n_bootstrap=30))
    (named, _, _), (merged, _, merged_n), (into, _, into_n), (hidden, _, _) = ranked(db)[:4]
    assert main(["themes", "rename", str(named), "Checkout keeps failing", "--db", db]) == 0
    assert main(["themes", "merge", str(merged), str(into), "--db", db]) == 0
    assert main(["themes", "hide", str(hidden), "--db", db]) == 0
    assert main(["themes", "merge", "99999", str(into), "--db", db]) == 2  # unknown theme: a clear error
    assert "no theme 99999" in capsys.readouterr().err
    shown = {theme: (label, n) for theme, label, n in ranked(db)}
    assert shown[named][0] == "Checkout keeps failing"
    assert merged not in shown and hidden not in shown and shown[into][1] == merged_n + into_n
    con = duckdb.connect(db, read_only=True)
    assert con.execute("SELECT count(*) FROM v_need_mentions WHERE theme_id = ?", [merged]).fetchone()[0] == 0
    assert con.execute("SELECT bool_and(theme_is_hidden) FROM v_need_mentions WHERE theme_id = ?",
                       [hidden]).fetchone()[0]
    con.close()

    feedback_pipeline(SAMPLE_FILES[1:], db, rank=RankParams(n_bootstrap=30))  # incremental: the rules hold
    assert "Checkout keeps failing" in [label for _, label, _ in ranked(db)]
    assert main(["themes", "--db", db]) == 0  # refit: the rules follow the themes to their new ids
    after = ranked(db, "theme_id, theme_label, is_renamed")
    assert [label for _, label, renamed in after if renamed] == ["Checkout keeps failing"]
    con = duckdb.connect(db, read_only=True)
    live = {r[0] for r in con.execute("SELECT theme_id FROM themes WHERE theme_fit_id = "
                                      "(SELECT theme_fit_id FROM v_latest_theme_fit)").fetchall()}
    rules = con.execute("SELECT action, theme_id FROM v_theme_edits WHERE is_active").fetchall()
    con.close()
    assert {action for action, _ in rules} == {"rename", "merge", "hide"}
    hidden_now = next(theme for action, theme in rules if action == "hide")
    assert hidden_now not in {theme for theme, _, _ in after}  # moved to its own successor, or no longer applies
    renamed_now = next(theme for action, theme in rules if action == "rename")
    assert renamed_now in live and renamed_now != hidden_now
    assert main(["themes", "undo", "1", "--db", db]) == 0
    assert "Checkout keeps failing" not in [label for _, label, _ in ranked(db)]


def test_the_same_texts_under_another_file_name_and_ids_give_the_same_themes(tmp_path, prefect_harness):
    import pandas as pd

    reviews = pd.read_csv(SAMPLE / "app_store_reviews.csv", dtype=str)
    first = tmp_path / "reviews.csv"
    reviews.to_csv(first, index=False)
    second = tmp_path / "export-2026-12-01.csv"
    reviews.assign(review_id="other-" + reviews["review_id"]).sample(frac=1, random_state=4).to_csv(second,
                                                                                                    index=False)
    results = []
    for path in (first, second):
        db = str(tmp_path / f"{path.stem}.duckdb")
        feedback_pipeline([str(path)], db, rank=RankParams(n_bootstrap=30))
        results.append(sorted(ranked(db, "theme_label, mentions, round(opportunity_score, 6), round(ci_low, 6), "
                                         "round(ci_high, 6), rank")))
    assert results[0] == results[1] and len(results[0]) >= 3  # intervals and ranks too: they hash no salt or id
