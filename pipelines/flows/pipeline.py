"""feedback_pipeline: the parent flow that a nightly deployment runs."""

from __future__ import annotations

import os

from prefect import flow, task
from prefect.cache_policies import NONE
from prefect.settings import temporary_settings

from pipelines.config import CPU_RESOURCE, DEFAULT_DB_PATH, PART_BYTES
from pipelines.flows.analyze import ModelSettings, analyze_with, preload, share_of_cores
from pipelines.flows.ingest import ingest_with
from pipelines.flows.rank import rank_needs
from pipelines.report import build_report
from pipelines.storage.runs import run_lock


@flow(name="feedback_pipeline", log_prints=True)
def feedback_pipeline(inputs: list[str], db_path: str = str(DEFAULT_DB_PATH), source_kind: str | None = None,
                      source_name: str | None = None, fmt: str | None = None, adapter: str | None = None,
                      column_map: dict[str, str] | None = None, date_format: str | None = None,
                      encoder: str | None = None, spacy_model: str | None = None, device: str | None = None,
                      batch_documents: int = 1000, n_bootstrap: int = 300, seed: int = 0,
                      sentiment_head: str | None = None, sentiment_labels: str | None = None,
                      refit_themes: bool = False, period: str = "auto", report_path: str | None = None,
                      batch_rows: int = 5000, redact_handles: bool = True, wait_s: float = 0.0,
                      encoder_backend: str = "auto", precision: str = "fp32", dask_address: str | None = None,
                      dask_workers: int = 2, partitions_in_flight: int | None = None,
                      part_bytes: int = PART_BYTES, reread: bool = False, gpu_resource: str | None = None,
                      aspect_term_head: str | None = None, segment_map: dict[str, str] | None = None) -> dict:
    """Ingest → analyse (only what is new for these model versions) → rank → optional HTML report.

    Input parts (``part_bytes`` each) and analysis partitions run on Dask when ``dask_address`` (or
    ``UNMET_DASK_ADDRESS``) names a scheduler, or ``"local"`` for a local cluster of ``dask_workers``
    processes; ``partitions_in_flight`` defaults to twice ``dask_workers`` there, and to 2 without Dask (two
    threads that share the cores, see ``analyze_feedback``).
    Input parts already ingested with the same options are skipped unless ``reread``. ``gpu_resource`` (or
    ``UNMET_DASK_GPU_RESOURCE``) sends the encoder stage to the workers that declare that Dask resource.

    ``segment_map`` (segment name → column) adds segments that are ranked like product and period.
    Themes keep their ids between runs; ``refit_themes`` refits them and records the old → new id map.
    The database's run lock is held throughout: a second pipeline on the same database waits ``wait_s``
    seconds for it, then refuses with a clear message.
    """
    dask_address = dask_address or os.environ.get("UNMET_DASK_ADDRESS") or None
    in_flight = partitions_in_flight or 2 * (dask_workers if dask_address else 1)
    gpu_resource = gpu_resource or os.environ.get("UNMET_DASK_GPU_RESOURCE") or None
    with run_lock(db_path, wait_s), subflows_without_heartbeats():
        loading = None
        if not dask_address:  # the models analysis will check out in this process load while ingest reads
            loading = preload(ModelSettings(encoder, spacy_model, device, sentiment_head, sentiment_labels,
                                            encoder_backend, precision, threads=share_of_cores(in_flight),
                                            aspect_term_head=aspect_term_head), in_flight)
        ingest = ingest_with(dask_address, dask_workers)(
            inputs, db_path, source_kind=source_kind, source_name=source_name, fmt=fmt, adapter=adapter,
            column_map=column_map, segment_map=segment_map, date_format=date_format, batch_rows=batch_rows,
            redact_handles=redact_handles, part_bytes=part_bytes, parts_in_flight=in_flight, reread=reread,
            cpu_resource=CPU_RESOURCE if gpu_resource else None)
        if loading:
            loading.join()
        analyze = analyze_with(dask_address, dask_workers)
        analysis = analyze(db_path, encoder=encoder, spacy_model=spacy_model, device=device,
                           batch_documents=batch_documents, sentiment_head=sentiment_head,
                           sentiment_labels=sentiment_labels, encoder_backend=encoder_backend,
                           precision=precision, partitions_in_flight=in_flight, gpu_resource=gpu_resource,
                           aspect_term_head=aspect_term_head)
        ranking = rank_needs(db_path, n_bootstrap=n_bootstrap, seed=seed, refit=refit_themes, period=period)
        report = write_report(db_path, report_path) if report_path and ranking["theme_fit_id"] else None
    return {"ingest": ingest, "analyze": analysis, "rank": ranking, "report": report}


def subflows_without_heartbeats():
    """The subflows run in this flow's process, whose heartbeats already tell Prefect when it dies. Without their
    own, each subflow ends at once: Prefect 3.8 joins a flow's heartbeat thread at the end, and that thread sleeps
    in whole seconds (0.4–0.8 s per subflow measured, about 1.5 s per run)."""
    return temporary_settings(updates={"flows.heartbeat_frequency": None})


@task(cache_policy=NONE)
def write_report(db_path: str, report_path: str) -> str:
    return str(build_report(db_path, report_path))
