"""Killed runs, re-runs and concurrent use never lose data, duplicate it or corrupt the warehouse."""

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import duckdb
import numpy as np
import pytest

from pipelines.flows.params import IngestParams
from tests.conftest import SAMPLE

UNMET = str(Path(sys.executable).with_name("unmet"))
BATCH = 25
# Each named point is reached once per batch or fit; ":n" kills on the n-th time.
KILL_POINTS = ["ingest.before_commit:2", "ingest.after_commit:3", "analyze.before_commit:2",
               "analyze.after_commit:3", "rank.before_commit:1"]


@pytest.fixture(scope="module")
def small_inputs(tmp_path_factory) -> list[str]:
    """120 rows in two formats: several ingest and analysis batches of 25, quick to analyse."""
    folder = tmp_path_factory.mktemp("inputs")
    csv_lines = (SAMPLE / "app_store_reviews.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    (folder / "app.csv").write_text("".join(csv_lines[:61]), encoding="utf-8")
    jsonl_lines = (SAMPLE / "marketplace_reviews.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    (folder / "market.jsonl").write_text("".join(jsonl_lines[:60]), encoding="utf-8")
    return [str(folder / "app.csv"), str(folder / "market.jsonl")]


def run_cli(args: list[str], kill_at: str | None = None, kill_after_s: float | None = None,
            timeout: int = 400) -> subprocess.CompletedProcess:
    """Run the CLI in its own process group; afterwards the group (Prefect's ephemeral server) is ended too,
    as a supervisor would after the main process died."""
    env = {k: v for k, v in os.environ.items() if k != "UNMET_KILL_AT"}
    if kill_at:
        env["UNMET_KILL_AT"] = kill_at
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen([UNMET, *args], env=env, stdout=out, stderr=err, text=True,
                                   start_new_session=True)
        try:
            process.wait(timeout=kill_after_s if kill_after_s is not None else timeout)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGKILL)
            process.wait()
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(args, process.returncode, out.read(), err.read())


def fresh_warehouse(db: Path) -> Path:
    """A new warehouse with a fixed author salt, so two warehouses hash authors (and ids) alike."""
    from pipelines.storage import connect

    with connect(db) as con:
        con.execute("INSERT INTO settings VALUES ('author_salt', 'crash-test-salt')")
    return db


def run_args(inputs: list[str], db: Path) -> list[str]:
    return ["run", *inputs, "--db", str(db), "--batch-rows", str(BATCH), "--batch-documents", str(BATCH)]


def snapshot(db: Path) -> dict:
    """Everything a consumer sees, without run ids and timestamps (which differ by design)."""
    with duckdb.connect(str(db), read_only=True) as con:
        def rows(sql):
            return sorted(con.execute(sql).fetchall())

        embeddings = con.execute("SELECT embedding FROM sentence_embeddings ORDER BY sentence_id").fetchall()
        latest_fit = "(SELECT theme_fit_id FROM theme_fits ORDER BY created_at DESC LIMIT 1)"
        return {
            "documents": rows("SELECT feedback_id, text, raw_text, source_file, source_line, raw_payload "
                              "FROM documents"),
            "quarantine": rows("SELECT quarantine_id, source_file, source_line, reason FROM quarantine"),
            "analysis": rows("SELECT feedback_id, analysis_version, status, sentiment, n_sentences "
                             "FROM document_analysis"),
            "sentences": rows("SELECT sentence_id, feedback_id, text, sentiment, need_kind, aspect FROM sentences"),
            "embeddings": np.array([e[0] for e in embeddings]),
            "themes": rows(f"SELECT theme_id, label, size FROM themes WHERE theme_fit_id = {latest_fit}"),
            "ranking": rows(f"SELECT theme_id, rank, mentions FROM need_rankings WHERE theme_fit_id = {latest_fit}"),
            "fits": con.execute("SELECT count(*) FROM theme_fits").fetchone()[0],
        }


def assert_same_state(actual: dict, expected: dict) -> None:
    for key in ("documents", "quarantine", "analysis", "sentences", "themes", "ranking", "fits"):
        assert actual[key] == expected[key], key
    assert actual["embeddings"].shape == expected["embeddings"].shape
    np.testing.assert_allclose(actual["embeddings"], expected["embeddings"], atol=1e-4)


def stored_and_parked(db: Path) -> int:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute("SELECT (SELECT count(*) FROM documents) + (SELECT count(*) FROM quarantine)").fetchone()[0]


@pytest.fixture(scope="module")
def uninterrupted(small_inputs, tmp_path_factory) -> dict:
    db = fresh_warehouse(tmp_path_factory.mktemp("reference") / "ref.duckdb")
    done = run_cli(run_args(small_inputs, db))
    assert done.returncode == 0, done.stderr[-2000:]
    return snapshot(db)


def test_killed_at_every_step_the_next_run_ends_as_if_never_killed(small_inputs, uninterrupted, tmp_path):
    db = fresh_warehouse(tmp_path / "killed.duckdb")
    survived = []
    for point in KILL_POINTS:
        code = run_cli(run_args(small_inputs, db), kill_at=point)
        assert code.returncode == -signal.SIGKILL, (point, code.stderr[-1500:])
        survived.append(point)
        if point == "ingest.before_commit:2":  # the second batch was rolled back whole: only the first is there
            assert stored_and_parked(db) == BATCH
        if point == "ingest.after_commit:3":
            assert stored_and_parked(db) == 60  # batches of 25, 25 and 10: the whole first file
    rng = random.Random(11)
    for _ in range(2):  # and at moments nobody chose
        run_cli(run_args(small_inputs, db), kill_after_s=rng.uniform(8, 30))
    done = run_cli(run_args(small_inputs, db))
    assert done.returncode == 0, done.stderr[-2000:]
    assert_same_state(snapshot(db), uninterrupted)
    with duckdb.connect(str(db), read_only=True) as con:
        statuses = dict(con.execute("SELECT status, count(*) FROM runs GROUP BY status").fetchall())
        assert con.execute("SELECT count(*) FROM documents").fetchone()[0] == \
            con.execute("SELECT count(DISTINCT feedback_id) FROM documents").fetchone()[0]
    assert statuses.get("running", 0) == 0
    assert statuses["interrupted"] >= len(survived)
    print(json.dumps({"kill_points_survived": survived, "run_statuses": statuses}))


def test_a_second_run_refuses_clearly_while_the_first_holds_the_database(small_inputs, tmp_path):
    db = tmp_path / "busy.duckdb"
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import time
        from pipelines.storage.runs import run_lock
        with run_lock({str(db)!r}):
            print("locked", flush=True)
            time.sleep(60)
    """)], stdout=subprocess.PIPE, text=True, cwd=SAMPLE.parent.parent)
    try:
        assert holder.stdout.readline().strip() == "locked"
        started = time.monotonic()
        refused = run_cli([*run_args(small_inputs, db), "--wait", "2"])
        assert refused.returncode == 2
        assert "in use by another unmet run (pid" in refused.stderr and "--wait" in refused.stderr
        assert time.monotonic() - started >= 2
    finally:
        holder.kill()
        holder.wait()
    assert not db.exists() or stored_and_parked(db) == 0


def hold_connection(db: Path, read_only: bool, seconds: float) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import time, duckdb
        con = duckdb.connect({str(db)!r}, read_only={read_only})
        print("open", flush=True)
        time.sleep({seconds})
        con.close()
    """)], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "open"
    return process


def test_readers_get_busy_or_wait_and_writers_wait_for_readers(tmp_path, capsys):
    from pipelines.cli import main
    from pipelines.storage import WarehouseBusy, connect
    from pipelines.storage.runs import connect_writer

    db = tmp_path / "w.duckdb"
    connect(db).close()
    writer = hold_connection(db, read_only=False, seconds=3)
    assert main(["query", "SELECT count(*) FROM documents", "--db", str(db)]) == 2
    assert "busy" in capsys.readouterr().err
    assert main(["query", "SELECT count(*) FROM documents", "--db", str(db), "--wait", "20"]) == 0
    writer.wait()
    reader = hold_connection(db, read_only=True, seconds=3)
    with pytest.raises(WarehouseBusy):
        connect_writer(db, wait_s=0)
    connect_writer(db, wait_s=20).close()  # waited for the analyst to finish
    reader.wait()


def test_queries_during_a_run_see_whole_batches_only(small_inputs, tmp_path):
    from pipelines.storage import WarehouseBusy
    from pipelines.storage.readonly import open_for_query

    db = tmp_path / "live.duckdb"
    log = (tmp_path / "run.log").open("w+")
    run = subprocess.Popen([UNMET, *run_args(small_inputs, db)], stdout=subprocess.DEVNULL, stderr=log,
                           start_new_session=True)
    reads, busy = 0, 0
    while run.poll() is None:
        time.sleep(0.2)
        if not db.exists():
            continue
        try:
            con = open_for_query(db)
        except WarehouseBusy:
            busy += 1
            continue
        try:  # every analysed document has all its sentences: no half-written analysis batch is visible
            stored = con.execute("SELECT (SELECT count(*) FROM documents) + (SELECT count(*) FROM quarantine)"
                                 ).fetchone()[0]
            expected, found = con.execute("""SELECT coalesce(sum(n_sentences), 0), (SELECT count(*) FROM sentences)
                                             FROM document_analysis""").fetchone()
        finally:
            con.close()
        assert expected == found and stored % BATCH in (0, 60 % BATCH, 120 % BATCH)
        reads += 1
    log.close()
    assert run.returncode == 0, (tmp_path / "run.log").read_text()[-2000:]
    assert reads + busy > 0
    print(json.dumps({"reads_during_run": reads, "busy_answers": busy}))


def test_migrations_run_twice_and_refuse_edits_and_newer_schemas(tmp_path, monkeypatch):
    from pipelines.storage import WarehouseError, connect, migrate, warehouse

    con = connect(tmp_path / "m.duckdb")
    assert migrate(con) == []  # second time: nothing to do
    original = warehouse.migration_files()
    edited = [(v, n, sql + "\n-- edited") if v == 1 else (v, n, sql) for v, n, sql in original]
    monkeypatch.setattr(warehouse, "migration_files", lambda: edited)
    with pytest.raises(WarehouseError, match="append-only"):
        migrate(con)
    monkeypatch.setattr(warehouse, "migration_files", lambda: original[:-1])
    with pytest.raises(WarehouseError, match="newer than this unmet"):
        migrate(con)
    con.close()


def test_transient_failures_are_retried_and_permanent_ones_fail_the_run_clearly(tmp_path, monkeypatch,
                                                                                prefect_harness):
    from pipelines.flows import ingest as ingest_module
    from pipelines.sources.normalize import normalize_batches

    source = tmp_path / "one.csv"
    source.write_text("id,text\n1,The hinge snapped after a week.\n", encoding="utf-8")
    calls = []

    def flaky(path, options, part=None):
        calls.append(path)
        if len(calls) == 1:
            raise OSError("NFS server not responding")  # transient: the retry reads the file again
        yield from normalize_batches(path, options, part)

    monkeypatch.setattr(ingest_module, "normalize_batches", flaky)
    db = tmp_path / "retry.duckdb"
    assert ingest_module.ingest_feedback([str(source)], str(db))["new_documents"] == 1
    assert len(calls) == 2

    calls.clear()

    def broken(path, options, part=None):
        calls.append(path)
        raise ValueError("adapter bug: cannot map column 'text'")
        yield  # a generator, like the real one

    monkeypatch.setattr(ingest_module, "normalize_batches", broken)
    skipped = ingest_module.ingest_feedback([str(source)], str(db))  # the file was ingested whole: not read again
    assert calls == [] and skipped["files"][0]["parts_skipped"] == 1
    with pytest.raises(ValueError, match="adapter bug"):
        ingest_module.ingest_feedback([str(source)], str(db), IngestParams(reread=True))
    assert len(calls) == 1  # permanent: not retried
    with duckdb.connect(str(db), read_only=True) as con:
        status, error = con.execute("SELECT status, error FROM runs ORDER BY started_at DESC LIMIT 1").fetchone()
    assert status == "failed" and error == "ValueError: adapter bug: cannot map column 'text'"


@pytest.mark.parametrize("error, transient", [
    (OSError("stale NFS handle"), True), (TimeoutError(), True), (ConnectionResetError(), True),
    (FileNotFoundError("gone"), False), (PermissionError("denied"), False), (ValueError("bug"), False),
])
def test_what_counts_as_transient(error, transient):
    from pipelines.flows.retry import is_transient
    from pipelines.sources import SourceError
    from pipelines.storage import WarehouseBusy

    assert is_transient(error) is transient
    assert is_transient(WarehouseBusy("busy")) and not is_transient(SourceError("bad file"))
