"""One writer at a time: a run lock beside the database, and the run record every flow keeps.

DuckDB lets one process write a file. The lock makes a second `unmet run` wait or refuse with a clear
message instead of failing half-way between two sub-flows; the kernel drops it when a process dies,
so a killed run never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from pipelines.storage.warehouse import WarehouseBusy, connect, finish_run, retry_while_busy, start_run

_held: dict[str, list] = {}  # lock path → [file object, depth]: the lock is re-entrant within a process
_held_guard = threading.Lock()
_own_runs: set[str] = set()  # runs this process has open: not stale, whatever their status says


def lock_path_for(db_path: str | Path) -> Path:
    path = Path(db_path)
    return path.with_name(path.name + ".lock")


def _holder(lock_file: Path) -> str:
    try:
        info = json.loads(lock_file.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return "another process"
    return f"pid {info.get('pid')} on {info.get('host')} since {info.get('since')}"


@contextmanager
def run_lock(db_path: str | Path, wait_s: float = 0.0) -> Iterator[None]:
    """Hold the database's run lock; wait up to ``wait_s`` for it, then raise :class:`WarehouseBusy`."""
    lock_file = lock_path_for(db_path).resolve()
    key = str(lock_file)
    with _held_guard:
        if key in _held:
            _held[key][1] += 1
            reentered = True
        else:
            reentered = False
    if reentered:
        try:
            yield
        finally:
            with _held_guard:
                _held[key][1] -= 1
        return
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    handle = open(lock_file, "a+", encoding="utf-8")  # noqa: SIM115 - held for the whole run
    deadline = time.monotonic() + wait_s
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() >= deadline:
                handle.close()
                raise WarehouseBusy(
                    f"database {db_path} is in use by another unmet run ({_holder(lock_file)}); retry when it "
                    f"ends, or pass a longer wait (--wait SECONDS)"
                ) from None
            time.sleep(0.2)
    handle.seek(0)
    handle.truncate()
    handle.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                             "since": datetime.now(UTC).isoformat(timespec="seconds")}))
    handle.flush()
    with _held_guard:
        _held[key] = [handle, 1]
    try:
        yield
    finally:
        with _held_guard:
            _held[key][1] -= 1
            release = _held[key][1] == 0
            if release:
                del _held[key]
        if release:
            fcntl.flock(handle, fcntl.LOCK_UN)
            handle.close()


def connect_writer(db_path: str | Path, wait_s: float = 60.0) -> duckdb.DuckDBPyConnection:
    """A read-write connection, waiting up to ``wait_s`` while an analyst's read-only session holds the file."""
    return retry_while_busy(lambda: connect(db_path), wait_s)


def mark_interrupted_runs(con: duckdb.DuckDBPyConnection) -> int:
    """Runs still 'running' while we hold the lock were killed; say so instead of leaving them open."""
    own = sorted(_own_runs) or [""]
    stale = con.execute("SELECT count(*) FROM runs WHERE status = 'running' AND NOT list_contains(?, run_id)",
                        [own]).fetchone()[0]
    if stale:
        con.execute("""UPDATE runs SET status = 'interrupted', finished_at = ?,
                       error = 'process ended before the run finished; its uncommitted batch was rolled back'
                       WHERE status = 'running' AND NOT list_contains(?, run_id)""", [datetime.now(UTC), own])
    return stale


@dataclass
class RecordedRun:
    """The open connection and run id a flow writes through; ``outcome`` is stored when it completes."""

    con: duckdb.DuckDBPyConnection
    run_id: str
    outcome: dict = field(default_factory=dict)

    def complete(self, counts: dict | None = None, timings: dict | None = None,
                 model_versions: dict | None = None) -> None:
        self.outcome = {"counts": counts, "timings": timings, "model_versions": model_versions}


def _rollback_open_transaction(con: duckdb.DuckDBPyConnection) -> None:
    with suppress(duckdb.Error):  # no transaction was open
        con.execute("ROLLBACK")


@contextmanager
def recorded_run(db_path: str | Path, flow: str, parameters: dict, wait_s: float = 60.0) -> Iterator[RecordedRun]:
    """Lock, connect, record the run; on any error roll back the open batch and record the run as failed."""
    with run_lock(db_path, wait_s):
        con = connect_writer(db_path, wait_s)
        try:
            mark_interrupted_runs(con)
            run = RecordedRun(con, start_run(con, flow, parameters))
            _own_runs.add(run.run_id)
            try:
                yield run
            except BaseException as exc:
                _rollback_open_transaction(con)
                finish_run(con, run.run_id, "failed", error=f"{type(exc).__name__}: {exc}"[:2000])
                raise
            finally:
                _own_runs.discard(run.run_id)
            finish_run(con, run.run_id, "completed", **{k: v for k, v in run.outcome.items() if v is not None})
        finally:
            con.close()
