"""Prefect flows: thin compositions of tasks; only the flow process writes to DuckDB."""

from pipelines.flows.analyze import analyze_feedback
from pipelines.flows.edit import edit_themes
from pipelines.flows.ingest import ingest_feedback
from pipelines.flows.pipeline import feedback_pipeline
from pipelines.flows.rank import rank_needs

__all__ = ["analyze_feedback", "edit_themes", "feedback_pipeline", "ingest_feedback", "rank_needs"]
