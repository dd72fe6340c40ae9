"""ingest_feedback: files → normalized, redacted documents + quarantine. Files are read in parts by tasks
(Dask workers when the flow runs on Dask); only the flow's process writes, one transaction per batch."""

from __future__ import annotations

import glob
import logging
import time
from collections import deque
from pathlib import Path

import duckdb
from prefect import flow, task
from prefect.cache_policies import NONE

from pipelines.config import DEFAULT_DB_PATH
from pipelines.flows.params import IngestParams
from pipelines.flows.results import FileCounts, IngestResult
from pipelines.flows.retry import retry_if_transient
from pipelines.flows.runners import dask_resources, on_runner, require_resources, take_result
from pipelines.sources import IngestOptions, InputPart, NormalizedFile, SourceError
from pipelines.sources.adapters import check_mapped_fields
from pipelines.sources.formats import format_from_extension
from pipelines.sources.normalize import check_mapping, normalize_batches
from pipelines.sources.partitions import part_key, part_options, plan_parts
from pipelines.sources.redact import RedactionPolicy
from pipelines.storage import author_salt
from pipelines.storage.parts import PartRecord, ingested_keys, write_batch
from pipelines.storage.runs import recorded_run
from pipelines.storage.warehouse import ATTRIBUTES

log = logging.getLogger("unmet.ingest")
COUNTS = ("rows_read", "file_errors", "stored", "new_documents", "updated_documents", "quarantined",
          "new_quarantined")


def rows_balance(counts: dict) -> str:
    """The rows read against where they went, e.g. "rows read 99 = stored 90 (90 new) + quarantined 10 (10 new)
    − 1 file error"; a file error (a truncated tail) is quarantined without being a row."""
    line = (f"rows read {counts['rows_read']} = stored {counts['stored']} ({counts['new_documents']} new) "
            f"+ quarantined {counts['quarantined']} ({counts['new_quarantined']} new)")
    errors = counts["file_errors"]
    return line + (f" − {errors} file error{'s' if errors != 1 else ''} (quarantined, not a row)" if errors else "")


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


@task(retries=2, retry_delay_seconds=2, retry_condition_fn=retry_if_transient, cache_policy=NONE)
def plan_file(path: str, options: IngestOptions, part_bytes: int) -> list[tuple[InputPart, IngestOptions]]:
    """A file's parts with the options each is read with; retried on transient I/O errors."""
    parts = plan_parts(path, options.fmt, options.encoding, part_bytes)
    return list(zip(parts, part_options(parts, options), strict=True))


@task(retries=2, retry_delay_seconds=2, retry_condition_fn=retry_if_transient, cache_policy=NONE)
def read_part(part: InputPart, options: IngestOptions) -> list[NormalizedFile]:
    """Clean, redact and validate one part (in a Dask worker when the flow runs on one). Retried on transient
    I/O errors: a retry re-reads this part alone."""
    return list(normalize_batches(part.path, options, part))


def write_part(con: duckdb.DuckDBPyConnection, run_id: str, part: InputPart, key: str,
               batches: list[NormalizedFile]) -> dict:
    """The part's batches, one transaction each; the last one also records the part as ingested. Rows read
    that became neither a record nor a quarantine entry are a bug: the part is refused before anything is
    written, so that no row is lost in silence."""
    lost = sum(b.lost_rows for b in batches)
    if lost:
        raise RuntimeError(f"{part.path} (part {part.index + 1} of {part.count}): {lost} of the rows read became "
                           f"neither a record nor a quarantine entry; nothing of this part was written")
    counts = {"adapter": next((b.adapter for b in batches if b.adapter), None),
              "rows_read": sum(b.rows_read for b in batches), "file_errors": sum(b.file_errors for b in batches),
              "stored": sum(b.records.num_rows for b in batches),
              "quarantined": sum(b.quarantine.num_rows for b in batches), "new_documents": 0, "new_quarantined": 0,
              "updated_documents": 0}
    record = PartRecord(key, part.path, part.index, part.count, part.first_line, counts["rows_read"],
                        counts["stored"], counts["quarantined"])
    for number, batch in enumerate(batches, start=1):
        written = write_batch(con, run_id, batch.records, batch.quarantine,
                              record if number == len(batches) else None)
        for name, value in written._asdict().items():
            counts[name] += value
    return counts


def ingest_with(dask_address: str | None = None, dask_workers: int = 2):
    """The ingest flow, on the task runner that ``dask_address`` names (see runners.py)."""
    return on_runner(ingest_feedback, dask_address, dask_workers)


@flow(name="ingest_feedback", log_prints=True)
def ingest_feedback(inputs: list[str], db_path: str = str(DEFAULT_DB_PATH), ingest: IngestParams = IngestParams(),
                    parts_in_flight: int = 1, cpu_resource: str | None = None, wait_s: float = 60.0
                    ) -> IngestResult:
    """Ingest files; returns counts per file where rows_read + file_errors = stored + quarantined, rows_read
    counted as the rows were read.

    Each file is read in parts of about ``ingest.part_bytes`` (see pipelines/sources/partitions.py); a part
    already ingested with the same options is skipped (``parts_skipped``) unless ``ingest.reread``.
    ``ingest.segment_map`` (segment name → column) stores those columns' values as the document's segments.
    ``parts_in_flight``
    parts are read at once (about twice the workers on a Dask task runner); they are written in file order.
    ``cpu_resource`` keeps the reading on Dask workers that declare that resource (not on GPU workers).

    Personal data is redacted before storage (e-mails, phones, cards, IBANs, addresses, and @handles unless
    ``ingest.redact_handles`` is off). A ``column_map`` naming an unknown field, or a column a file lacks, stops the run
    with an error that names the file, the field and the columns it has.
    """
    check_mapped_fields(ingest.column_map)
    paths = expand_inputs(inputs)
    for path in paths:  # before any run record or part is written
        check_mapping(path, IngestOptions(fmt=ingest.fmt, column_map=ingest.column_map,
                                          segment_map=ingest.segment_map, encoding=ingest.encoding))
    parameters = {"inputs": [str(p) for p in paths], "ingest": ingest.model_dump(),
                  "parts_in_flight": parts_in_flight, "cpu_resource": cpu_resource}
    part_bytes, reread = ingest.part_bytes, ingest.reread
    with recorded_run(db_path, "ingest_feedback", parameters, wait_s) as run:
        options = IngestOptions(source_kind=ingest.source_kind, source_name=ingest.source_name, fmt=ingest.fmt,
                                adapter=ingest.adapter, column_map=dict(ingest.column_map),
                                segment_map=dict(ingest.segment_map), encoding=ingest.encoding,
                                date_format=ingest.date_format, author_salt=author_salt(run.con),
                                batch_rows=ingest.batch_rows, redaction=RedactionPolicy(handles=ingest.redact_handles))
        if cpu_resource:
            require_resources([cpu_resource])
        started = time.perf_counter()
        files = {str(path): FileCounts(file=str(path), adapter=None, parts=0, parts_skipped=0,
                                       **dict.fromkeys(COUNTS, 0)) for path in paths}
        planned = [(part, read_options, part_key(part, read_options))
                   for path in paths for part, read_options in plan_file(str(path), options, part_bytes)]
        done = set() if reread else ingested_keys(run.con, [key for _, _, key in planned])
        pending: deque = deque()
        for part, read_options, key in planned:
            files[part.path]["parts"] += 1
            if key in done:
                files[part.path]["parts_skipped"] += 1
                continue
            with dask_resources(cpu_resource):
                pending.append((part, key, read_part.submit(part, read_options)))
            while len(pending) >= max(parts_in_flight, 1):
                write_next(run, pending, files)
        while pending:
            write_next(run, pending, files)
        for summary in files.values():
            if summary["updated_documents"]:
                log.warning("%s: read before with other options: %d stored documents took the new %s; their text "
                            "and analysis are unchanged", summary["file"], summary["updated_documents"],
                            "/".join(ATTRIBUTES))
            log.info("%s: %s; %d of %d parts already ingested", summary["file"], rows_balance(summary),
                     summary["parts_skipped"], summary["parts"])
        files = list(files.values())
        totals = {key: sum(f[key] for f in files) for key in COUNTS}
        run.complete(counts={**totals, "files": files}, timings={"ingest_s": round(time.perf_counter() - started, 3)})
    return IngestResult(run_id=run.run_id, **totals, files=files)


def write_next(run, pending: deque, files: dict) -> None:
    """Wait for the oldest part in flight and write it: parts reach the warehouse in file order."""
    part, key, future = pending.popleft()
    counts = write_part(run.con, run.run_id, part, key, take_result(future))
    summary = files[part.path]
    summary["adapter"] = summary["adapter"] or counts.pop("adapter")
    for name in COUNTS:
        summary[name] += counts[name]
