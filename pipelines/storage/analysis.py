"""Reading the documents not yet analysed by a model version, and writing an analysis: the SQL the analyze flow
needs, here so that the flow holds none."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import duckdb
import numpy as np
import pyarrow.compute as pc

from models.analyzer import AnalysisBatch
from pipelines.faults import checkpoint
from pipelines.storage.warehouse import insert_new

PENDING_SQL = """
SELECT d.feedback_id, d.text, d.language FROM documents d
WHERE d.feedback_id > ?
  AND NOT EXISTS (SELECT 1 FROM document_analysis a WHERE a.feedback_id = d.feedback_id AND a.analysis_version = ?)
ORDER BY d.feedback_id
LIMIT ?
"""

PENDING_COUNT_SQL = """
SELECT count(*), coalesce(sum(length(d.text)), 0) FROM documents d
WHERE NOT EXISTS (SELECT 1 FROM document_analysis a WHERE a.feedback_id = d.feedback_id AND a.analysis_version = ?)
"""


def pending_count(con: duckdb.DuckDBPyConnection, version: str) -> tuple[int, int]:
    """(documents, characters of their text) not yet analysed by ``version``."""
    documents, characters = con.execute(PENDING_COUNT_SQL, [version]).fetchone()
    return int(documents), int(characters)


def pending_chunks(con, version: str, most_documents: int, partitions: int = 1, documents: int = 0,
                   characters: int = 0) -> Iterator[dict]:
    """Documents not yet analysed by ``version``, at most ``most_documents`` at a time, as column lists.

    Paged by key rather than loading every pending text: memory holds a few partitions however big the backlog,
    and rows written between pages (all at or below the last key read) do not shift the next page.

    Planned as ``partitions`` over ``documents`` pending documents of ``characters`` characters, each page holds
    about an equal share of the characters left, since the work (sentences, tokens) follows text length rather
    than document count (two partitions of 1,000 Amazon reviews took 33.3 s and 34.4 s on one thread, their text
    181,603 and 186,440 characters), and the partition that ends last runs on its share of the cores alone. A page
    still takes enough documents that the rest fit in the partitions left.
    """
    after = ""
    while True:
        chunk = con.execute(PENDING_SQL, [after, version, most_documents]).fetch_arrow_table()
        if not chunk.num_rows:
            return
        if partitions > 1 and characters > 0:
            lengths = np.cumsum(pc.utf8_length(chunk.column("text")).to_numpy(zero_copy_only=False))
            share = characters / partitions
            closest = int(np.argmin(np.abs(lengths - share))) + 1
            fit = documents - (partitions - 1) * most_documents
            take = min(max(closest, fit, 1), chunk.num_rows)
            chunk = chunk.slice(0, take)
            characters -= int(lengths[take - 1])
        partitions -= 1
        documents -= chunk.num_rows
        chunk = chunk.to_pydict()
        after = chunk["feedback_id"][-1]
        yield chunk


def write_analysis(con, run_id: str, batch: AnalysisBatch) -> None:
    """Sentences, embeddings and document rows of one batch commit together or not at all."""
    now = datetime.now(UTC)
    con.execute("BEGIN TRANSACTION")
    insert_new(con, "sentence_embeddings", batch.embeddings, "sentence_id")
    insert_new(con, "sentences", batch.sentences, "sentence_id", {"run_id": run_id})
    con.register("analysed_batch", batch.documents)
    con.execute("""INSERT INTO document_analysis (feedback_id, analysis_version, status, sentiment,
                       sentiment_score, sentiment_confidence, sentiment_model, n_sentences, run_id, analyzed_at)
                   SELECT feedback_id, analysis_version, status, sentiment, sentiment_score, sentiment_confidence,
                          sentiment_model, n_sentences, ?, ? FROM analysed_batch""", [run_id, now])
    con.unregister("analysed_batch")
    checkpoint("analyze.before_commit")
    con.execute("COMMIT")
    checkpoint("analyze.after_commit")
