"""Large files are read in parts by separate tasks; the parts together must read exactly what the whole file
reads: the same rows, errors and line numbers, and the same records once normalised."""

import gzip
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines.flows.params import IngestParams
from pipelines.sources import IngestOptions
from pipelines.sources.formats import iter_rows
from pipelines.sources.normalize import normalize_batches
from pipelines.sources.partitions import part_key, part_options, plan_parts


def rows_of(path, parts=None, fmt=None):
    if parts is None:
        return [(r.line, r.fields, r.raw, r.error) for r in iter_rows(path, fmt)]
    return [(r.line, r.fields, r.raw, r.error) for p in parts for r in iter_rows(path, fmt, part=p)]


def tricky_csv(tmp_path):
    lines = ["id,text,rating"]
    for i in range(300):
        if i % 37 == 5:
            lines.append(f'{i},"a quoted review\nthat spans, two lines ""with"" quotes",4')
        elif i % 41 == 7:
            lines.append(f"{i},too,many,fields")
        elif i % 43 == 9:
            lines.append("")
        else:
            lines.append(f"{i},The battery dies after {i} minutes; please fix it,{i % 5}")
    path = tmp_path / "reviews.csv"
    path.write_bytes("\r\n".join(lines).encode())
    return path


def test_csv_parts_read_the_rows_the_whole_file_reads(tmp_path):
    path = tricky_csv(tmp_path)
    parts = plan_parts(path, part_bytes=700)
    assert len(parts) > 5 and [p.index for p in parts] == list(range(len(parts)))
    assert all(p.count == len(parts) for p in parts) and parts[-1].end is None
    assert rows_of(path, parts) == rows_of(path)  # multi-line quoted fields are never cut


def test_jsonl_parts_keep_line_numbers_blank_lines_and_errors(tmp_path):
    path = tmp_path / "posts.jsonl"
    lines = []
    for i in range(200):
        lines.append("" if i % 17 == 3 else "{not json" if i % 23 == 4 else json.dumps({"id": i, "text": f"post {i}"}))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    parts = plan_parts(path, part_bytes=500)
    assert len(parts) > 5
    assert rows_of(path, parts) == rows_of(path)


def test_parquet_is_split_by_row_groups(tmp_path):
    path = tmp_path / "reviews.parquet"
    table = pa.table({"id": [str(i) for i in range(1000)], "text": [f"review number {i} is fine" for i in range(1000)]})
    pq.write_table(table, path, row_group_size=100)
    parts = plan_parts(path, part_bytes=1)
    assert len(parts) == 10 and parts[3].start == 3 and parts[3].end == 4 and parts[3].first_line == 301
    assert rows_of(path, parts) == rows_of(path)


@pytest.mark.parametrize("kind", ["gzip", "utf-16", "bare-cr", "small"])
def test_files_that_cannot_be_cut_safely_are_one_part(tmp_path, kind):
    text = "id,text\n" + "".join(f"{i},review {i}\n" for i in range(200))
    path = tmp_path / "reviews.csv"
    if kind == "gzip":
        path = tmp_path / "reviews.csv.gz"
        path.write_bytes(gzip.compress(text.encode()))
    elif kind == "utf-16":
        path.write_bytes(text.encode("utf-16"))
    elif kind == "bare-cr":
        path.write_bytes(text.replace("\n", "\r").encode())
    else:
        path.write_text(text)
    parts = plan_parts(path, part_bytes=10_000 if kind == "small" else 100)
    assert len(parts) == 1 and parts[0].end is None
    assert rows_of(path, parts) == rows_of(path)


def test_later_parts_use_the_adapter_the_first_row_chose(tmp_path):
    """Read whole, the first row picks the adapter (tweets: social); a later part must not re-guess it."""
    path = tmp_path / "mixed.jsonl"
    rows = [{"tweet_id": "t0", "text": "@airline my bag is lost again", "created_at": "2024-03-01"}]
    rows += [{"id": f"r{i}", "text": f"the flight {i} was late and nobody told us"} for i in range(1, 120)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    options = IngestOptions(batch_rows=50)
    parts = plan_parts(path, part_bytes=800)
    assert len(parts) > 3
    per_part = part_options(parts, options)
    assert per_part[0].adapter is None and {o.adapter for o in per_part[1:]} == {"tweet_csv"}
    whole = [b.records for b in normalize_batches(path, options)]
    split = [b.records for p, o in zip(parts, per_part, strict=True) for b in normalize_batches(path, o, p)]
    whole, split = pa.concat_tables(whole), pa.concat_tables(split)
    assert split.num_rows == whole.num_rows == 120
    assert split.to_pylist() == whole.to_pylist()
    assert set(split.column("source_kind").to_pylist()) == {"social"}


def test_part_keys_follow_content_and_options(tmp_path):
    path = tricky_csv(tmp_path)
    parts = plan_parts(path, part_bytes=700)
    options = IngestOptions()
    keys = [part_key(p, options) for p in parts]
    assert len(set(keys)) == len(keys)
    with open(path, "ab") as fh:  # the export grew: the parts before the new tail are unchanged
        fh.write(b"\r\n999,A new review about the charger,2")
    grown = [part_key(p, options) for p in plan_parts(path, part_bytes=700)]
    assert grown[:-1] == keys[:-1] and grown[-1] != keys[-1]
    assert part_key(parts[0], IngestOptions(column_map={"text": "text"})) != keys[0]
    assert part_key(parts[0], IngestOptions(batch_rows=7)) == keys[0]  # batching does not change what is stored


def warehouse_rows(db):
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        documents = con.execute("SELECT feedback_id, source_kind, adapter, text, raw_text, source_file, source_line, "
                                "raw_payload FROM documents ORDER BY feedback_id").fetchall()
        quarantine = con.execute("SELECT quarantine_id, source_line, reason, raw_payload FROM quarantine "
                                 "ORDER BY quarantine_id").fetchall()
        parts = con.execute("SELECT part_index, part_count, rows_read FROM ingested_parts ORDER BY part_index"
                            ).fetchall()
    return documents, quarantine, parts


def salted(db):
    from pipelines.storage import connect

    with connect(db) as con:
        con.execute("INSERT INTO settings VALUES ('author_salt', 'parts-test-salt')")
    return db


def test_a_failed_part_is_the_only_one_read_again(tmp_path, monkeypatch, prefect_harness):
    from pipelines.flows import ingest as ingest_module

    path = tricky_csv(tmp_path)
    reference = ingest_module.ingest_feedback([str(path)], str(salted(tmp_path / "whole.duckdb")))
    assert reference["files"][0]["parts"] == 1

    real = ingest_module.normalize_batches
    reads = []

    def failing_third(path, options, part=None):
        reads.append(part.index)
        if part.index == 2:
            raise ValueError("worker lost its disk")
        yield from real(path, options, part)

    monkeypatch.setattr(ingest_module, "normalize_batches", failing_third)
    db = salted(tmp_path / "parts.duckdb")
    with pytest.raises(ValueError, match="worker lost its disk"):
        ingest_module.ingest_feedback([str(path)], str(db), IngestParams(part_bytes=700))
    assert reads == [0, 1, 2]  # parts are written in order; the run stops at the failed one

    reads.clear()

    def recorded(path, options, part=None):
        reads.append(part.index)
        yield from real(path, options, part)

    monkeypatch.setattr(ingest_module, "normalize_batches", recorded)
    again = ingest_module.ingest_feedback([str(path)], str(db), IngestParams(part_bytes=700))
    count = again["files"][0]["parts"]
    assert again["files"][0]["parts_skipped"] == 2 and reads == list(range(2, count))
    documents, quarantine, parts = warehouse_rows(db)
    whole_documents, whole_quarantine, _ = warehouse_rows(tmp_path / "whole.duckdb")
    assert documents == whole_documents and quarantine == whole_quarantine  # line numbers included
    assert len(parts) == count
    assert sum(rows for *_, rows in parts) == reference["rows_read"]

    unchanged = ingest_module.ingest_feedback([str(path)], str(db), IngestParams(part_bytes=700))
    assert unchanged["files"][0]["parts_skipped"] == count and unchanged["rows_read"] == 0


def test_a_written_part_is_freed_without_waiting_for_the_garbage_collector(tmp_path, monkeypatch, prefect_harness):
    """Prefect's thread-pool future and the future it wraps refer to each other; unless ingest breaks that cycle,
    every part read stays in memory until a full garbage collection, so memory grows with the input."""
    import gc
    import weakref

    from pipelines.flows import ingest as ingest_module

    real, futures = ingest_module.take_result, []

    def watched(future):
        futures.append(weakref.ref(future))
        return real(future)

    monkeypatch.setattr(ingest_module, "take_result", watched)
    gc.disable()
    try:
        result = ingest_module.ingest_feedback([str(tricky_csv(tmp_path))], str(tmp_path / "parts.duckdb"),
                                               IngestParams(part_bytes=700))
        alive = sum(ref() is not None for ref in futures)
    finally:
        gc.enable()
    assert result["files"][0]["parts"] == len(futures) > 3
    assert alive == 0
