"""Need mentions read from the warehouse in sentence-id order, a chunk at a time, so ranking a million
mentions never holds their embeddings all at once."""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from models.labels import OUTLIER
from models.themes import MentionChunk, content_keys

NOT_SEEN = -2  # a mention that the previous fit did not have (outliers there are -1)

WITH_EMBEDDING = "JOIN sentence_embeddings e USING (sentence_id)"


def current_mentions(joins: str = "") -> str:
    """FROM … WHERE of the need sentences of every document's current analysis, with extra ``joins``."""
    return f"""
FROM sentences s
JOIN v_current_analysis a USING (feedback_id, analysis_version)
{joins}
WHERE s.need_kind IN ('explicit', 'implicit')"""


MENTION_COLUMNS = """s.sentence_id, s.feedback_id, s.text, s.aspect, s.need_kind, s.sentiment, e.embedding,
       coalesce(k.theme_id, {not_seen}) AS previous_theme_id, d.source_kind, d.source_name, d.product, d.created_at,
       d.rating, d.recommend, d.segments"""
RANKING_SELECT = ("s.feedback_id, s.need_kind, s.sentiment, d.source_kind, d.source_name, d.product, d.created_at, "
                  "d.rating, d.recommend, d.segments, "
                  "hash(d.text, coalesce(d.rating, -1)) AS document_key")  # 8 bytes a mention, not a string

MENTIONS_SQL = """
SELECT {columns}""" + current_mentions(f"""{WITH_EMBEDDING}
JOIN documents d USING (feedback_id)
LEFT JOIN (SELECT p.feedback_id, p.sentence_index, ta.theme_id
           FROM theme_assignments ta JOIN sentences p USING (sentence_id)
           WHERE ta.theme_fit_id = $previous_fit) k USING (feedback_id, sentence_index)""") + """ {only}
ORDER BY s.sentence_id
"""


def embedding_matrix(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """(rows, dim) float32 from a list<float> column in one copy, without a Python object per row."""
    lists = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if len(lists) == 0:
        return np.zeros((0, 0), dtype=np.float32)
    values = lists.flatten().to_numpy(zero_copy_only=False).astype(np.float32, copy=False)
    return values.reshape(len(lists), -1)


class MentionReader:
    """The current need mentions of one warehouse, with the theme each had in the previous fit.

    ``ids()`` is cheap (one string per mention); ``sample`` reads the rows a theme fit learns from; ``chunks``
    streams every row; ``ranking_columns`` and ``previous_theme_ids`` read just those columns, in the same
    (sentence id) order. Every reader returns what it read and keeps no state.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, previous_fit_id: str | None, chunk_rows: int = 32_768):
        self.con = con
        self.previous_fit_id = previous_fit_id
        self.chunk_rows = chunk_rows

    def ids(self) -> pa.Array:
        table = self.con.execute(f"SELECT s.sentence_id {current_mentions()} ORDER BY s.sentence_id"
                                 ).fetch_arrow_table()
        return table.column("sentence_id").combine_chunks()

    def content_keys(self, seed: int) -> np.ndarray:
        """``content_keys`` of every mention's text and aspect, in ``ids()`` order, read a chunk at a time."""
        reader = self.con.execute(f"""SELECT s.text, s.aspect, row_number() OVER (
                                              PARTITION BY s.text, coalesce(s.aspect, '') ORDER BY s.sentence_id) - 1
                                              AS occurrence {current_mentions()} ORDER BY s.sentence_id"""
                                  ).fetch_record_batch(self.chunk_rows)
        keys = [content_keys(batch.column("text").to_pylist(), seed, batch.column("occurrence").to_pylist(),
                             batch.column("aspect").to_pylist()) for batch in reader]
        return np.concatenate(keys) if keys else np.zeros(0, dtype=np.uint64)

    def encoder(self) -> str | None:
        row = self.con.execute(f"SELECT e.encoder {current_mentions(WITH_EMBEDDING)} LIMIT 1").fetchone()
        return row[0] if row else None

    def sample(self, sentence_ids: pa.Array) -> MentionChunk:
        """The given mentions, in sentence-id order (what ``ThemeModel.learn`` takes)."""
        self.con.register("unmet_sample_ids", pa.table({"sentence_id": sentence_ids}))
        try:
            table = self._query("AND s.sentence_id IN (SELECT sentence_id FROM unmet_sample_ids)").fetch_arrow_table()
        finally:
            self.con.unregister("unmet_sample_ids")
        return self._chunk(table, known=None)

    def chunks(self) -> Iterator[MentionChunk]:
        """Every mention, a ``MentionChunk`` at a time, with the theme each had in the previous fit."""
        for batch in self._query("").fetch_record_batch(self.chunk_rows):
            known = np.array(batch.column("previous_theme_id").to_numpy(), dtype=np.int64)
            yield self._chunk(batch, np.where(known == NOT_SEEN, OUTLIER, known))

    def ranking_columns(self) -> pa.Table:
        """The small columns ranking needs, a row per mention."""
        return self._query("", RANKING_SELECT).fetch_arrow_table()

    def previous_theme_ids(self) -> np.ndarray:
        """The theme each mention had in the previous fit (``NOT_SEEN`` for a mention new since then)."""
        column = self._query("", "coalesce(k.theme_id, {not_seen}) AS previous_theme_id").fetch_arrow_table()
        return np.asarray(column.column(0).to_numpy(), dtype=np.int64)

    def has_dates(self) -> bool:
        """Whether any mention's document has a date (trends need one)."""
        return self.con.execute(f"SELECT count(d.created_at) {current_mentions('JOIN documents d USING (feedback_id)')}"
                                ).fetchone()[0] > 0

    def verdicts(self) -> pd.DataFrame:
        """Star rating and recommend flag (by feedback_id) of every current document that has either, with needs
        or without."""
        frame = self.con.execute("""SELECT feedback_id, rating, recommend FROM v_feedback
                                    WHERE rating IS NOT NULL OR recommend IS NOT NULL""").df()
        return frame.set_index("feedback_id").astype({"rating": float, "recommend": "boolean"})

    @staticmethod
    def _chunk(rows: pa.Table | pa.RecordBatch, known: np.ndarray | None) -> MentionChunk:
        return MentionChunk(embedding_matrix(rows.column("embedding")), rows.column("text").to_pylist(),
                            rows.column("aspect").to_pylist(), known,
                            documents=rows.column("feedback_id").to_pylist(),
                            explicit=np.asarray(rows.column("need_kind").to_numpy(zero_copy_only=False)) == "explicit",
                            negative=np.asarray(rows.column("sentiment").to_numpy(zero_copy_only=False)) == "negative",
                            products=rows.column("product").to_pylist())

    def quotes(self, sentence_ids: list[str]) -> dict[str, dict]:
        """Quote fields of a few sentences, by sentence id."""
        rows = self.con.execute("""SELECT s.sentence_id, s.text, s.feedback_id, d.source_id, d.source_name, d.url
                                   FROM sentences s JOIN documents d USING (feedback_id)
                                   WHERE s.sentence_id IN (SELECT unnest($ids))""", {"ids": sentence_ids}).fetchall()
        return {r[0]: {"sentence": r[1], "feedback_id": r[2], "source_id": r[3], "source_name": r[4], "url": r[5]}
                for r in rows}

    def _query(self, only: str, columns: str = MENTION_COLUMNS) -> duckdb.DuckDBPyConnection:
        sql = MENTIONS_SQL.format(columns=columns.format(not_seen=NOT_SEEN), only=only)
        return self.con.execute(sql, {"previous_fit": self.previous_fit_id})
