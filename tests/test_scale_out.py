"""Scale-out: partitions analysed on a real Dask cluster (2 worker processes) give the warehouse that one
process gives, row for row; only the flow process writes."""

import json
import shutil

import duckdb
import numpy as np
import pytest

from pipelines.flows import ingest_feedback
from pipelines.flows.analyze import analyze_with, partition_size
from pipelines.flows.ingest import ingest_with
from pipelines.flows.params import ClusterParams, IngestParams
from pipelines.storage.analysis import pending_chunks, pending_count
from tests.conftest import SAMPLE

SENTENCE_COLUMNS = ("sentence_id, feedback_id, analysis_version, sentence_index, text, char_start, char_end, "
                    "sentiment, sentiment_score, sentiment_confidence, need_kind, need_confidence, aspect")
DOCUMENT_COLUMNS = ("feedback_id, analysis_version, status, sentiment, sentiment_score, sentiment_confidence, "
                    "n_sentences")


def warehouse(db):
    con = duckdb.connect(str(db), read_only=True)
    try:
        sentences = con.execute(f"SELECT {SENTENCE_COLUMNS} FROM sentences ORDER BY sentence_id").fetchall()
        documents = con.execute(f"SELECT {DOCUMENT_COLUMNS} FROM document_analysis ORDER BY feedback_id").fetchall()
        embeddings = con.execute("SELECT sentence_id, embedding FROM sentence_embeddings "
                                 "ORDER BY sentence_id").fetchall()
        writers = con.execute("SELECT DISTINCT run_id FROM sentences").fetchall()
    finally:
        con.close()
    return sentences, documents, embeddings, writers


SCORES = ("sentiment_score", "sentiment_confidence", "need_confidence")
SENTENCE_SCORES = tuple(i for i, c in enumerate(SENTENCE_COLUMNS.split(", ")) if c in SCORES)
DOCUMENT_SCORES = tuple(i for i, c in enumerate(DOCUMENT_COLUMNS.split(", ")) if c in SCORES)


def assert_same_rows(rows, other, scores) -> None:
    """Every value equal except the scores, which must agree to float noise: runners size partitions by their
    slots in flight, so the encoder's length-sorted batches and their padding differ."""
    def without_scores(r):
        return tuple(v for i, v in enumerate(r) if i not in scores)

    def score_matrix(table):
        return np.array([[np.nan if r[i] is None else r[i] for i in scores] for r in table], dtype=float)

    assert [without_scores(r) for r in rows] == [without_scores(r) for r in other]
    assert np.allclose(score_matrix(rows), score_matrix(other), atol=1e-6, equal_nan=True)


def assert_same_warehouse(single, other) -> None:
    """Every label, span and aspect equal, scores and embeddings to float noise, and one writer: the flow."""
    (s1, d1, e1, _), (s2, d2, e2, writers) = warehouse(single), warehouse(other)
    assert_same_rows(s1, s2, SENTENCE_SCORES)
    assert_same_rows(d1, d2, DOCUMENT_SCORES)
    assert [i for i, _ in e1] == [i for i, _ in e2]
    assert np.allclose(np.array([v for _, v in e1]), np.array([v for _, v in e2]), atol=1e-6)
    assert len(writers) == 1  # one run wrote everything: the flow's, not the workers'


@pytest.fixture(scope="module")
def ingested(tmp_path_factory, prefect_harness):
    db = tmp_path_factory.mktemp("scale") / "ingested.duckdb"
    ingest_feedback([str(SAMPLE / "app_store_reviews.csv"), str(SAMPLE / "social_posts.json")], str(db))
    return db


def test_dask_cluster_gives_the_same_rows_as_one_process(ingested, tmp_path):
    from distributed import LocalCluster

    single, clustered = tmp_path / "single.duckdb", tmp_path / "dask.duckdb"
    shutil.copy(ingested, single)
    shutil.copy(ingested, clustered)
    one = analyze_with()(str(single), cluster=ClusterParams(batch_documents=60, partitions_in_flight=1))
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        four_in_flight = ClusterParams(batch_documents=60, partitions_in_flight=4)
        many = analyze_with(cluster.scheduler_address)(str(clustered), cluster=four_in_flight)
        workers_used = len(cluster.scheduler_info["workers"])
    assert workers_used == 2
    assert many["documents"] == one["documents"] > 100 and many["sentences"] == one["sentences"]
    assert_same_warehouse(single, clustered)


def test_partitions_in_threads_of_one_process_give_the_same_rows(ingested, tmp_path):
    """Three partitions at once in one process: each thread has its own models and a share of the cores."""
    single, threaded = tmp_path / "single.duckdb", tmp_path / "threads.duckdb"
    shutil.copy(ingested, single)
    shutil.copy(ingested, threaded)
    one = analyze_with()(str(single), cluster=ClusterParams(batch_documents=40, partitions_in_flight=1))
    many = analyze_with()(str(threaded), cluster=ClusterParams(batch_documents=40, partitions_in_flight=3))
    assert many["documents"] == one["documents"] > 100 and many["analysis_version"] == one["analysis_version"]
    assert_same_warehouse(single, threaded)
    with duckdb.connect(str(threaded), read_only=True) as con:
        timings = json.loads(con.execute("SELECT timings FROM runs WHERE flow = 'analyze_feedback'").fetchone()[0])
    assert timings["partitions"] % 3 == 0 and timings["partition_documents"] <= 40
    assert (timings["partitions"] - 1) * timings["partition_documents"] < many["documents"]


@pytest.mark.parametrize(("pending", "most", "in_flight", "size"), [
    (3000, 1000, 2, 750), (2000, 1000, 2, 1000), (10_000, 1000, 2, 1000), (2001, 1000, 2, 501),
    (100, 1000, 2, 50), (1, 1000, 2, 1), (0, 1000, 2, 1), (3000, 1000, 1, 1000), (130, 40, 3, 22)])
def test_partitions_are_evened_out_so_the_last_round_fills_every_slot(pending, most, in_flight, size):
    assert partition_size(pending, most, in_flight) == size
    assert size <= most
    partitions = -(-pending // size)
    assert pending == 0 or partitions % in_flight == 0 or partitions < in_flight


def pending_documents(lengths: list[int]):
    con = duckdb.connect()
    con.execute("CREATE TABLE documents (feedback_id VARCHAR, text VARCHAR, language VARCHAR)")
    con.execute("CREATE TABLE document_analysis (feedback_id VARCHAR, analysis_version VARCHAR)")
    rows = [(f"d{i:04d}", "x" * n) for i, n in enumerate(lengths)]
    con.executemany("INSERT INTO documents VALUES (?, ?, 'en')", rows)
    return con


LONG_THEN_SHORT = [900 + i % 7 for i in range(100)] + [40 + i % 11 for i in range(200)]


@pytest.mark.parametrize("in_flight", [2, 3])
def test_partitions_hold_equal_shares_of_the_text_not_of_the_documents(in_flight):
    """Long reviews first, short ones after: by document count the first partitions would hold most of the work."""
    lengths, most = LONG_THEN_SHORT, 1000
    con = pending_documents(lengths)
    total, characters = pending_count(con, "v1")
    assert (total, characters) == (300, sum(lengths))
    size = partition_size(total, most, in_flight)
    planned = -(-total // size)
    chunks = list(pending_chunks(con, "v1", most, planned, total, characters))
    ids = [i for chunk in chunks for i in chunk["feedback_id"]]
    assert ids == [f"d{i:04d}" for i in range(300)]  # every document once, in key order
    assert len(chunks) == planned and all(len(chunk["text"]) <= most for chunk in chunks)
    shares = [sum(map(len, chunk["text"])) for chunk in chunks]
    assert max(shares) - min(shares) <= max(lengths), shares
    assert len(chunks[0]["text"]) < len(chunks[-1]["text"])


@pytest.mark.parametrize(("most", "sizes"), [(200, [100, 200]), (150, [150, 150])])
def test_shares_give_way_to_the_partition_cap(most, sizes):
    """The first partition takes at least what the others cannot hold: the plan's count stays, none over the cap."""
    con = pending_documents(LONG_THEN_SHORT)
    chunks = list(pending_chunks(con, "v1", most, 2, 300, sum(LONG_THEN_SHORT)))
    assert [len(chunk["text"]) for chunk in chunks] == sizes


def test_a_second_clustered_run_does_no_model_work(ingested, tmp_path):
    from distributed import LocalCluster

    db = tmp_path / "again.duckdb"
    shutil.copy(ingested, db)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        four_in_flight = ClusterParams(batch_documents=80, partitions_in_flight=4)
        first = analyze_with(cluster.scheduler_address)(str(db), cluster=four_in_flight)
        again = analyze_with(cluster.scheduler_address)(str(db), cluster=four_in_flight)
    assert first["documents"] > 100 and again["documents"] == 0


def test_input_parts_read_on_dask_give_the_rows_one_process_reads(tmp_path, prefect_harness):
    """Files cut into parts of 4 KiB, read by 2 worker processes, written by the flow in file order."""
    from distributed import LocalCluster

    from pipelines.storage import connect

    inputs = [str(SAMPLE / "app_store_reviews.csv"), str(SAMPLE / "marketplace_reviews.jsonl"),
              str(SAMPLE / "social_posts.json")]
    rows = {}
    for name in ("single", "dask"):
        db = tmp_path / f"{name}.duckdb"
        with connect(db) as con:
            con.execute("INSERT INTO settings VALUES ('author_salt', 'scale-out-salt')")
        if name == "single":
            result = ingest_feedback(inputs, str(db))
        else:
            with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
                result = ingest_with(cluster.scheduler_address)(inputs, str(db), IngestParams(part_bytes=4096),
                                                                parts_in_flight=4)
        con = duckdb.connect(str(db), read_only=True)
        rows[name] = [con.execute("SELECT * EXCLUDE (ingest_run_id, ingested_at) FROM documents ORDER BY 1"
                                  ).fetchall(),
                      con.execute("SELECT * EXCLUDE (run_id, quarantined_at) FROM quarantine ORDER BY 1").fetchall(),
                      [f["parts"] for f in result["files"]]]
        con.close()
    assert rows["single"][2] == [1, 1, 1] and rows["dask"][2][0] > 3 and rows["dask"][2][1] > 1
    assert rows["dask"][2][2] == 1  # a JSON document is read whole
    assert rows["dask"][0] == rows["single"][0] and len(rows["dask"][0]) > 300
    assert rows["dask"][1] == rows["single"][1]


def executed_by_worker(client) -> dict[str, set[str]]:
    """The task names each worker executed (not merely held as inputs)."""
    def names(dask_worker):
        return sorted({str(entry[0]).split("-")[0] for entry in dask_worker.state.log
                       if len(entry) > 2 and entry[2] == "executing"})
    return {address: set(tasks) for address, tasks in client.run(names).items()}


def test_the_encoder_stage_goes_to_gpu_workers_and_the_rest_to_cpu_workers(ingested, tmp_path):
    """A worker declaring the GPU resource gets only the encoder stage; one declaring CPU reads input parts,
    splits and parses."""
    from distributed import Client, Nanny, Scheduler, SpecCluster

    single, routed = tmp_path / "single.duckdb", tmp_path / "routed.duckdb"
    shutil.copy(ingested, single)
    shutil.copy(ingested, routed)
    analyze_with()(str(single), cluster=ClusterParams(batch_documents=70, partitions_in_flight=1))
    workers = {name: {"cls": Nanny, "options": {"nthreads": 1, "resources": {name.upper(): 1}}}
               for name in ("gpu", "cpu")}
    with SpecCluster(workers=workers, scheduler={"cls": Scheduler, "options": {"dashboard_address": None}}) as cluster:
        flow = analyze_with(cluster.scheduler_address)
        with pytest.raises(ValueError, match="no Dask worker declares the resource 'TPU'"):
            flow(str(routed), cluster=ClusterParams(batch_documents=70, gpu_resource="TPU", partitions_in_flight=1))
        result = flow(str(routed),
                      cluster=ClusterParams(batch_documents=70, partitions_in_flight=4, gpu_resource="GPU"))
        ingest_with(cluster.scheduler_address)([str(SAMPLE / "app_store_reviews.csv")], str(tmp_path / "in.duckdb"),
                                               IngestParams(part_bytes=4096), parts_in_flight=4, cpu_resource="CPU")
        with Client(cluster) as client:
            by_resource = {info["resources"].popitem()[0]: executed_by_worker(client)[address]
                           for address, info in client.scheduler_info()["workers"].items()}
    assert by_resource == {"GPU": {"model_versions", "decide_partition"},
                           "CPU": {"read_part", "segment_partition", "assemble_partition"}}
    assert result["documents"] > 100
    assert_same_warehouse(single, routed)


def test_routing_needs_a_dask_runner(ingested, tmp_path):
    db = tmp_path / "plain.duckdb"
    shutil.copy(ingested, db)
    with pytest.raises(ValueError, match="needs a Dask task runner"):
        analyze_with()(str(db), cluster=ClusterParams(gpu_resource="GPU", partitions_in_flight=1))
