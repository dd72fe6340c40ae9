"""What each flow returns: a ``TypedDict`` per flow, with the same keys whichever way a run ends, so callers
index them without defaults (and type checkers know the shape). Plain dicts, so Prefect stores and shows them
as they are."""

from __future__ import annotations

from typing import TypedDict


class FileCounts(TypedDict):
    file: str
    adapter: str | None
    parts: int
    parts_skipped: int  # ingested before with the same options
    rows_read: int  # counted as the reader yields rows
    file_errors: int  # whole-file problems, quarantined without being a row
    stored: int
    new_documents: int
    updated_documents: int  # stored before, given the attributes of a new mapping
    quarantined: int
    new_quarantined: int


class IngestResult(TypedDict):
    run_id: str
    rows_read: int
    file_errors: int
    stored: int
    new_documents: int
    updated_documents: int
    quarantined: int
    new_quarantined: int
    files: list[FileCounts]


class AnalyzeResult(TypedDict):
    run_id: str
    analysis_version: str
    documents: int
    sentences: int
    need_mentions: int


class RankResult(TypedDict):
    run_id: str
    kind: str  # initial, incremental, refit, reused (mentions unchanged) or none (nothing to rank yet)
    theme_fit_id: str | None
    mentions: int
    themes: int
    outliers: int
    emerging: int


class EditResult(TypedDict):
    edit_ids: list[int]
    theme_fit_id: str | None


class PipelineResult(TypedDict):
    ingest: IngestResult
    analyze: AnalyzeResult
    rank: RankResult
    report: str | None
