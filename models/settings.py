"""Every ``UNMET_*`` environment variable, read and validated in one place (pydantic-settings).

``settings()`` reads the environment when called, so a variable set after import (a test, a worker's job
environment) counts; module constants that are derived from it are read once, at import."""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from models.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class UnmetSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="UNMET_", frozen=True)

    db: Path = Path("data/warehouse/unmet.duckdb")  # the warehouse the CLI and flows use by default
    shared_data: Path = PROJECT_ROOT.parent / "shared" / "data"  # labelled data for train, eval and validate
    max_text_chars: int = 20_000  # a longer document is quarantined
    max_row_chars: int = 16 << 20  # one record, any format
    max_json_document_chars: int = 256 << 20  # a JSON document that is not an array of records
    duckdb_memory_limit: str = "1GB"  # DuckDB would otherwise cache up to 80 % of RAM
    dask_address: str | None = None  # the scheduler of runs that name none
    dask_gpu_resource: str | None = None  # the Dask resource of the workers that run the encoder
    torch_threads: int | None = None  # the encoder's torch threads (default: as torch decides)
    cache_dir: Path = Path.home() / ".cache" / "unmet"  # ONNX exports and static token tables
    kill_at: str | None = None  # crash tests: a checkpoint name[:n] at which the process kills itself


def settings() -> UnmetSettings:
    try:
        return UnmetSettings()
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ConfigError(f"UNMET_{'_'.join(map(str, first['loc'])).upper()}: {first['msg']} "
                          f"(got {first.get('input')!r})") from None
