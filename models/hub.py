"""Loading Hugging Face components by id or path, with a user error that says what failed to load."""

from __future__ import annotations

from models.errors import NotFoundError


def load_pretrained(kind, source: str, what: str):
    """``kind.from_pretrained(source)``; a hub id that cannot be reached offline, or a folder without the model's
    files, is a user error that names what was being loaded."""
    try:
        return kind.from_pretrained(source)
    except OSError as exc:
        raise NotFoundError(f"cannot load the {what} {source!r} (a Hugging Face id needs the internet or a local "
                            f"cache; a path needs the model's files): {exc}") from exc
