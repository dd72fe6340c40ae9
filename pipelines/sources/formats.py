"""Read feedback files of any supported format as a stream of raw rows with their line numbers.

A file that cannot be read at all raises :class:`SourceError` with a one-line message naming the
file and line; a row that cannot be parsed is yielded with ``error`` set so that it is quarantined.
"""

from __future__ import annotations

import csv
import gzip
import io
import itertools
import json
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from models.settings import settings
from pipelines.sources.adapters import records_from_document
from pipelines.sources.types import InputPart, SourceError, csv_delimiter

FORMATS = ("csv", "tsv", "jsonl", "json", "parquet")
_EXTENSIONS = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl",
               ".json": "json", ".parquet": "parquet", ".pq": "parquet"}
_GZIP_MAGIC = b"\x1f\x8b"
_SPACE = re.compile(r"\s*")
SNIFF_BYTES = 64 * 1024
_RAW_PREVIEW_CHARS = 100_000
_JSON_CHUNK_CHARS = 1 << 20
MAX_ROW_CHARS = settings().max_row_chars          # one record, any format
MAX_JSON_DOCUMENT_CHARS = settings().max_json_document_chars

csv.field_size_limit(MAX_ROW_CHARS)


@dataclass
class RawRow:
    """One record as found in the file, before any interpretation."""

    line: int
    fields: dict | None  # with ``error`` set: whatever could be read, for redaction only
    raw: str
    error: str | None = None


def is_gzip(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(2) == _GZIP_MAGIC


class _SalvagingGunzip(io.RawIOBase):
    """Gunzip that hands out everything decompressible before it reports a truncated or corrupt stream,
    so the rows of a partly downloaded export are kept and only the cut tail is reported."""

    def __init__(self, path: Path):
        self._file = open(path, "rb")  # noqa: SIM115 - closed in close()
        self._inflate = zlib.decompressobj(wbits=31)
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self._pending:
            if self._inflate.eof:  # a member ended: concatenated gzip members continue the stream
                rest = self._inflate.unused_data
                if not rest and not (rest := self._file.read(1 << 16)):
                    return 0
                self._inflate = zlib.decompressobj(wbits=31)
                self._pending = self._inflate.decompress(rest)
                continue
            chunk = self._file.read(1 << 16)
            if not chunk:
                raise EOFError("compressed file ended before the end-of-stream marker (truncated download?)")
            self._pending = self._inflate.decompress(chunk)
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size

    def close(self) -> None:
        self._file.close()
        super().close()


class _ByteRange(io.RawIOBase):
    """Bytes ``start`` to ``end`` (exclusive; None: the end) of an uncompressed file: one part of it."""

    def __init__(self, path: Path, start: int, end: int | None):
        self._file = open(path, "rb")  # noqa: SIM115 - closed in close()
        self._file.seek(start)
        self._left = None if end is None else end - start

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        size = len(buffer) if self._left is None else min(len(buffer), self._left)
        if size <= 0:
            return 0
        read = self._file.readinto(memoryview(buffer)[:size])
        if self._left is not None:
            self._left -= read
        return read

    def close(self) -> None:
        self._file.close()
        super().close()


def _open_binary(path: Path, start: int = 0, end: int | None = None):
    if start or end is not None:
        return io.BufferedReader(_ByteRange(path, start, end))
    return io.BufferedReader(_SalvagingGunzip(path)) if is_gzip(path) else open(path, "rb")


def format_from_extension(path: Path) -> str | None:
    """The format its extension names (``.gz`` stripped), or None."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    return _EXTENSIONS.get(suffixes[-1]) if suffixes else None


def detect_format(path: Path) -> str:
    """Format from the extension (``.gz`` stripped), else from the first bytes of the content."""
    if fmt := format_from_extension(path):
        return fmt
    try:
        head = b""
        with _open_binary(path) as fh:
            while len(head) < SNIFF_BYTES and (chunk := fh.read1(SNIFF_BYTES - len(head))):
                head += chunk
    except (OSError, EOFError, zlib.error) as exc:
        raise SourceError(f"{path}: cannot read file to detect its format ({exc})") from exc
    return sniff_format(head, path)


def sniff_format(head: bytes, path: Path | str = "<input>") -> str:
    if head.startswith(b"PAR1"):
        return "parquet"
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff \t\r\n")
    if not text:
        raise SourceError(f"{path}: file is empty")
    if text.startswith("["):
        return "json"
    if text.startswith("{"):
        first, _, rest = text.partition("\n")
        try:
            json.loads(first)
        except json.JSONDecodeError:
            return "json"
        return "jsonl" if rest.lstrip().startswith("{") or not rest.strip() else "json"
    header = text.partition("\n")[0]
    return "tsv" if header.count("\t") > header.count(",") else "csv"


def iter_rows(path: Path, fmt: str | None = None, encoding: str = "utf-8",
              part: InputPart | None = None) -> Iterator[RawRow]:
    """Yield every record of ``path``, or of one ``part`` of it (see partitions.py), with the line numbers
    they have in the whole file; see the module docstring for how errors surface."""
    path = Path(path)
    if not path.exists():
        raise SourceError(f"{path}: no such file")
    if path.is_dir():
        raise SourceError(f"{path}: is a directory, not a file")
    fmt = (fmt or detect_format(path)).lower()
    if fmt not in FORMATS:
        raise SourceError(f"{path}: unknown format {fmt!r} (choose from {', '.join(FORMATS)})")
    readers = {"csv": _iter_delimited, "tsv": _iter_delimited, "jsonl": _iter_jsonl,
               "json": _iter_json, "parquet": _iter_parquet}
    try:
        yield from readers[fmt](path, fmt, encoding, part)
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise SourceError(f"{path}: compressed stream is corrupt or truncated ({exc})") from exc


def _text_stream(path: Path, encoding: str, start: int = 0, end: int | None = None):
    # surrogateescape keeps undecodable bytes visible, so the affected rows (not the file) fail.
    enc = "utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding
    if enc == "utf-8-sig":
        with _open_binary(path) as fh:
            bom = fh.read(2)
        if bom in (b"\xff\xfe", b"\xfe\xff"):  # Excel's "Unicode text" export is UTF-16 with a BOM
            enc = "utf-16"
    return io.TextIOWrapper(_open_binary(path, start, end), encoding=enc, errors="surrogateescape", newline="")


_UNDECODABLE = re.compile("[\udc80-\udcff]")  # where surrogateescape put bytes the encoding rejected


def has_undecodable(text: str) -> bool:
    return _UNDECODABLE.search(text) is not None


def printable_raw(text: str) -> str:
    """Raw payload text safe to store: undecodable bytes become backslash escapes."""
    return text.encode("utf-8", errors="surrogateescape").decode("utf-8", errors="backslashreplace")[
        :_RAW_PREVIEW_CHARS
    ]


def _iter_delimited(path: Path, fmt: str, encoding: str, part: InputPart | None) -> Iterator[RawRow]:
    start, end = (part.start, part.end) if part else (0, None)
    with _text_stream(path, encoding, start, end) as fh:
        line_offset = 0
        if start:  # a later part: the header is the file's first line, the part's lines keep their numbers
            with _text_stream(path, encoding) as head:
                first_line = head.readline(SNIFF_BYTES)
            lines = itertools.chain([first_line], fh)
            line_offset = part.first_line - 2
        else:
            first_line = fh.readline(SNIFF_BYTES)
            lines = itertools.chain([first_line], fh)  # no seek back: a compressed stream may not allow it
        delimiter = csv_delimiter(fmt, first_line)
        reader = csv.reader(lines, delimiter=delimiter)
        try:
            header = next(reader)
        except StopIteration:
            raise SourceError(f"{path}: file is empty (no header row)") from None
        except csv.Error as exc:
            raise SourceError(f"{path}:1: cannot parse header ({exc})") from exc
        header = [h.strip().lstrip("\ufeff") for h in header]
        if not any(header):
            raise SourceError(f"{path}:1: header row is empty")
        while True:
            line = reader.line_num + 1 + line_offset
            try:
                values = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield RawRow(line, None, "", f"malformed CSV row ({exc})")
                continue
            if not values or (len(values) == 1 and not values[0].strip()):
                continue  # blank line: not a record
            raw = printable_raw(delimiter.join(values))
            if len(values) != len(header):  # fields kept by position, so author columns can still be masked
                partial = dict(zip(header, values, strict=False)) | {"_extra_fields": values[len(header):]}
                yield RawRow(line, partial, raw, f"expected {len(header)} fields, found {len(values)}")
                continue
            if any(has_undecodable(v) for v in values):
                yield RawRow(line, None, raw, f"undecodable bytes (not valid {encoding})")
                continue
            yield RawRow(line, dict(zip(header, values, strict=True)), raw)


def _iter_jsonl(path: Path, fmt: str, encoding: str, part: InputPart | None) -> Iterator[RawRow]:
    with _text_stream(path, encoding, *((part.start, part.end) if part else (0, None))) as fh:
        number = part.first_line - 1 if part else 0
        while line := fh.readline(MAX_ROW_CHARS + 1):
            number += 1
            if len(line) > MAX_ROW_CHARS and not line.endswith("\n"):
                while (rest := fh.readline(MAX_ROW_CHARS)) and not rest.endswith("\n"):
                    pass  # skip the rest of the oversized line without holding it
                yield RawRow(number, None, printable_raw(line[:1000]), f"row larger than {MAX_ROW_CHARS} characters")
                continue
            if not line.strip():
                continue
            raw = printable_raw(line.rstrip("\r\n"))
            if has_undecodable(line):
                yield RawRow(number, None, raw, f"undecodable bytes (not valid {encoding})")
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                yield RawRow(number, None, raw, f"invalid JSON ({exc.msg} at column {exc.colno})")
                continue
            if not isinstance(value, dict):
                yield RawRow(number, None, raw, f"expected a JSON object, found {type(value).__name__}")
                continue
            yield RawRow(number, value, raw)


def _iter_json(path: Path, fmt: str, encoding: str, part: InputPart | None) -> Iterator[RawRow]:
    """A top-level array is streamed element by element; other shapes (API responses) are loaded whole.
    A JSON document is never split into parts: ``part`` is always the whole file."""
    with _text_stream(path, encoding) as fh:
        head = fh.read(_JSON_CHUNK_CHARS)
        if head.lstrip().startswith("["):
            yield from _stream_json_array(path, fh, head, encoding)
            return
        text = head + fh.read(MAX_JSON_DOCUMENT_CHARS + 1 - len(head))
        if len(text) > MAX_JSON_DOCUMENT_CHARS:
            raise SourceError(f"{path}: JSON document over {MAX_JSON_DOCUMENT_CHARS} characters that is not a "
                              f"top-level array; export it as JSON Lines (one object per line) to stream it")
    if has_undecodable(text):
        raise SourceError(f"{path}: undecodable bytes (not valid {encoding}); a JSON document must decode whole")
    if not text.strip():
        raise SourceError(f"{path}: file is empty")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SourceError(f"{path}:{exc.lineno}: invalid JSON ({exc.msg} at column {exc.colno})") from exc
    records = records_from_document(document)
    if records is None:
        raise SourceError(
            f"{path}:1: unrecognized JSON shape (expected an array of objects, a Twitter API "
            f"response with 'data', or a Reddit listing)"
        )
    for number, value in enumerate(records, start=1):
        yield _json_row(number, value)


def _json_row(number: int, value) -> RawRow:
    raw = printable_raw(json.dumps(value, ensure_ascii=False, default=str))
    if not isinstance(value, dict):
        return RawRow(number, None, raw, f"expected a JSON object, found {type(value).__name__}")
    return RawRow(number, value, raw)


def _stream_json_array(path: Path, fh, buffer: str, encoding: str) -> Iterator[RawRow]:
    """Decode ``[obj, obj, ...]`` one element at a time, holding one element (and one chunk) in memory.

    A trailing comma before ``]`` is tolerated; anything else malformed ends the file with a
    :class:`SourceError` naming the line, after the elements before it were yielded.
    """
    decoder = json.JSONDecoder()
    line, pos, eof, number = 1, buffer.index("[") + 1, False, 0

    def advance(to: int) -> None:
        nonlocal line, pos
        line += buffer.count("\n", pos, to)
        pos = to

    def refill() -> bool:
        nonlocal buffer, pos, eof
        if eof:
            return False
        chunk = fh.read(max(_JSON_CHUNK_CHARS, len(buffer) - pos))
        eof = not chunk
        buffer, pos = buffer[pos:] + chunk, 0
        return bool(chunk)

    def skip_space() -> str | None:
        while True:
            advance(_SPACE.match(buffer, pos).end())
            if pos < len(buffer):
                return buffer[pos]
            if not refill():
                return None

    expect_value = True
    while True:
        ch = skip_space()
        if ch is None:
            raise SourceError(f"{path}:{line}: JSON array is truncated (no closing ']'); "
                              f"the {number} element(s) before it were read")
        if ch == "]":
            return
        if not expect_value:
            if ch != ",":
                raise SourceError(f"{path}:{line}: invalid JSON (expected ',' or ']' between array elements)")
            advance(pos + 1)
            expect_value = True
            continue
        while True:
            try:
                value, end = decoder.raw_decode(buffer, pos)
                break
            except json.JSONDecodeError as exc:
                if len(buffer) - pos > MAX_ROW_CHARS or not refill():
                    where = line + buffer.count("\n", pos, exc.pos)
                    raise SourceError(f"{path}:{where}: invalid JSON ({exc.msg}) in array element {number + 1}"
                                      ) from None
        number += 1
        element = buffer[pos:end]
        advance(end)
        if has_undecodable(element):
            yield RawRow(number, None, printable_raw(element), f"undecodable bytes (not valid {encoding})")
        else:
            yield _json_row(number, value)
        expect_value = False


def _iter_parquet(path: Path, fmt: str, encoding: str, part: InputPart | None) -> Iterator[RawRow]:
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises several types for a broken footer
        raise SourceError(f"{path}: not a readable Parquet file ({exc})") from exc
    number, row_groups = 0, None
    if part and part.count > 1:  # a run of row groups; rows keep the numbers they have in the whole file
        number, row_groups = part.first_line - 1, range(part.start, part.end)
    for batch in parquet.iter_batches(batch_size=10_000, row_groups=row_groups):
        for value in batch.to_pylist():
            number += 1
            yield RawRow(number, value, printable_raw(json.dumps(value, ensure_ascii=False, default=str)))
