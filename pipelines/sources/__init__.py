"""Inputs: file formats, export adapters, cleaning and normalization into feedback records."""

from pipelines.sources.formats import FORMATS, SourceError, detect_format, iter_rows
from pipelines.sources.normalize import IngestOptions, NormalizedFile, normalize_file

__all__ = ["FORMATS", "IngestOptions", "NormalizedFile", "SourceError", "detect_format", "iter_rows",
           "normalize_file"]
