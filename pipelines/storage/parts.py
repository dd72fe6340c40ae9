"""Writing ingested batches and the ledger of ingested parts: the SQL the ingest flow needs, here so that the
flow holds none."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NamedTuple

import duckdb
import pyarrow as pa

from pipelines.faults import checkpoint
from pipelines.storage.warehouse import insert_new, update_attributes


@dataclass(frozen=True)
class PartRecord:
    """A part of an input file, recorded as ingested together with its last batch, so the next run skips it."""

    part_key: str  # sha256 of the part's bytes, the ingest options and the unmet version
    source_file: str
    part_index: int
    part_count: int
    first_line: int
    rows_read: int
    stored: int
    quarantined: int


class WrittenBatch(NamedTuple):
    new_documents: int
    new_quarantined: int
    updated_documents: int  # stored before, given the attributes of a new mapping


def write_batch(con: duckdb.DuckDBPyConnection, run_id: str, records: pa.Table, quarantine: pa.Table,
                part: PartRecord | None = None) -> WrittenBatch:
    """One transaction per batch: a crash leaves whole batches or none; re-reading skips what is stored, except
    the attributes a new mapping gives (product, rating, recommend, url), which update the stored documents.
    ``part`` (with a part's last batch) is recorded as ingested in the same transaction."""
    now = datetime.now(UTC)
    con.execute("BEGIN TRANSACTION")
    updated = update_attributes(con, records)
    new_documents = insert_new(con, "documents", records, "feedback_id", {"ingest_run_id": run_id, "ingested_at": now})
    new_quarantine = insert_new(con, "quarantine", quarantine, "quarantine_id",
                                {"run_id": run_id, "quarantined_at": now})
    if part is not None:
        con.execute("""INSERT OR REPLACE INTO ingested_parts (part_key, source_file, part_index, part_count,
                           first_line, rows_read, stored, quarantined, run_id, ingested_at)
                       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                    [part.part_key, part.source_file, part.part_index, part.part_count, part.first_line,
                     part.rows_read, part.stored, part.quarantined, run_id, now])
    checkpoint("ingest.before_commit")
    con.execute("COMMIT")
    checkpoint("ingest.after_commit")
    return WrittenBatch(new_documents, new_quarantine, updated)


def ingested_keys(con: duckdb.DuckDBPyConnection, keys: list[str]) -> set[str]:
    con.register("wanted_parts", pa.table({"part_key": pa.array(keys, pa.string())}))
    try:
        return {k for (k,) in con.execute("SELECT part_key FROM ingested_parts JOIN wanted_parts USING (part_key)"
                                          ).fetchall()}
    finally:
        con.unregister("wanted_parts")
