"""Inputs: file formats, export adapters, cleaning and normalization into feedback records."""

from pipelines.sources.formats import FORMATS, detect_format, iter_rows
from pipelines.sources.normalize import NormalizedFile, normalize_file
from pipelines.sources.types import IngestOptions, InputPart, SourceError

__all__ = ["FORMATS", "IngestOptions", "InputPart", "NormalizedFile", "SourceError", "detect_format", "iter_rows",
           "normalize_file"]
