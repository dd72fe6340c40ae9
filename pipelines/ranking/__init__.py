"""Ranking of themes into unmet needs."""

from pipelines.ranking.opportunity import opportunity, rank_themes

__all__ = ["opportunity", "rank_themes"]
