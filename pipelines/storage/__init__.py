"""DuckDB warehouse: schema migrations, bulk writes and run bookkeeping."""

from pipelines.storage.labels import add_label, read_labels
from pipelines.storage.warehouse import (
    WarehouseBusy,
    WarehouseError,
    author_salt,
    connect,
    finish_run,
    insert_new,
    migrate,
    start_run,
)

__all__ = ["WarehouseBusy", "WarehouseError", "add_label", "author_salt", "connect", "finish_run", "insert_new",
           "migrate", "read_labels", "start_run"]
