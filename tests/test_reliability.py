"""Bad input never crashes a run and is never lost: nasty files, property-based fuzzing, accounting."""

import csv
import io
import json
from pathlib import Path

import duckdb
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipelines.sources import IngestOptions, SourceError, formats, normalize_file
from pipelines.sources.normalize import RowRejected, normalize_batches, parse_timestamp

NASTY = Path(__file__).parent / "nasty" / "files"
NASTY_FILES = sorted(NASTY.iterdir())
# What each nasty file must come to: (stored, quarantined). Pinned so a regression in either direction shows.
EXPECTED = {
    "binary_junk.bin": None, "binary_junk.csv": None,  # junk: whatever splits into "rows" is all quarantined
    "bom_utf8.csv": (1, 0), "corrupt.parquet": (0, 1), "dates_every_format.csv": (15, 5), "embedded.csv": (3, 0),
    "emoji_and_blank_texts.csv": (4, 2), "empty.csv": (0, 1), "empty.json": (0, 1), "header_only.csv": (0, 0),
    "jsonl_garbage.jsonl": (1, 7), "latin1.csv": (1, 1), "mixed_encoding.jsonl": (2, 1),
    "mixed_line_endings.csv": (4, 0), "null_bytes.csv": (2, 0), "pii_rows.csv": (3, 0), "ragged.csv": (2, 2),
    "rtl_cjk.jsonl": (7, 0), "semicolon.csv": (2, 0), "trailing_comma.json": (2, 0), "truncated.csv.gz": (9, 1),
    "truncated_array.json": (1, 1), "utf16_excel.tsv": (2, 0), "whitespace_only.jsonl": (0, 0),
    "wrong_shape_number.json": (0, 1), "wrong_shape_object.json": (0, 1), "wrong_shape_strings.json": (0, 3),
}


def test_the_corpus_is_complete():
    assert {p.name for p in NASTY_FILES} == set(EXPECTED)


@pytest.mark.parametrize("path", NASTY_FILES, ids=lambda p: p.name)
def test_nasty_file_ends_in_records_or_reasons(path):
    result = normalize_file(path, IngestOptions())
    stored, quarantined = result.records.num_rows, result.quarantine.num_rows
    whole_file = sum(entry["source_line"] == 0 for entry in result.quarantine.to_pylist())
    assert result.file_errors == whole_file and result.rows_read == stored + quarantined - whole_file
    if EXPECTED[path.name] is None:
        assert stored == 0 and quarantined > 0
    else:
        assert (stored, quarantined) == EXPECTED[path.name]
    for entry in result.quarantine.to_pylist():
        assert entry["reason"] and "\n" not in entry["reason"]
        if entry["source_line"] == 0:  # a whole-file problem: the one-line message names the file
            assert entry["reason"].startswith(str(path))
        else:
            assert entry["source_line"] >= 1


def test_truncated_gzip_keeps_the_rows_before_the_cut():
    result = normalize_file(NASTY / "truncated.csv.gz", IngestOptions())
    assert [r["source_line"] for r in result.records.to_pylist()] == list(range(2, 11))
    assert "truncated" in result.quarantine.column("reason")[0].as_py()


def test_every_nasty_file_through_the_flow_is_accounted_in_the_database(tmp_path, prefect_harness):
    from pipelines.flows.ingest import ingest_feedback

    db = tmp_path / "nasty.duckdb"
    result = ingest_feedback([str(NASTY)], str(db))  # the directory: every file with a feedback extension
    with duckdb.connect(str(db), read_only=True) as con:
        for summary in result["files"]:
            stored = con.execute("SELECT count(*) FROM documents WHERE source_file = ?", [summary["file"]]).fetchone()
            parked = con.execute("SELECT count(*) FROM quarantine WHERE source_file = ?", [summary["file"]]).fetchone()
            assert summary["rows_read"] + summary["file_errors"] == stored[0] + parked[0], summary
            assert (stored[0], parked[0]) == (summary["stored"], summary["quarantined"]), summary
        status = con.execute("SELECT status FROM runs WHERE run_id = ?", [result["run_id"]]).fetchone()[0]
    assert status == "completed"
    pinned = {summary["file"]: summary for summary in result["files"] if EXPECTED[Path(summary["file"]).name]}
    for file, summary in pinned.items():  # the flow's counts against the pinned outcome of each file
        assert summary["rows_read"] + summary["file_errors"] == sum(EXPECTED[Path(file).name]), summary
    assert result["rows_read"] > 0


def test_a_row_read_but_neither_stored_nor_quarantined_stops_the_part(tmp_path):
    from dataclasses import replace

    from pipelines.flows.ingest import write_part
    from pipelines.sources import InputPart
    from pipelines.storage import connect

    path = tmp_path / "three.csv"
    path.write_text("id,text\n1,The hinge broke\n2,Please add dark mode\n3,\n")
    [batch] = normalize_batches(path, IngestOptions())
    assert (batch.rows_read, batch.records.num_rows, batch.quarantine.num_rows) == (3, 2, 1)
    dropped = replace(batch, records=batch.records.slice(0, 1))  # as if a bug had lost a row on the way
    con = connect(tmp_path / "w.duckdb")
    with pytest.raises(RuntimeError, match="1 of the rows read became neither"):
        write_part(con, "run", InputPart(str(path), "csv"), "key", [dropped])
    assert con.execute("SELECT count(*) FROM documents").fetchone()[0] == 0
    con.close()


def test_a_huge_single_row_is_quarantined_without_holding_it(tmp_path, monkeypatch):
    monkeypatch.setattr(formats, "MAX_ROW_CHARS", 100_000)
    path = tmp_path / "huge.jsonl"
    huge = json.dumps({"text": "x" * 1_000_000})
    path.write_text(f'{{"text": "before"}}\n{huge}\n{{"text": "after"}}\n', encoding="utf-8")
    result = normalize_file(path, IngestOptions())
    assert [r["text"] for r in result.records.to_pylist()] == ["before", "after"]
    [entry] = result.quarantine.to_pylist()
    assert entry["source_line"] == 2 and "larger than 100000" in entry["reason"]
    assert len(entry["raw_payload"]) <= 1000


def test_a_huge_csv_field_is_quarantined(tmp_path, monkeypatch):
    monkeypatch.setattr(formats, "MAX_ROW_CHARS", 100_000)
    previous = csv.field_size_limit(100_000)
    try:
        path = tmp_path / "huge.csv"
        path.write_text("id,text\n1,fine\n2," + "y" * 200_000 + "\n3,also fine\n", encoding="utf-8")
        result = normalize_file(path, IngestOptions())
    finally:
        csv.field_size_limit(previous)
    assert result.rows_read == 3 and result.lost_rows == 0
    assert "fine" in [r["text"] for r in result.records.to_pylist()]
    assert any("field larger" in r for r in result.quarantine.column("reason").to_pylist())


def test_streaming_yields_bounded_batches(tmp_path):
    path = tmp_path / "many.csv"
    path.write_text("id,text\n" + "".join(f"{i},review {i} says the app crashes\n" for i in range(1050)))
    batches = list(normalize_batches(path, IngestOptions(batch_rows=100)))
    assert max(b.records.num_rows + b.quarantine.num_rows for b in batches) <= 100
    assert sum(b.rows_read for b in batches) == 1050


# --- property-based fuzzing ------------------------------------------------------------------------------
texts = st.text(st.characters(exclude_categories=["Cs"]), max_size=200)


@given(rows=st.lists(st.tuples(texts, texts, st.one_of(st.none(), texts)), max_size=30))
def test_any_csv_rows_are_all_accounted(tmp_path, rows):
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["id", "text", "date"])
    writer.writerows([(a, b, c or "") for a, b, c in rows])
    path = tmp_path / "fuzz.csv"
    path.write_text(buffer.getvalue(), encoding="utf-8", newline="")
    result = normalize_file(path, IngestOptions())
    assert result.rows_read == len(rows)  # ",," is a record with empty fields (quarantined), not a blank line
    assert result.lost_rows == 0 and result.file_errors == 0


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | texts,
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
                           max_leaves=12)


@given(values=st.lists(st.one_of(json_values, st.fixed_dictionaries({"text": json_values}),
                                 st.fixed_dictionaries({"text": texts, "date": json_values,
                                                        "rating": json_values})), max_size=25))
def test_any_jsonl_lines_are_all_accounted(tmp_path, values):
    path = tmp_path / "fuzz.jsonl"
    path.write_text("".join(json.dumps(v) + "\n" for v in values), encoding="utf-8")
    result = normalize_file(path, IngestOptions())
    assert result.rows_read == len(values) and result.lost_rows == 0 and result.file_errors == 0


@given(values=st.lists(st.fixed_dictionaries({"text": texts, "n": st.integers()}), max_size=40),
       chunk=st.integers(1, 64), indent=st.sampled_from([None, 1]))
def test_streamed_json_arrays_match_the_whole_document(tmp_path, monkeypatch, values, chunk, indent):
    monkeypatch.setattr(formats, "_JSON_CHUNK_CHARS", chunk)  # tiny chunks: elements straddle every boundary
    path = tmp_path / "fuzz.json"
    path.write_text(json.dumps(values, indent=indent, ensure_ascii=False), encoding="utf-8")
    rows = list(formats.iter_rows(path, "json"))
    assert [r.fields for r in rows] == values


@given(data=st.binary(max_size=3000), name=st.sampled_from(["x.csv", "x.jsonl", "x.json", "x.tsv", "x.parquet",
                                                           "x.csv.gz", "x"]))
def test_random_bytes_never_crash(tmp_path, data, name):
    path = tmp_path / name
    path.write_bytes(data)
    try:
        result = normalize_file(path, IngestOptions())
    except SourceError as exc:  # only for an unreadable whole file, with the file named
        assert str(path) in str(exc)
        return
    assert result.lost_rows == 0


@given(value=st.one_of(texts, st.integers(), st.floats(), st.booleans(), st.none(), st.datetimes()))
def test_dates_parse_into_range_or_are_rejected_with_a_reason(value):
    try:
        parsed = parse_timestamp(value)
    except RowRejected as exc:
        assert str(exc)
        return
    assert parsed is None or (1990 <= parsed.year <= 2100 and parsed.tzinfo is not None)


def test_a_pattern_matching_nothing_is_a_clear_error(tmp_path):
    from pipelines.flows.ingest import expand_inputs

    with pytest.raises(SourceError, match="no such file"):
        expand_inputs([str(tmp_path / "missing-*.csv")])
