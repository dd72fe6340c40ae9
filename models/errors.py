"""One base for the errors unmet raises for its user: the CLI prints their message in one line and exits 2, while
any other exception is a bug and keeps its traceback. The subclasses also derive from the built-in error they
refine, so ``except ValueError`` or ``except FileNotFoundError`` around library calls keeps working."""

from __future__ import annotations


class UnmetError(Exception):
    """Something the user can fix: a setting, an input, a missing model, a busy warehouse."""


class ConfigError(UnmetError, ValueError):
    """An option, setting or combination of components that cannot work as given."""


class DataError(UnmetError, ValueError):
    """Labelled data that does not read as its format says."""


class NotFoundError(UnmetError, FileNotFoundError):
    """A model, data set or file that is not where it was looked for."""


class AlreadyExistsError(UnmetError, FileExistsError):
    """An output that exists already and is never overwritten (a model version)."""
