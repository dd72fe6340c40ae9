"""ingest_feedback: files → normalized documents + quarantine, written in bulk by the flow process."""

from __future__ import annotations

import glob
import logging
import time
from datetime import UTC, datetime
from pathlib import Path

from prefect import flow, task
from prefect.cache_policies import NONE

from pipelines.config import DEFAULT_DB_PATH
from pipelines.sources import IngestOptions, NormalizedFile, SourceError, normalize_file
from pipelines.sources.formats import format_from_extension
from pipelines.storage import author_salt, connect, finish_run, insert_new, start_run

log = logging.getLogger("unmet.ingest")


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


@task(retries=2, retry_delay_seconds=1, cache_policy=NONE)
def read_feedback_file(path: str, options: IngestOptions) -> NormalizedFile:
    """Read and normalize one file (retried: network file systems fail transiently)."""
    return normalize_file(path, options)


@flow(name="ingest_feedback", log_prints=True)
def ingest_feedback(inputs: list[str], db_path: str = str(DEFAULT_DB_PATH), source_kind: str | None = None,
                    source_name: str | None = None, fmt: str | None = None, adapter: str | None = None,
                    column_map: dict[str, str] | None = None, date_format: str | None = None,
                    encoding: str = "utf-8") -> dict:
    """Ingest files; returns counts per file where rows_read = stored + quarantined."""
    paths = expand_inputs(inputs)
    con = connect(db_path)
    run_id = start_run(con, "ingest_feedback", {"inputs": [str(p) for p in paths], "source_kind": source_kind,
                                                "fmt": fmt, "adapter": adapter, "column_map": column_map})
    try:
        options = IngestOptions(source_kind=source_kind, source_name=source_name, fmt=fmt, adapter=adapter,
                                column_map=column_map or {}, encoding=encoding, date_format=date_format,
                                author_salt=author_salt(con))
        files, started = [], time.perf_counter()
        for path in paths:
            result = read_feedback_file(str(path), options)
            now = datetime.now(UTC)
            con.execute("BEGIN TRANSACTION")
            new_documents = insert_new(con, "documents", result.records, "feedback_id",
                                       {"ingest_run_id": run_id, "ingested_at": now})
            new_quarantine = insert_new(con, "quarantine", result.quarantine, "quarantine_id",
                                        {"run_id": run_id, "quarantined_at": now})
            con.execute("COMMIT")
            summary = {"file": str(path), "adapter": result.adapter, "rows_read": result.rows_read,
                       "stored": result.records.num_rows, "new_documents": new_documents,
                       "quarantined": result.quarantine.num_rows, "new_quarantined": new_quarantine}
            log.info("%s: %d rows read = %d stored (%d new) + %d quarantined", path, summary["rows_read"],
                     summary["stored"], new_documents, summary["quarantined"])
            files.append(summary)
        totals = {key: sum(f[key] for f in files) for key in
                  ("rows_read", "stored", "new_documents", "quarantined", "new_quarantined")}
        finish_run(con, run_id, "completed", counts={**totals, "files": files},
                   timings={"ingest_s": round(time.perf_counter() - started, 3)})
        return {"run_id": run_id, **totals, "files": files}
    except Exception as exc:
        finish_run(con, run_id, "failed", error=f"{type(exc).__name__}: {exc}")
        raise
    finally:
        con.close()
