"""Paths and defaults shared by the CLI, the flows and the training command."""

from __future__ import annotations

import os

from models.settings import settings

DEFAULT_DB_PATH = settings().db
DEFAULT_SHARED_DATA = settings().shared_data
MAX_TEXT_CHARS = settings().max_text_chars
CPU_RESOURCE = "CPU"  # the Dask resource CPU workers declare when the encoder stage is routed to GPU workers
PART_BYTES = 32 << 20  # input files are read in parts of about this size: a few hundred MB normalised


def quiet_prefect_defaults() -> None:
    """Keep Prefect offline and quiet unless the user configured it otherwise."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_UI_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "CRITICAL")  # our CLI reports errors itself
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # A fresh install compiles Prefect's modules on first start: the default 20 s can run out.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
