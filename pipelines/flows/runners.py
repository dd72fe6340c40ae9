"""Where a flow's tasks run: in the flow's process (Prefect's default runner) or on a Dask cluster."""

from __future__ import annotations


def task_runner_for(dask_address: str | None, dask_workers: int = 2):
    """``None`` (Prefect's default runner, in this process), a local Dask cluster of ``dask_workers`` processes
    (``"local"``), or the Dask scheduler at ``dask_address`` (``tcp://host:8786``)."""
    if not dask_address:
        return None
    from prefect_dask import DaskTaskRunner

    if dask_address == "local":
        return DaskTaskRunner(cluster_kwargs={"n_workers": dask_workers, "threads_per_worker": 1,
                                              "processes": True, "dashboard_address": None})
    return DaskTaskRunner(address=dask_address)


def on_runner(flow, dask_address: str | None = None, dask_workers: int = 2):
    """``flow`` on the task runner that ``dask_address`` names (see ``task_runner_for``)."""
    runner = task_runner_for(dask_address, dask_workers)
    return flow if runner is None else flow.with_options(task_runner=runner)
