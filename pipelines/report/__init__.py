"""The self-contained HTML report of the latest ranking."""

from pipelines.report.build import build_report, load_report_data

__all__ = ["build_report", "load_report_data"]
