"""Connections for people reading the warehouse (`unmet query`, notebooks): read-only by construction.

Four walls, each enough on its own for its kind of harm: the file is opened read-only (no DDL/DML on
the warehouse), external access is off (no reading or writing other files, no ATTACH, no extension
downloads), the configuration is locked (a query cannot switch either back on), and only statements
that read are accepted.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from pipelines.storage.warehouse import WarehouseError, open_duckdb, retry_while_busy

READ_STATEMENTS = {duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN}
_LOCKED_CONFIG = {"enable_external_access": False, "autoinstall_known_extensions": False,
                  "autoload_known_extensions": False, "allow_community_extensions": False,
                  "lock_configuration": True}


class QueryRefused(WarehouseError):
    """The SQL would do something other than read the warehouse."""


def open_for_query(db_path: str | Path, wait_s: float = 0.0) -> duckdb.DuckDBPyConnection:
    """A locked-down read-only connection; while a run writes, retry for ``wait_s`` then say it is busy."""
    path = Path(db_path)
    if not path.exists():
        raise WarehouseError(f"no database at {path}: run `unmet run INPUT --db {path}` first")
    busy = f"database {path} is busy: a run is writing to it; retry when it ends, or pass --wait SECONDS"
    return retry_while_busy(lambda: open_duckdb(path, True, _LOCKED_CONFIG, busy), wait_s)


def run_query(con: duckdb.DuckDBPyConnection, sql: str) -> duckdb.DuckDBPyConnection:
    """Execute ``sql`` if every statement in it only reads; the last statement's result is returned."""
    try:
        statements = con.extract_statements(sql)
    except duckdb.Error as exc:
        raise QueryRefused(f"cannot parse the query: {str(exc).splitlines()[0]}") from exc
    if not statements:
        raise QueryRefused("empty query")
    refused = [s.type.name for s in statements if s.type not in READ_STATEMENTS]
    if refused:
        raise QueryRefused(f"`unmet query` is read-only (SELECT and EXPLAIN only): "
                           f"{', '.join(sorted(set(refused)))} statements are refused")
    for statement in statements[:-1]:
        con.execute(statement)
    return con.execute(statements[-1])
