"""File checksums, so that a swapped or tampered model file fails loudly instead of mispredicting."""

from __future__ import annotations

import hashlib
from pathlib import Path


class IntegrityError(Exception):
    """A model file does not match its recorded checksum."""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


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
