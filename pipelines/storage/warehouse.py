"""The DuckDB warehouse: connections with clear errors, numbered migrations, bulk writes, run records."""

from __future__ import annotations

import hashlib
import json
import secrets
import time
import uuid
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import duckdb
import pyarrow as pa

from models.errors import UnmetError
from models.settings import settings
from pipelines.storage.views import sync_views

# DuckDB would otherwise cache up to 80% of RAM; a bounded pool keeps long ingests flat (it spills to disk).
DUCKDB_MEMORY_LIMIT = settings().duckdb_memory_limit


class WarehouseError(UnmetError):
    """A problem with the database file that the user can act on; the message says what to do."""


class WarehouseBusy(WarehouseError):
    pass


def migration_files() -> list[tuple[int, str, str]]:
    """(version, name, sql) for every bundled migration, in order."""
    folder = resources.files("pipelines.storage") / "migrations"
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            version = int(entry.name.split("_", 1)[0])
            found.append((version, entry.name, entry.read_text(encoding="utf-8")))
    return sorted(found)


def open_duckdb(path: Path, read_only: bool, config: dict, busy: str) -> duckdb.DuckDBPyConnection:
    """``duckdb.connect`` with its lock conflict turned into :class:`WarehouseBusy` (message ``busy``)."""
    try:
        return duckdb.connect(str(path), read_only=read_only, config=config)
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise WarehouseBusy(busy) from exc
        raise WarehouseError(f"cannot open database {path}: {exc}") from exc


def retry_while_busy(open_connection, wait_s: float) -> duckdb.DuckDBPyConnection:
    """Call ``open_connection`` until it stops raising :class:`WarehouseBusy` or ``wait_s`` has passed."""
    deadline, delay = time.monotonic() + wait_s, 0.1
    while True:
        try:
            return open_connection()
        except WarehouseBusy:
            if time.monotonic() >= deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 2.0)


def connect(db_path: str | Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the warehouse; writers also bring the schema up to date."""
    path = Path(db_path)
    if read_only and not path.exists():
        raise WarehouseError(f"no database at {path}: run `unmet run INPUT --db {path}` first")
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    con = open_duckdb(path, read_only, {"memory_limit": DUCKDB_MEMORY_LIMIT},
                      f"database {path} is busy: another process is writing to it; retry when that run ends")
    if not read_only:
        migrate(con)
    return con


def applied_versions(con: duckdb.DuckDBPyConnection) -> dict[int, str]:
    """Applied migration versions and the checksums they were applied with."""
    con.execute("""CREATE TABLE IF NOT EXISTS schema_migrations (
        version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, checksum VARCHAR NOT NULL,
        applied_at TIMESTAMPTZ NOT NULL)""")
    return dict(con.execute("SELECT version, checksum FROM schema_migrations").fetchall())


def _checksum(sql: str) -> str:
    return hashlib.sha256(sql.encode()).hexdigest()


def migrate(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Apply the migrations not yet recorded, each in its own transaction, then re-create the views that changed
    (``pipelines.storage.views``); return the migrations' names.

    Running it again applies nothing. A database migrated by a newer unmet, or with a migration that
    has since been edited, is refused rather than half-understood.
    """
    done = applied_versions(con)
    known = migration_files()
    newest_known = max(v for v, _, _ in known)
    if done and max(done) > newest_known:
        raise WarehouseError(
            f"database schema version {max(done)} is newer than this unmet ({newest_known}): upgrade unmet"
        )
    applied = []
    for version, name, sql in known:
        if version in done:
            if done[version] != _checksum(sql):
                raise WarehouseError(f"migration {name} differs from the one applied to this database; "
                                     f"migrations are append-only: add a new numbered file instead")
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(sql)
            con.execute("INSERT INTO schema_migrations VALUES (?, ?, ?, ?)",
                        [version, name, _checksum(sql), datetime.now(UTC)])
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
        applied.append(name)
    sync_views(con)  # the views as pipelines/storage/views/ defines them now, whatever the migrations made
    return applied


def author_salt(con: duckdb.DuckDBPyConnection) -> str:
    """A random per-warehouse salt for author hashes, created on first use."""
    row = con.execute("SELECT value FROM settings WHERE key = 'author_salt'").fetchone()
    if row:
        return row[0]
    salt = secrets.token_hex(16)
    con.execute("INSERT INTO settings VALUES ('author_salt', ?)", [salt])
    return salt


# not in a document's id: a re-run with a new mapping may set them
ATTRIBUTES = ("product", "rating", "recommend", "helpful_votes", "url", "segments")


def update_attributes(con: duckdb.DuckDBPyConnection, rows: pa.Table) -> int:
    """Documents already stored to which re-read rows give other attributes (a re-run with a new ``--map``):
    take the new values where they are given, keep the stored ones where not; return how many changed."""
    if rows.num_rows == 0:
        return 0
    staged = f"staged_{uuid.uuid4().hex}"
    con.register(staged, rows.select(["feedback_id", *ATTRIBUTES]))
    try:
        differs = " OR ".join(f"(s.{a} IS NOT NULL AND d.{a} IS DISTINCT FROM s.{a})" for a in ATTRIBUTES)
        changed = con.execute(f"SELECT count(*) FROM documents d JOIN {staged} s USING (feedback_id) "
                              f"WHERE {differs}").fetchone()[0]
        if changed:
            assignments = ", ".join(f"{a} = coalesce(s.{a}, d.{a})" for a in ATTRIBUTES)
            con.execute(f"UPDATE documents d SET {assignments} FROM {staged} s "
                        f"WHERE d.feedback_id = s.feedback_id AND ({differs})")
        return changed
    finally:
        con.unregister(staged)


def insert_new(con: duckdb.DuckDBPyConnection, table: str, rows: pa.Table, key: str,
               extra: dict | None = None) -> int:
    """Bulk-insert the rows whose ``key`` is not in ``table`` yet; return how many were new.

    ``extra`` adds constant columns (run id, timestamps) without copying the Arrow data.
    """
    if rows.num_rows == 0:
        return 0
    extra = extra or {}
    columns = [*rows.column_names, *extra]
    staged = f"staged_{uuid.uuid4().hex}"
    con.register(staged, rows)
    try:
        placeholders = ", ".join(["s." + c for c in rows.column_names] + ["?"] * len(extra))
        before = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        con.execute(
            f"""INSERT INTO {table} ({", ".join(columns)})
                SELECT {placeholders} FROM {staged} s
                WHERE NOT EXISTS (SELECT 1 FROM {table} t WHERE t.{key} = s.{key})
                QUALIFY row_number() OVER (PARTITION BY s.{key}) = 1""",
            list(extra.values()),
        )
        return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0] - before
    finally:
        con.unregister(staged)


def start_run(con: duckdb.DuckDBPyConnection, flow: str, parameters: dict) -> str:
    run_id = uuid.uuid4().hex[:16]
    con.execute(
        "INSERT INTO runs (run_id, flow, started_at, status, parameters) VALUES (?, ?, ?, 'running', ?)",
        [run_id, flow, datetime.now(UTC), json.dumps(parameters, default=str)],
    )
    return run_id


def finish_run(con: duckdb.DuckDBPyConnection, run_id: str, status: str, counts: dict | None = None,
               timings: dict | None = None, model_versions: dict | None = None, error: str | None = None) -> None:
    con.execute(
        """UPDATE runs SET finished_at = ?, status = ?, counts = ?, timings = ?, model_versions = ?, error = ?
           WHERE run_id = ?""",
        [datetime.now(UTC), status, json.dumps(counts or {}), json.dumps(timings or {}),
         json.dumps(model_versions or {}), error, run_id],
    )
