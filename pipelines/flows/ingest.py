"""ingest_feedback: files → normalized, redacted documents + quarantine, streamed in batches that the flow
process writes, one transaction each."""

from __future__ import annotations

import glob
import logging
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb
from prefect import flow, task
from prefect.cache_policies import NONE

from pipelines.config import DEFAULT_DB_PATH
from pipelines.faults import checkpoint
from pipelines.flows.retry import retry_if_transient
from pipelines.sources import IngestOptions, NormalizedFile, SourceError
from pipelines.sources.formats import format_from_extension
from pipelines.sources.normalize import normalize_batches
from pipelines.sources.redact import RedactionPolicy
from pipelines.storage import author_salt, insert_new
from pipelines.storage.runs import recorded_run

log = logging.getLogger("unmet.ingest")
COUNTS = ("rows_read", "stored", "new_documents", "quarantined", "new_quarantined")


def expand_inputs(inputs: list[str]) -> list[Path]:
    """Files named directly, matched by a glob, or found in a directory; a pattern matching nothing is an error."""
    found: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
            skipped = [p.name for p in files if format_from_extension(p) is None]
            if skipped:  # e.g. a README or a script next to the exports; name a file directly to read it anyway
                log.warning("%s: skipped %d file(s) without a feedback extension: %s", path, len(skipped),
                            ", ".join(skipped))
            found += [p for p in files if format_from_extension(p)]
        elif path.is_file():
            found.append(path)
        else:
            matches = sorted(Path(m) for m in glob.glob(item, recursive=True) if Path(m).is_file())
            if not matches:
                raise SourceError(f"{item}: no such file, directory or matching pattern")
            found += matches
    return list(dict.fromkeys(found))


def write_batch(con: duckdb.DuckDBPyConnection, run_id: str, batch: NormalizedFile) -> tuple[int, int]:
    """One transaction per batch: a crash leaves whole batches or none; re-reading skips what is stored."""
    now = datetime.now(UTC)
    con.execute("BEGIN TRANSACTION")
    new_documents = insert_new(con, "documents", batch.records, "feedback_id",
                               {"ingest_run_id": run_id, "ingested_at": now})
    new_quarantine = insert_new(con, "quarantine", batch.quarantine, "quarantine_id",
                                {"run_id": run_id, "quarantined_at": now})
    checkpoint("ingest.before_commit")
    con.execute("COMMIT")
    checkpoint("ingest.after_commit")
    return new_documents, new_quarantine


@task(retries=2, retry_delay_seconds=2, retry_condition_fn=retry_if_transient, cache_policy=NONE)
def ingest_file(con: duckdb.DuckDBPyConnection, run_id: str, path: str, options: IngestOptions) -> dict:
    """Stream one file into the warehouse. Retried on transient I/O errors; a retry re-reads the file and
    stores only what the failed attempt did not."""
    summary = {"file": path, "adapter": None, **dict.fromkeys(COUNTS, 0)}
    for batch in normalize_batches(path, options):
        new_documents, new_quarantine = write_batch(con, run_id, batch)
        summary["adapter"] = summary["adapter"] or batch.adapter
        summary["rows_read"] += batch.rows_read
        summary["stored"] += batch.records.num_rows
        summary["quarantined"] += batch.quarantine.num_rows
        summary["new_documents"] += new_documents
        summary["new_quarantined"] += new_quarantine
    log.info("%s: %d rows read = %d stored (%d new) + %d quarantined", path, summary["rows_read"],
             summary["stored"], summary["new_documents"], summary["quarantined"])
    return summary


@flow(name="ingest_feedback", log_prints=True)
def ingest_feedback(inputs: list[str], db_path: str = str(DEFAULT_DB_PATH), source_kind: str | None = None,
                    source_name: str | None = None, fmt: str | None = None, adapter: str | None = None,
                    column_map: dict[str, str] | None = None, date_format: str | None = None,
                    encoding: str = "utf-8", batch_rows: int = 5000, redact_handles: bool = True,
                    wait_s: float = 60.0) -> dict:
    """Ingest files; returns counts per file where rows_read = stored + quarantined.

    Personal data is redacted before storage (e-mails, phones, cards, IBANs, addresses, and @handles in
    social posts unless ``redact_handles`` is off).
    """
    paths = expand_inputs(inputs)
    parameters = {"inputs": [str(p) for p in paths], "source_kind": source_kind, "fmt": fmt, "adapter": adapter,
                  "column_map": column_map, "batch_rows": batch_rows, "redact_handles": redact_handles}
    with recorded_run(db_path, "ingest_feedback", parameters, wait_s) as run:
        options = IngestOptions(source_kind=source_kind, source_name=source_name, fmt=fmt, adapter=adapter,
                                column_map=column_map or {}, encoding=encoding, date_format=date_format,
                                author_salt=author_salt(run.con), batch_rows=batch_rows,
                                redaction=RedactionPolicy(handles=redact_handles))
        started = time.perf_counter()
        files = [ingest_file(run.con, run.run_id, str(path), options) for path in paths]
        totals = {key: sum(f[key] for f in files) for key in COUNTS}
        run.complete(counts={**totals, "files": files}, timings={"ingest_s": round(time.perf_counter() - started, 3)})
    return {"run_id": run.run_id, **totals, "files": files}
