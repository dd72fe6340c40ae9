"""Split one input file into parts that separate processes can read alone, and recognise parts already read.

A text file (CSV, TSV, JSON Lines) is cut into byte ranges at record boundaries found by parsing it the way
the reader will; a Parquet file into runs of row groups. A compressed file, a JSON document or a file that
cannot be cut safely (a non-ASCII-compatible encoding, bare carriage returns) is one part. Every record keeps
the line number it has in the whole file, and each part carries a digest of the bytes it reads, so that an
unchanged part (of an unchanged file, or of an export that only grew) is not read again.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import itertools
import json
from dataclasses import asdict, replace
from pathlib import Path

from pipelines import __version__
from pipelines.config import PART_BYTES
from pipelines.sources.adapters import detect_adapter
from pipelines.sources.formats import SNIFF_BYTES, detect_format, is_gzip, iter_rows
from pipelines.sources.types import IngestOptions, InputPart, SourceError, csv_delimiter, source_name_for

_HASH_CHUNK = 1 << 20
_STRUCTURE = "\n\r\",;\t{}[]"  # the characters that delimit records in every text format


def plan_parts(path: str | Path, fmt: str | None = None, encoding: str = "utf-8",
               part_bytes: int = PART_BYTES) -> list[InputPart]:
    """The parts of ``path``, in file order; one part when the file is small or cannot be cut safely."""
    path = Path(path)
    if not path.is_file():
        raise SourceError(f"{path}: no such file" if not path.exists() else f"{path}: not a regular file")
    try:
        fmt = (fmt or detect_format(path)).lower()
    except SourceError:  # the reader reports it, as a quarantined line 0
        return [InputPart(str(path), fmt or "", digest=_digest(path, [(0, None)]))]
    size = path.stat().st_size
    try:
        if fmt == "parquet":
            return _row_group_parts(path, part_bytes)
        if fmt in ("csv", "tsv", "jsonl") and size > part_bytes and _cuttable(path, encoding):
            return _text_parts(path, fmt, encoding, part_bytes, size)
    except (SourceError, csv.Error, UnicodeError, ValueError):
        pass  # read whole, where the reader reports what is wrong with the file
    return [InputPart(str(path), fmt, digest=_digest(path, [(0, None)]))]


def _cuttable(path: Path, encoding: str) -> bool:
    try:
        codec = codecs.lookup(encoding)
    except LookupError:
        return False
    if codec.name.startswith(("utf-16", "utf-32")) or _STRUCTURE.encode(codec.name, "replace") != _STRUCTURE.encode():
        return False
    with open(path, "rb") as fh:
        head = fh.read(2)
    return head not in (b"\xff\xfe", b"\xfe\xff") and not is_gzip(path)


class _BareCarriageReturn(Exception):
    """The reader splits lines at a lone ``\\r`` and a byte scan does not: such a file is read whole."""


def _text_parts(path: Path, fmt: str, encoding: str, part_bytes: int, size: int) -> list[InputPart]:
    """Cut after the record that crosses each ``part_bytes`` mark, parsing exactly as formats.py reads."""
    position = {"offset": 0, "line": 0}
    cuts: list[tuple[int, int]] = [(0, 1)]
    codec = codecs.lookup(encoding).name
    with open(path, "rb") as fh:
        def lines():
            for raw in fh:
                if raw.count(b"\r") != raw.count(b"\r\n"):
                    raise _BareCarriageReturn
                position["offset"] += len(raw)
                position["line"] += 1
                yield raw.decode(codec, errors="surrogateescape")

        def mark() -> None:  # the reader has just finished a record at the end of a line
            if position["offset"] - cuts[-1][0] >= part_bytes and position["offset"] < size:
                cuts.append((position["offset"], position["line"] + 1))

        try:
            if fmt == "jsonl":
                for _ in lines():
                    mark()
            else:
                source = lines()
                first = next(source, "")
                if len(first) >= SNIFF_BYTES:
                    return [InputPart(str(path), fmt, digest=_digest(path, [(0, None)]))]
                reader = csv.reader(itertools.chain([first], source), delimiter=csv_delimiter(fmt, first))
                next(reader)
                while True:
                    try:
                        next(reader)
                    except StopIteration:
                        break
                    except csv.Error:
                        continue  # the reader quarantines it and carries on; no cut right after an error
                    mark()
        except _BareCarriageReturn:
            return [InputPart(str(path), fmt, digest=_digest(path, [(0, None)]))]
    header_end = None
    if fmt != "jsonl":
        with open(path, "rb") as fh:
            header_end = len(fh.readline())
    parts = []
    for index, (start, line) in enumerate(cuts):
        end = cuts[index + 1][0] if index + 1 < len(cuts) else None
        ranges = [(start, end)] if not start or header_end is None else [(0, header_end), (start, end)]
        parts.append(InputPart(str(path), fmt, index, len(cuts), start, end, line, _digest(path, ranges)))
    return parts


def _row_group_parts(path: Path, part_bytes: int) -> list[InputPart]:
    """Runs of whole row groups of about ``part_bytes`` compressed bytes each."""
    import pyarrow.parquet as pq

    try:
        metadata = pq.ParquetFile(path).metadata
    except Exception as exc:  # pyarrow raises several types for a broken footer
        raise SourceError(str(exc)) from exc
    runs, rows_before = [], 0
    start, start_row, run_bytes = 0, 1, 0
    for group in range(metadata.num_row_groups):
        run_bytes += metadata.row_group(group).total_byte_size
        rows_before += metadata.row_group(group).num_rows
        if run_bytes >= part_bytes or group == metadata.num_row_groups - 1:
            runs.append((start, group + 1, start_row))
            start, start_row, run_bytes = group + 1, rows_before + 1, 0
    if len(runs) <= 1:
        return [InputPart(str(path), "parquet", digest=_digest(path, [(0, None)]))]
    schema = metadata.schema.to_arrow_schema().to_string().encode()
    parts = []
    for index, (first, last, row) in enumerate(runs):
        ranges = [_row_group_bytes(metadata.row_group(g)) for g in range(first, last)]
        parts.append(InputPart(str(path), "parquet", index, len(runs), first, last, row,
                               _digest(path, ranges, prefix=schema)))
    return parts


def _row_group_bytes(group) -> tuple[int, int]:
    starts, ends = [], []
    for i in range(group.num_columns):
        column = group.column(i)
        begin = column.dictionary_page_offset if column.has_dictionary_page else column.data_page_offset
        starts.append(begin)
        ends.append(begin + column.total_compressed_size)
    return min(starts), max(ends)


def _digest(path: Path, ranges: list[tuple[int, int | None]], prefix: bytes = b"") -> str:
    digest = hashlib.sha256(prefix)
    with open(path, "rb") as fh:
        for start, end in ranges:
            fh.seek(start)
            left = None if end is None else end - start
            while left is None or left > 0:
                chunk = fh.read(_HASH_CHUNK if left is None else min(_HASH_CHUNK, left))
                if not chunk:
                    break
                digest.update(chunk)
                if left is not None:
                    left -= len(chunk)
    return digest.hexdigest()


def part_options(parts: list[InputPart], options: IngestOptions) -> list[IngestOptions]:
    """Options per part. Read whole, a file takes its adapter from its first readable row; the parts after the
    one holding that row are given it, so that a later part does not guess another from its own first row."""
    if len(parts) == 1 or options.adapter:
        return [options] * len(parts)
    first = parts[0]
    for row in iter_rows(Path(first.path), first.fmt, options.encoding):
        if row.error is None:
            adapter = detect_adapter(row.fields.keys(), options.column_map)
            holder = next((p.index for p in reversed(parts) if p.first_line <= row.line), 0)
            if adapter is None:
                return [options] * len(parts)
            pinned = replace(options, adapter=adapter.name)
            return [options if p.index <= holder else pinned for p in parts]
    return [options] * len(parts)


def part_key(part: InputPart, options: IngestOptions) -> str:
    """Same bytes, read with the same options by the same unmet: the same records, so the part is not re-read."""
    settings = asdict(options) | {"batch_rows": None, "fmt": part.fmt,
                                  "source_name": options.source_name or source_name_for(Path(part.path))}
    text = json.dumps({"digest": part.digest, "options": settings, "unmet": __version__}, sort_keys=True,
                      default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]
