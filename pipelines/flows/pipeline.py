"""feedback_pipeline: the parent flow that a nightly deployment runs."""

from __future__ import annotations

from prefect import flow, task
from prefect.cache_policies import NONE
from prefect.settings import temporary_settings

from models.settings import settings
from pipelines.config import CPU_RESOURCE, DEFAULT_DB_PATH
from pipelines.flows.analyze import ModelSettings, analyze_with, preload, share_of_cores
from pipelines.flows.ingest import ingest_with
from pipelines.flows.params import ClusterParams, IngestParams, ModelParams, RankParams
from pipelines.flows.rank import rank_needs
from pipelines.flows.results import PipelineResult
from pipelines.report import build_report
from pipelines.storage.runs import run_lock


@flow(name="feedback_pipeline", log_prints=True)
def feedback_pipeline(inputs: list[str], db_path: str = str(DEFAULT_DB_PATH), ingest: IngestParams = IngestParams(),
                      models: ModelParams = ModelParams(), rank: RankParams = RankParams(),
                      cluster: ClusterParams = ClusterParams(), report_path: str | None = None,
                      wait_s: float = 0.0) -> PipelineResult:
    """Ingest → analyse (only what is new for these model versions) → rank → optional HTML report.

    Input parts and analysis partitions run on Dask when ``cluster.dask_address`` (or ``UNMET_DASK_ADDRESS``)
    names a scheduler, or ``"local"`` for a local cluster of ``cluster.dask_workers`` processes; without Dask
    two partitions are in flight, on threads that share the cores (see ``analyze_feedback``).
    ``cluster.gpu_resource`` (or ``UNMET_DASK_GPU_RESOURCE``) sends the encoder stage to the workers that
    declare that Dask resource. Input parts already ingested with the same options are skipped unless
    ``ingest.reread``; themes keep their ids between runs unless ``rank.refit``.
    The database's run lock is held throughout: a second pipeline on the same database waits ``wait_s``
    seconds for it, then refuses with a clear message.
    """
    environment = settings()
    dask_address = cluster.dask_address or environment.dask_address
    in_flight = cluster.model_copy(update={"dask_address": dask_address}).in_flight()
    cluster = cluster.model_copy(update={"dask_address": dask_address, "partitions_in_flight": in_flight,
                                         "gpu_resource": cluster.gpu_resource or environment.dask_gpu_resource})
    with run_lock(db_path, wait_s), subflows_without_heartbeats():
        loading = None
        if not cluster.dask_address:  # the models analysis will check out in this process load while ingest reads
            loading = preload(ModelSettings(models, threads=share_of_cores(in_flight)), in_flight)
        ingested = ingest_with(cluster.dask_address, cluster.dask_workers)(
            inputs, db_path, ingest, parts_in_flight=in_flight,
            cpu_resource=CPU_RESOURCE if cluster.gpu_resource else None)
        if loading:
            loading.join()
        analysis = analyze_with(cluster.dask_address, cluster.dask_workers)(db_path, models, cluster)
        ranking = rank_needs(db_path, rank)
        report = write_report(db_path, report_path) if report_path and ranking["theme_fit_id"] else None
    return PipelineResult(ingest=ingested, analyze=analysis, rank=ranking, report=report)


def subflows_without_heartbeats():
    """The subflows run in this flow's process, whose heartbeats already tell Prefect when it dies. Without their
    own, each subflow ends at once: Prefect 3.8 joins a flow's heartbeat thread at the end, and that thread sleeps
    in whole seconds (0.4–0.8 s per subflow measured, about 1.5 s per run)."""
    return temporary_settings(updates={"flows.heartbeat_frequency": None})


@task(cache_policy=NONE)
def write_report(db_path: str, report_path: str) -> str:
    return str(build_report(db_path, report_path))
