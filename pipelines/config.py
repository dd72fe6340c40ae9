"""Paths and defaults shared by the CLI, the flows and the training command."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB_PATH = Path(os.environ.get("UNMET_DB", "data/warehouse/unmet.duckdb"))
DEFAULT_SHARED_DATA = Path(os.environ.get("UNMET_SHARED_DATA", PROJECT_ROOT.parent / "shared" / "data"))
MAX_TEXT_CHARS = int(os.environ.get("UNMET_MAX_TEXT_CHARS", "20000"))
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
