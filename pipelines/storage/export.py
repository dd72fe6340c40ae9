"""Export the documented views as Parquet, partitioned by the month customers wrote in, for warehouses that
outgrow one DuckDB file: DuckDB (``read_parquet('DIR/v_feedback/**/*.parquet', hive_partitioning = true)``),
Spark, Trino or pandas read the same files. DuckDB's Parquet writer is built in (no extension download)."""

from __future__ import annotations

import shutil
from pathlib import Path

from pipelines.storage.warehouse import connect, retry_while_busy

# Views with the date a customer wrote: partitioned by year and month of created_at (undated rows: year=NULL).
DATED_VIEWS = ("v_feedback", "v_need_mentions")
# Small per-fit tables: one file each.
RANKING_VIEWS = ("v_unmet_needs", "v_unmet_needs_by_segment", "v_theme_trends")


def export_parquet(db_path: str | Path, out_dir: str | Path, wait_s: float = 0.0) -> dict[str, int]:
    """Rows written per view. An existing export of a view is replaced, never mixed with the new one."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    con = retry_while_busy(lambda: connect(db_path, read_only=True), wait_s)  # files need external access
    written = {}
    try:
        for view in DATED_VIEWS + RANKING_VIEWS:
            target = out / view
            staging = out / f".{view}.partial"
            shutil.rmtree(staging, ignore_errors=True)
            if view in DATED_VIEWS:
                sql = (f"COPY (SELECT *, year(created_at) AS year, month(created_at) AS month FROM {view}) "
                       f"TO {_literal(staging)} (FORMAT PARQUET, PARTITION_BY (year, month))")
            else:
                staging.mkdir()
                sql = f"COPY (SELECT * FROM {view}) TO {_literal(staging / 'part-0.parquet')} (FORMAT PARQUET)"
            con.execute(sql)
            written[view] = con.execute(f"SELECT count(*) FROM {view}").fetchone()[0]
            shutil.rmtree(target, ignore_errors=True)
            staging.rename(target)
    finally:
        con.close()
    return written


def _literal(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"
