"""Where a flow's tasks run: in the flow's process (Prefect's default runner) or on a Dask cluster."""

from __future__ import annotations

import contextlib


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


def dask_resources(name: str | None):
    """Tasks submitted inside need one unit of the Dask resource ``name``; no constraint when None."""
    if not name:
        return contextlib.nullcontext()
    import dask

    return dask.annotate(resources={name: 1})


def require_resources(names: list[str]) -> None:
    """Routing needs a Dask runner whose workers declare each resource; otherwise its tasks would wait forever."""
    from prefect.context import FlowRunContext

    client = getattr(FlowRunContext.get().task_runner, "client", None)
    if client is None:
        raise ValueError("routing by Dask resources (gpu_resource) needs a Dask task runner: set dask_address")
    workers = client.scheduler_info(n_workers=-1)["workers"].values()
    for name in names:
        if not any(worker.get("resources", {}).get(name, 0) >= 1 for worker in workers):
            raise ValueError(f"no Dask worker declares the resource {name!r}: start workers with "
                             f"`dask worker ADDRESS --resources {name}=1` (see README, Scale out)")
