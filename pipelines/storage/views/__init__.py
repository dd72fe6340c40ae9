"""The views users query, defined like dbt models: ``<name>.sql`` holds a view's SQL and ``views.yml`` its grain,
description, column descriptions and data tests. Tables stay in the append-only migrations; a view is re-created
whenever its SQL or its entry changes (recorded by checksum in ``view_versions``), and its ``COMMENT ON`` text
is written from the yml, so each view is defined and documented in one place.

``python -m pipelines.storage.views --readme`` prints the README's table of views.
"""

from __future__ import annotations

import functools
import hashlib
import json
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources

import duckdb
import yaml

TESTS = ("not_null", "unique", "accepted_values")


@dataclass(frozen=True)
class Column:
    name: str
    description: str
    tests: tuple = ()


@dataclass(frozen=True)
class View:
    name: str
    grain: str
    description: str
    columns: tuple[Column, ...]
    sql: str
    internal: bool = False

    @property
    def checksum(self) -> str:
        entry = {"sql": self.sql, "description": self.description, "internal": self.internal,
                 "columns": [(c.name, c.description) for c in self.columns]}
        return hashlib.sha256(json.dumps(entry, sort_keys=True).encode()).hexdigest()


@functools.cache
def views() -> tuple[View, ...]:
    """Every view in ``views.yml`` order (a view after those it reads), with its SQL."""
    folder = resources.files("pipelines.storage") / "views"
    spec = yaml.safe_load((folder / "views.yml").read_text(encoding="utf-8"))
    found = []
    for entry in spec["views"]:
        columns = tuple(Column(c["name"], c["description"], tuple(_test_key(t) for t in c.get("tests", ())))
                        for c in entry["columns"])
        sql = (folder / f"{entry['name']}.sql").read_text(encoding="utf-8").strip().rstrip(";")
        found.append(View(entry["name"], entry["grain"], entry["description"], columns, sql,
                          bool(entry.get("internal"))))
    return tuple(found)


def _test_key(test) -> str | tuple:
    """``"unique"`` or ``("accepted_values", (…))``, hashable; an unknown test is an error in views.yml."""
    name, values = (test, None) if isinstance(test, str) else next(iter(test.items()))
    if name not in TESTS:
        raise ValueError(f"views.yml: unknown data test {name!r} (known: {', '.join(TESTS)})")
    return name if values is None else (name, tuple(values))


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def sync_views(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Re-create the views whose SQL or entry changed since this warehouse last saw them, with their comments;
    return their names. A view whose columns differ from its entry is a bug in this package and stops here."""
    stored = dict(con.execute("SELECT view_name, checksum FROM view_versions").fetchall())
    changed = [view for view in views() if stored.get(view.name) != view.checksum]
    if not changed:
        return []
    con.execute("BEGIN TRANSACTION")
    try:
        for view in changed:
            con.execute(f'CREATE OR REPLACE VIEW "{view.name}" AS {view.sql}')
            names = [d[0] for d in con.execute(f'SELECT * FROM "{view.name}" LIMIT 0').description]
            declared = [c.name for c in view.columns]
            if names != declared:
                raise RuntimeError(f"{view.name}.sql gives columns {names}, views.yml declares {declared}")
            con.execute(f'COMMENT ON VIEW "{view.name}" IS {_quoted(view.description)}')
            for column in view.columns:
                con.execute(f'COMMENT ON COLUMN "{view.name}"."{column.name}" IS {_quoted(column.description)}')
            con.execute("INSERT OR REPLACE INTO view_versions VALUES (?, ?, ?)",
                        [view.name, view.checksum, datetime.now(UTC)])
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return [view.name for view in changed]


def data_test_failures(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every data test of views.yml run on this warehouse: one line per failing (view, column, test)."""
    failures = []
    for view in views():
        for column in view.columns:
            for test in column.tests:
                target = f'"{view.name}"."{column.name}"'
                if test == "not_null":
                    sql = f'SELECT count(*) FROM "{view.name}" WHERE {target} IS NULL'
                elif test == "unique":
                    sql = f'SELECT count({target}) - count(DISTINCT {target}) FROM "{view.name}"'
                else:
                    allowed = ", ".join(_quoted(v) for v in test[1])
                    sql = f'SELECT count(*) FROM "{view.name}" WHERE {target} NOT IN ({allowed})'
                bad = con.execute(sql).fetchone()[0]
                if bad:
                    name = test if isinstance(test, str) else test[0]
                    failures.append(f"{view.name}.{column.name}: {name} fails on {bad} row{'s' if bad != 1 else ''}")
    return failures


def readme_table() -> str:
    """The README's table of the views users query."""
    lines = ["| view | one row per | columns |", "|---|---|---|"]
    for view in views():
        if not view.internal:
            lines.append(f"| `{view.name}` | {view.grain} | {', '.join(c.name for c in view.columns)} |")
    return "\n".join(lines)


if __name__ == "__main__":
    if sys.argv[1:] != ["--readme"]:
        sys.exit("usage: python -m pipelines.storage.views --readme")
    print(readme_table())
