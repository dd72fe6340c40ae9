"""File checksums, so that a swapped or tampered model file fails loudly instead of mispredicting."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

from models.errors import UnmetError


class IntegrityError(UnmetError):
    """A model file does not match its recorded checksum."""


_digests: dict[tuple, str] = {}
_SETTLED_NS = 2_000_000_000


def sha256_file(path: Path) -> str:
    """The file's sha256, hashed once per process while it stays the same file: each analyzer a process loads
    checks the same model files (0.19 s a time). A digest is kept only for a file last changed over 2 s before:
    any later write or swap then moves its ctime (which no program can set back) past the one kept, even with
    the coarse clock file times use, so the file is hashed again."""
    stat = Path(path).stat()
    key = (str(Path(path).resolve()), stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)
    if key in _digests:
        return _digests[key]
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    hexdigest = digest.hexdigest()
    if time.time_ns() - stat.st_ctime_ns > _SETTLED_NS:
        _digests[key] = hexdigest
    return hexdigest


def verify_files(root: Path, expected: dict[str, str], what: str) -> None:
    for relative, checksum in expected.items():
        path = root / relative
        if not path.is_file():
            raise IntegrityError(f"{what}: {path} is missing")
        actual = sha256_file(path)
        if actual != checksum:
            raise IntegrityError(f"{what}: {path} has sha256 {actual[:12]}…, expected {checksum[:12]}… (tampered?)")


def cached_file(target: Path, make) -> Path:
    """``target``, made by ``make()`` unless it exists and matches the sha256 written beside it when it was made.

    For files derived from the models on first use (ONNX exports, the static token table): a partial or
    corrupted file is made again, never used.
    """
    sidecar = target.with_name(target.name + ".sha256")
    if target.exists() and sidecar.exists() and sha256_file(target) == sidecar.read_text().strip():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    make()
    sidecar.write_text(sha256_file(target))
    return target
