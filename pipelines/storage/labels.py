"""Human labels: corrections that people store in the warehouse and that retraining reads."""

from __future__ import annotations

import uuid
from pathlib import Path

import duckdb

from models.labels import TASK_LABELS
from pipelines.storage.warehouse import WarehouseError, connect


def add_label(con: duckdb.DuckDBPyConnection, task: str, label: str, *, sentence_id: str | None = None,
              text: str | None = None, labelled_by: str | None = None, note: str | None = None) -> str:
    """Store one correction for a stored sentence (by id) or for a free text; returns its label id."""
    if task not in TASK_LABELS:
        raise WarehouseError(f"unknown task {task!r}; one of {', '.join(TASK_LABELS)}")
    if label not in TASK_LABELS[task]:
        raise WarehouseError(f"label {label!r} is not valid for {task}; one of {', '.join(TASK_LABELS[task])}")
    if sentence_id:
        row = con.execute("SELECT text FROM sentences WHERE sentence_id = ?", [sentence_id]).fetchone()
        if not row:
            raise WarehouseError(f"no sentence with id {sentence_id!r} (see v_need_mentions.mention_id)")
        text = row[0]
    if not text or not text.strip():
        raise WarehouseError("give a sentence id or a non-empty text to label")
    label_id = uuid.uuid4().hex
    con.execute("INSERT INTO human_labels (label_id, task, text, label, sentence_id, labelled_by, note) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)", [label_id, task, text, label, sentence_id, labelled_by, note])
    return label_id


def read_labels(db_path: str | Path) -> dict[str, tuple[list[str], list[str]]]:
    """{task: (texts, labels)} from a warehouse, read-only; the latest label per task and text wins."""
    con = connect(db_path, read_only=True)
    try:
        tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        if "human_labels" not in tables:
            return {}
        rows = con.execute("""SELECT task, text, label FROM human_labels
                              QUALIFY row_number() OVER (PARTITION BY task, text ORDER BY labelled_at DESC,
                                                         label_id) = 1
                              ORDER BY task, text""").fetchall()
    finally:
        con.close()
    out: dict[str, tuple[list[str], list[str]]] = {}
    for task, text, label in rows:
        texts, labels = out.setdefault(task, ([], []))
        texts.append(text)
        labels.append(label)
    return out
