"""What the ingest modules pass each other (the options of a read, a piece of a file) and the rules they share,
in a leaf module that imports none of them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from models.errors import UnmetError
from pipelines.config import MAX_TEXT_CHARS
from pipelines.sources.redact import RedactionPolicy


class SourceError(UnmetError):
    """A whole file cannot be read; the message names the file (and line where known)."""


@dataclass
class IngestOptions:
    source_kind: str | None = None
    source_name: str | None = None
    fmt: str | None = None
    adapter: str | None = None
    column_map: dict[str, str] = field(default_factory=dict)
    segment_map: dict[str, str] = field(default_factory=dict)  # segment name → column ("department" → "Dept")
    encoding: str = "utf-8"
    date_format: str | None = None
    author_salt: str = ""
    max_text_chars: int = MAX_TEXT_CHARS
    redaction: RedactionPolicy = field(default_factory=RedactionPolicy)
    batch_rows: int = 5000


@dataclass(frozen=True)
class InputPart:
    """One piece of one file: bytes ``start``–``end`` of a text file, or row groups ``start``–``end`` of Parquet."""

    path: str
    fmt: str
    index: int = 0
    count: int = 1
    start: int = 0
    end: int | None = None      # exclusive; None: to the end of the file
    first_line: int = 1         # the line (text) or row (Parquet) number of the part's first record
    digest: str = ""            # sha256 of what the part reads (a CSV part's header included)


def source_name_for(path: Path) -> str:
    name = path.name
    for suffix in reversed(path.suffixes):
        name = name.removesuffix(suffix)
    return name or path.name


def csv_delimiter(fmt: str, header: str) -> str:
    """The delimiter of a delimited file, from its format and its header line: a tab for TSV; for CSV a semicolon
    where the header has more of them than commas (European Excel exports), else a comma."""
    if fmt == "tsv":
        return "\t"
    return ";" if header.count(";") > header.count(",") else ","
