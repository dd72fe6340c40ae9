"""Prefect flows: thin compositions of tasks, whose parameters come in the groups of ``params``; only a flow's
process writes to DuckDB."""

from pipelines.flows.analyze import analyze_feedback
from pipelines.flows.edit import edit_themes
from pipelines.flows.ingest import ingest_feedback
from pipelines.flows.params import ClusterParams, IngestParams, ModelParams, RankParams
from pipelines.flows.pipeline import feedback_pipeline
from pipelines.flows.rank import rank_needs

__all__ = ["ClusterParams", "IngestParams", "ModelParams", "RankParams", "analyze_feedback", "edit_themes",
           "feedback_pipeline", "ingest_feedback", "rank_needs"]
