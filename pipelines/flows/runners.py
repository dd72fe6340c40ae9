"""Where a flow's tasks run: in the flow's process (Prefect's default runner) or on a Dask cluster."""

from __future__ import annotations

import concurrent.futures
import contextlib

from models.errors import ConfigError


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
        raise ConfigError("routing by Dask resources (gpu_resource) needs a Dask task runner: set dask_address")
    workers = client.scheduler_info(n_workers=-1)["workers"].values()
    for name in names:
        if not any(worker.get("resources", {}).get(name, 0) >= 1 for worker in workers):
            raise ConfigError(f"no Dask worker declares the resource {name!r}: start workers with "
                             f"`dask worker ADDRESS --resources {name}=1` (see README, Scale out)")


def take_result(future):
    """A task future's result, which is freed as soon as the caller drops it.

    Prefect's thread-pool future registers its own bound method as a done-callback of the concurrent future
    it wraps, so the two keep each other (and the task's return value) alive until one of Python's rare full
    garbage collections: ingest held on to every part it had written, and its memory grew with the input
    (issue 6). Once the future is done its callbacks have run, and dropping them breaks the cycle.
    """
    result = future.result()
    wrapped = getattr(future, "wrapped_future", None)  # a Dask future is not a concurrent one: nothing to do
    if isinstance(wrapped, concurrent.futures.Future) and wrapped.done():
        with wrapped._condition:
            wrapped._done_callbacks.clear()
    return result
