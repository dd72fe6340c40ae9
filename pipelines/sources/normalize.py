"""Turn raw rows into validated feedback records or quarantine entries (never both, never neither)."""

from __future__ import annotations

import functools
import hashlib
import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
from dateutil import parser as date_parser

from models.text import clean_text
from pipelines.sources.adapters import (
    ADAPTERS_BY_NAME,
    ALIASES,
    Adapter,
    detect_adapter,
    missing_columns,
    normalize_key,
)
from pipelines.sources.formats import detect_format, iter_rows, printable_raw
from pipelines.sources.language import detect_languages
from pipelines.sources.redact import redact
from pipelines.sources.types import IngestOptions, InputPart, SourceError, source_name_for

RECORD_SCHEMA = pa.schema([
    ("feedback_id", pa.string()), ("source_kind", pa.string()), ("source_name", pa.string()),
    ("source_id", pa.string()), ("adapter", pa.string()), ("text", pa.string()),
    ("raw_text", pa.string()), ("created_at", pa.timestamp("us", tz="UTC")), ("rating", pa.float64()),
    ("recommend", pa.bool_()), ("helpful_votes", pa.int64()), ("author_hash", pa.string()), ("product", pa.string()),
    ("url", pa.string()),
    ("language", pa.string()),
    ("source_file", pa.string()), ("source_line", pa.int64()), ("raw_payload", pa.string()),
    ("segments", pa.list_(pa.struct([("segment", pa.string()), ("value", pa.string())]))),
])
QUARANTINE_SCHEMA = pa.schema([
    ("quarantine_id", pa.string()), ("source_file", pa.string()), ("source_line", pa.int64()),
    ("source_name", pa.string()), ("reason", pa.string()), ("raw_payload", pa.string()),
])
_EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)
_DEFAULT_A, _DEFAULT_B = datetime(2000, 1, 1), datetime(2001, 2, 2)  # two fills reveal a missing year
_MISSING = {"", "nan", "nat", "null", "none", "n/a", "na", "-"}  # how exports spell an empty cell
_COMPACT_DATE = re.compile(r"^(?:19[9]\d|20\d\d)(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])$")  # 20150224
_LATEST = datetime(2100, 1, 1, tzinfo=UTC)


class RowRejected(ValueError):
    """A row that cannot become a record; the message is the quarantine reason."""


@dataclass
class NormalizedFile:
    """Records and quarantine entries of one file, or of one batch of its rows.

    ``rows_read`` counts the rows the reader yielded, as they were read, and ``file_errors`` the whole-file
    problems (a truncated tail) quarantined without being a row; so ``lost_rows`` is not zero by definition, and
    is zero only when every row read became exactly one record or quarantine entry."""

    path: str
    adapter: str | None
    records: pa.Table
    quarantine: pa.Table
    rows_read: int
    file_errors: int

    @property
    def lost_rows(self) -> int:
        return self.rows_read + self.file_errors - self.records.num_rows - self.quarantine.num_rows


_NUMBER = re.compile(r"-?\d+(?:\.\d+)?", re.ASCII)  # ASCII: "¹" is a digit to str.isdigit, not to float()


def _looks_numeric(value) -> bool:
    return isinstance(value, str) and _NUMBER.fullmatch(value.strip()) is not None


def parse_timestamp(value, date_format: str | None = None) -> datetime | None:
    """UTC datetime from ISO/RFC strings, common human formats, or epoch seconds/milliseconds.

    ``date_format`` (strptime syntax) is tried first, for exports with a house format.
    """
    if date_format and isinstance(value, str) and value.strip():
        try:
            return parse_timestamp(datetime.strptime(value.strip(), date_format))
        except ValueError:
            raise RowRejected(f"date {value.strip()[:60]!r} does not match format {date_format!r}") from None
    if value is None or (isinstance(value, str) and value.strip().lower() in _MISSING):
        return None
    if isinstance(value, bool):
        raise RowRejected(f"wrong type for date: {value!r}")
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str) and _COMPACT_DATE.match(value.strip()):
        parsed = datetime.strptime(value.strip(), "%Y%m%d")
    elif isinstance(value, int | float) or _looks_numeric(value):
        number = float(value)
        if math.isnan(number):
            return None
        for divisor in (1, 1e3, 1e6):  # seconds, milliseconds, microseconds
            if abs(number / divisor) < 1e11:
                try:
                    parsed = datetime.fromtimestamp(number / divisor, tz=UTC)
                except (ValueError, OverflowError, OSError):
                    raise RowRejected(f"implausible date {value!r}") from None
                break
        else:
            raise RowRejected(f"unparseable date {value!r}")
    elif isinstance(value, str):
        text = value.strip()
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            try:
                parsed = date_parser.parse(text, default=_DEFAULT_A)
                without_year = date_parser.parse(text, default=_DEFAULT_B).year != parsed.year
            except (ValueError, OverflowError) as exc:
                raise RowRejected(f"unparseable date {text[:60]!r}") from exc
            if without_year:  # dateutil would silently take the current year
                raise RowRejected(f"date without a year {text[:60]!r}") from None
    else:
        raise RowRejected(f"wrong type for date: {type(value).__name__}")
    parsed = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    if not _EARLIEST <= parsed <= _LATEST:
        raise RowRejected(f"implausible date {value!r}")
    return parsed


RECOMMEND_VALUES = {"true": True, "yes": True, "y": True, "1": True, "t": True, "recommended": True,
                    "false": False, "no": False, "n": False, "0": False, "f": False, "not recommended": False}


def parse_recommend(value) -> bool | None:
    """A recommend flag (TRUE/FALSE, yes/no, 1/0); empty is unknown, anything else rejects the row with a reason."""
    if value is None or (isinstance(value, str) and value.strip().lower() in _MISSING):
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    flag = RECOMMEND_VALUES.get(str(value).strip().lower())
    if flag is None:
        raise RowRejected(f"recommend is not a yes/no flag: {str(value)[:40]!r}")
    return flag


def parse_helpful_votes(value) -> int | None:
    """How many readers found the review helpful: a whole number ≥ 0; empty is unknown, anything else rejects."""
    if value is None or (isinstance(value, str) and value.strip().lower() in _MISSING):
        return None
    if isinstance(value, bool):
        raise RowRejected("wrong type for helpful_votes: bool")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise RowRejected(f"helpful_votes is not a number: {str(value)[:40]!r}") from None
    if math.isnan(number):
        return None
    if number < 0 or number != int(number) or number > 1e12:
        raise RowRejected(f"helpful_votes is not a whole number of votes: {value!r}")
    return int(number)


def parse_rating(value) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise RowRejected(f"wrong type for rating: {type(value).__name__}")
    try:
        rating = float(value)
    except ValueError:
        raise RowRejected(f"rating is not a number: {str(value)[:40]!r}") from None
    if math.isnan(rating):
        return None
    if not -1e6 < rating < 1e6:
        raise RowRejected(f"rating out of range: {rating}")
    return rating


def _as_text(value, name: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, (bool, dict | list)):
        raise RowRejected(f"wrong type for {name}: {type(value).__name__}")
    if isinstance(value, float) and math.isnan(value):
        return None
    text = str(value)
    return text if text.strip() else None


def _hash(*parts: str | None, size: int = 20) -> str:
    digest = hashlib.sha256("\x1f".join(p or "" for p in parts).encode("utf-8", "surrogatepass"))
    return digest.hexdigest()[:size]


def build_record(fields: dict, adapter: Adapter, options: IngestOptions, source_name: str) -> dict:
    title = _as_text(fields.get("title"), "title")
    body = _as_text(fields.get("body"), "text")
    if title is None and body is None:
        raise RowRejected("no text")
    raw_text = body if title is None else title if body is None else f"{title.rstrip()}\n{body}"
    if len(raw_text) > options.max_text_chars:
        raise RowRejected(f"text too long ({len(raw_text)} chars > {options.max_text_chars})")
    source_kind = options.source_kind or adapter.source_kind
    social = source_kind == "social"
    # title and body are cleaned apart: a title ends its sentence even without a full stop ("Great dress")
    cleaned = (clean_text(part, social=social) for part in (title, body) if part is not None)
    text = redact("\n".join(part for part in cleaned if part), options.redaction)
    if not text:
        raise RowRejected("no text after cleaning (markup or whitespace only)")
    created_at = parse_timestamp(fields.get("created_at"), options.date_format)
    rating = parse_rating(fields.get("rating"))
    recommend = parse_recommend(fields.get("recommend"))
    helpful_votes = parse_helpful_votes(fields.get("helpful_votes"))
    source_id = _as_text(fields.get("source_id"), "id")
    author = _as_text(fields.get("author"), "author")
    author_hash = _hash(options.author_salt, author, size=16) if author else None
    language = _as_text(fields.get("language"), "language")
    return {  # the id hashes the original text, so ids do not change with the redaction settings
        "feedback_id": _hash(source_kind, source_name, source_id, created_at.isoformat() if created_at else None,
                             author_hash, raw_text),
        "source_kind": source_kind, "source_name": source_name, "source_id": source_id,
        "adapter": adapter.name, "text": text, "raw_text": redact(raw_text, options.redaction),
        "created_at": created_at,
        "rating": rating, "recommend": recommend, "helpful_votes": helpful_votes, "author_hash": author_hash,
        "product": _as_text(fields.get("product"), "product"), "url": _as_text(fields.get("url"), "url"),
        "language": language.lower()[:8] if language else None,  # None: detected for the whole batch
    }


@functools.cache  # once per adapter, not once per row
def _author_keys(adapter_name: str | None) -> frozenset[str]:
    adapter = ADAPTERS_BY_NAME.get(adapter_name)
    names = ALIASES["author"] + (adapter.columns.get("author", ()) if adapter else ())
    return frozenset(normalize_key(n) for n in names)


def redact_payload(value, options: IngestOptions, author_keys: frozenset[str]):
    """The row as stored for reprocessing: strings redacted, author fields replaced by their salted hash."""
    if isinstance(value, dict):
        return {k: (f"author:{_hash(options.author_salt, str(v), size=16)}"
                    if normalize_key(k) in author_keys and v not in (None, "")
                    else redact_payload(v, options, author_keys)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_payload(v, options, author_keys) for v in value]
    return redact(value, options.redaction) if isinstance(value, str) else value


def _payload_json(fields: dict, options: IngestOptions, adapter: Adapter | None) -> str:
    cleaned = redact_payload(fields, options, _author_keys(adapter.name if adapter else None))
    return printable_raw(json.dumps(cleaned, ensure_ascii=False, default=str))


class MappingError(SourceError):
    """A --map column the file does not have: the whole run stops, since every row would lose that field."""


def mapped_columns(options: IngestOptions) -> dict[str, str]:
    """Every column the options name: the field mapping and the segment columns (as "segment:NAME")."""
    return {**options.column_map, **{f"segment:{name}": column for name, column in options.segment_map.items()}}


def segment_values(row: dict, segment_map: dict[str, str], options: IngestOptions) -> list[dict] | None:
    """The row's value of each segment column (redacted like the text); None when no segment is mapped."""
    if not segment_map:
        return None
    by_key = {normalize_key(k): v for k, v in row.items()}
    values = []
    for name, column in segment_map.items():
        value = _as_text(row.get(column, by_key.get(normalize_key(column))), name)
        if value is not None:
            values.append({"segment": name, "value": redact(value.strip(), options.redaction)})
    return values


def check_mapping(path: str | Path, options: IngestOptions) -> None:
    """Before a run reads a table (CSV, TSV, Parquet: one header for every row), each mapped column must be in it
    (JSON rows differ in their keys: those are checked as they are read)."""
    path = Path(path)
    mapped = mapped_columns(options)
    if not mapped or (options.fmt or detect_format(path)).lower() not in ("csv", "tsv", "parquet"):
        return
    first = next((row for row in iter_rows(path, options.fmt, options.encoding) if row.fields is not None), None)
    if first is not None and (missing := missing_columns(mapped, list(first.fields))):
        raise MappingError(f"{path}: --map {missing[0]}: the file has no column {missing[0].partition('=')[2]!r}; "
                           f"its columns: {', '.join(map(str, first.fields))}")


def normalize_batches(path: str | Path, options: IngestOptions, part: InputPart | None = None
                      ) -> Iterator[NormalizedFile]:
    """Stream one file (or one ``part`` of it) as batches of records and quarantine entries; every row read
    ends in exactly one.

    Memory holds one batch (``options.batch_rows`` rows), whatever the file's size. Personal data is
    redacted here, before anything can be stored or logged.
    """
    path = Path(path)
    if not path.is_file():
        raise SourceError(f"{path}: no such file" if not path.exists() else f"{path}: not a regular file")
    source_name = options.source_name or source_name_for(path)
    adapter = ADAPTERS_BY_NAME.get(options.adapter) if options.adapter else None
    if options.adapter and adapter is None:
        known = ", ".join(ADAPTERS_BY_NAME)
        raise SourceError(f"{path}: unknown adapter {options.adapter!r} (choose from {known})")
    records: list[dict] = []
    quarantined: list[dict] = []
    read = {"rows": 0, "file_errors": 0}  # since the last batch
    unseen = mapped_columns(options)  # mapped columns not yet found in a row
    tabular = (options.fmt or detect_format(path)).lower() in ("csv", "tsv", "parquet")  # one header for every row

    last_columns: list = []

    def check_mapping(columns: list, final: bool = False) -> None:
        missing = missing_columns(unseen, columns)
        if missing and (final or tabular):
            raise MappingError(f"{path}: --map {missing[0]}: the file has no column "
                               f"{missing[0].partition('=')[2]!r}; its columns: {', '.join(map(str, columns))}")
        for field_name in [f for f in unseen if f"{f}={unseen[f]}" not in missing]:
            del unseen[field_name]

    def quarantine(line: int, reason: str, raw: str) -> None:
        reason = redact(reason, options.redaction)
        quarantined.append({
            "quarantine_id": _hash(source_name, str(line), reason, raw),
            "source_file": str(path), "source_line": line, "source_name": source_name,
            "reason": reason, "raw_payload": raw,
        })

    def batch() -> NormalizedFile:
        undeclared = [record for record in records if record["language"] is None]
        for record, language in zip(undeclared, detect_languages([r["text"] for r in undeclared]), strict=True):
            record["language"] = language
        out = NormalizedFile(str(path), adapter.name if adapter else None,
                             pa.Table.from_pylist(records, schema=RECORD_SCHEMA),
                             pa.Table.from_pylist(quarantined, schema=QUARANTINE_SCHEMA),
                             read["rows"], read["file_errors"])
        records.clear()
        quarantined.clear()
        read.update(rows=0, file_errors=0)
        return out

    try:
        for row in iter_rows(path, options.fmt, options.encoding, part):
            read["rows"] += 1
            if row.error:
                payload = (_payload_json(row.fields, options, adapter) if row.fields is not None
                           else redact(row.raw, options.redaction))
                quarantine(row.line, row.error, payload)
            else:
                if unseen:
                    check_mapping(list(row.fields))
                    last_columns = list(row.fields)
                adapter = adapter or detect_adapter(row.fields.keys(), options.column_map)
                payload = _payload_json(row.fields, options, adapter)
                if adapter is None:
                    quarantine(row.line, "no text column found (map one with --map text=COLUMN)", payload)
                else:
                    try:
                        record = build_record(adapter.extract(row.fields, options.column_map), adapter, options,
                                              source_name)
                        segments = segment_values(row.fields, options.segment_map, options)
                    except RowRejected as exc:
                        quarantine(row.line, str(exc), payload)
                    else:
                        record.update(source_file=str(path), source_line=row.line, raw_payload=payload,
                                      segments=segments)
                        if record["source_id"] is None:  # cite the row where the file has no id (not in the id hash)
                            record["source_id"] = f"{path.name}:{row.line}"
                        records.append(record)
            if len(records) + len(quarantined) >= options.batch_rows:
                yield batch()
    except MappingError:
        raise
    except SourceError as exc:
        read["file_errors"] += 1
        quarantine(0, str(exc), "")
    if unseen and records:  # JSON rows differ in their keys: a mapped column no row of the file had
        check_mapping(last_columns, final=True)
    yield batch()


def normalize_file(path: str | Path, options: IngestOptions) -> NormalizedFile:
    """Read one whole file into records and quarantine entries (tests, validation, small files)."""
    batches = list(normalize_batches(path, options))
    return NormalizedFile(str(path), next((b.adapter for b in reversed(batches) if b.adapter), None),
                          pa.concat_tables([b.records for b in batches]),
                          pa.concat_tables([b.quarantine for b in batches]),
                          sum(b.rows_read for b in batches), sum(b.file_errors for b in batches))
