"""Which failures Prefect retries: transient I/O (network file systems, a busy database), not bad input."""

from __future__ import annotations

from pipelines.sources import SourceError
from pipelines.storage import WarehouseBusy

_PERMANENT_OS_ERRORS = (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError)


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, (SourceError, *_PERMANENT_OS_ERRORS)):
        return False
    return isinstance(exc, OSError | TimeoutError | ConnectionError | WarehouseBusy)


def retry_if_transient(task, task_run, state) -> bool:
    """Prefect ``retry_condition_fn``: a permanent failure ends the task at once with its own message."""
    return is_transient(state.result(raise_on_failure=False))
