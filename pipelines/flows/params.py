"""The flows' parameters, grouped the Prefect way: one frozen pydantic model per concern. Prefect validates them
before a run starts and renders each group as a form in the UI; the CLI builds the same objects; run records
store ``model_dump()``, so what is recorded is what was run."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from models.errors import ConfigError
from models.options import BACKENDS, PRECISIONS
from pipelines.config import PART_BYTES
from pipelines.sources.formats import FORMATS

Backend = Literal[BACKENDS]  # type: ignore[valid-type]
Precision = Literal[PRECISIONS]  # type: ignore[valid-type]
Format = Literal[FORMATS]  # type: ignore[valid-type]


class _Params(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def checked(group: type[_Params], **values) -> _Params:
    """``group(**values)``, a value that fails validation being a user error that names the option."""
    try:
        return group(**values)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(map(str, first["loc"]))
        raise ConfigError(f"{group.__name__}.{where}: {first['msg']} (got {first.get('input')!r})") from None


class IngestParams(_Params):
    """How files are read: format, adapter, column and segment mappings, batching and redaction."""

    source_kind: Literal["review", "social"] | None = Field(None, description="default: from the detected adapter")
    source_name: str | None = Field(None, description="default: the file name without extensions")
    fmt: Format | None = Field(None, description="default: detected from the extension and content")
    adapter: str | None = Field(None, description="amazon, datafiniti, twitter_v2, tweet_csv, reddit, app_store, "
                                                  "generic; default: detected from the columns")
    column_map: dict[str, str] = Field(default_factory=dict, description="field → column, e.g. text → Body")
    segment_map: dict[str, str] = Field(default_factory=dict,
                                        description="segment name → column, ranked per value like product")
    date_format: str | None = Field(None, description="strptime format of the date column")
    encoding: str = "utf-8"
    batch_rows: int = Field(5000, gt=0, description="rows per transaction")
    redact_handles: bool = Field(True, description="mask @handles in every text (reviews too)")
    part_bytes: int = Field(PART_BYTES, gt=0, description="files are read in parts of about this size")
    reread: bool = Field(False, description="read parts again that were ingested with the same options")


class ModelParams(_Params):
    """Which models analyse the text; hashable, so it keys the pool of loaded models."""

    encoder: str | None = Field(None, description="HF model id or path (default: the packaged MiniLM)")
    spacy_model: str | None = None
    device: str | None = Field(None, description="cpu or cuda (default: cuda when available)")
    sentiment_head: str | None = Field(None, description="head directory, or hf:MODEL for a HF classifier")
    sentiment_labels: str | None = Field(None, description="label map of an hf: head, e.g. LABEL_0=negative,…")
    encoder_backend: Backend = "auto"
    precision: Precision = "fp32"
    aspect_term_head: str | None = Field(None, description="tagger directory, or 'parser' for the parse rules")


class RankParams(_Params):
    """How themes are fitted and needs ranked."""

    n_bootstrap: int = Field(300, ge=0, description="resamples behind each score's 95 % interval")
    seed: int = 0
    refit: bool = Field(False, description="cluster every mention afresh (ids are mapped from the last fit)")
    period: Literal["auto", "day", "week", "month"] = "auto"
    min_segment_mentions: int = Field(30, ge=1, description="a segment value is ranked from this many mentions")


class ClusterParams(_Params):
    """Where and how widely the work runs: in this process, or on a Dask cluster."""

    dask_address: str | None = Field(None, description="scheduler address, or 'local' (default: "
                                                        "$UNMET_DASK_ADDRESS, else in this process)")
    dask_workers: int = Field(2, gt=0, description="workers of a local cluster; the cluster's size otherwise")
    partitions_in_flight: int | None = Field(None, gt=0, description="default: twice the workers (2 without Dask)")
    gpu_resource: str | None = Field(None, description="Dask resource of the GPU workers that run the encoder "
                                                       "(default: $UNMET_DASK_GPU_RESOURCE)")
    batch_documents: int = Field(1000, gt=0, description="documents per analysis partition, at most")

    def in_flight(self) -> int:
        return self.partitions_in_flight or 2 * (self.dask_workers if self.dask_address else 1)
