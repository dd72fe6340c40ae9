"""analyze_feedback: label every document not yet analysed by the current model versions.

Pending documents are read in partitions of at most ``batch_documents``, evened out (see ``partition_size``) and
of about equal text length (see ``pending_chunks``); each partition is analysed by a task that runs wherever the
flow's task runner puts it (this process by default, a Dask worker with ``dask_address``) and returns Arrow
tables; only this flow's process writes them to DuckDB.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

from prefect import flow, task
from prefect.cache_policies import NONE

from models.analyzer import AnalysisBatch, Analyzer, Decisions, Segmented, assemble, segment
from models.segment import Segmenter
from pipelines.config import CPU_RESOURCE, DEFAULT_DB_PATH
from pipelines.flows.params import ClusterParams, ModelParams
from pipelines.flows.results import AnalyzeResult
from pipelines.flows.runners import dask_resources, on_runner, require_resources, take_result
from pipelines.storage.analysis import pending_chunks, pending_count, write_analysis
from pipelines.storage.runs import recorded_run

log = logging.getLogger("unmet.analyze")


@dataclass(frozen=True)
class ModelSettings:
    """What a partition task needs to load the same models in another process or thread: the user's model
    choices and ``threads``, the encoder's CPU threads (None: every core), set when several partitions run at
    once in one process. Hashable: it keys the pool of loaded models."""

    params: ModelParams = ModelParams()
    threads: int | None = None


_idle: dict[object, list] = {}
_idle_lock = threading.Lock()


@contextlib.contextmanager
def _checked_out(key, build) -> Iterator:
    """A model object no other thread is using: tokenizers and spaCy pipelines must not be shared by threads
    that run at once. Objects are kept for the life of the process, so models load once per concurrent task."""
    with _idle_lock:
        loaded = _idle[key].pop() if _idle.get(key) else None
    loaded = loaded if loaded is not None else build()
    try:
        yield loaded
    finally:
        with _idle_lock:
            _idle.setdefault(key, []).append(loaded)


def checked_out(models: ModelSettings):
    """An analyzer (every model) for this task alone; see ``_checked_out``."""
    from models.hf_head import parse_label_map

    chosen = models.params
    return _checked_out(models, lambda: Analyzer(
        encoder=chosen.encoder, spacy_model=chosen.spacy_model, device=chosen.device,
        sentiment_head=chosen.sentiment_head, sentiment_labels=parse_label_map(chosen.sentiment_labels),
        encoder_backend=chosen.encoder_backend, precision=chosen.precision, threads=models.threads,
        aspect_term_head=chosen.aspect_term_head))


def segmenter_checked_out(spacy_model: str | None):
    """The splitter and aspect parser alone, for the routed CPU stages; see ``_checked_out``."""
    return _checked_out(("segmenter", spacy_model), lambda: Segmenter(spacy_model))


@task(cache_policy=NONE)
def model_versions(models: ModelSettings) -> tuple[str, dict]:
    """The analysis version and the model versions behind it, from models loaded where partitions run."""
    with checked_out(models) as analyzer:
        return analyzer.version, dict(analyzer.versions)


@task(cache_policy=NONE, retries=2, retry_delay_seconds=5)
def analyze_partition(models: ModelSettings, feedback_ids: list[str], texts: list[str],
                      languages: list[str]) -> AnalysisBatch:
    """One partition of pending documents → Arrow tables."""
    with checked_out(models) as analyzer:
        return analyzer.analyze(feedback_ids, texts, languages)


@task(cache_policy=NONE, retries=2, retry_delay_seconds=5)
def segment_partition(spacy_model: str | None, feedback_ids: list[str], texts: list[str],
                      languages: list[str]) -> Segmented:
    """Routed stage 1 (a CPU worker): documents → sentences."""
    with segmenter_checked_out(spacy_model) as segmenter:
        return segment(segmenter, feedback_ids, texts, languages)


@task(cache_policy=NONE, retries=2, retry_delay_seconds=5)
def decide_partition(models: ModelSettings, segmented: Segmented) -> Decisions:
    """Routed stage 2 (a GPU worker): the encoder pass and every head."""
    with checked_out(models) as analyzer:
        return analyzer.decide(segmented.sentence_texts)


@task(cache_policy=NONE, retries=2, retry_delay_seconds=5)
def assemble_partition(spacy_model: str | None, segmented: Segmented, decisions: Decisions) -> AnalysisBatch:
    """Routed stage 3 (a CPU worker): aspects of the need sentences, and the Arrow tables."""
    with segmenter_checked_out(spacy_model) as segmenter:
        return assemble(segmenter, segmented, decisions)


def encoder_threads(partitions_in_flight: int) -> int | None:
    """Partitions running at once in this process share its cores: each encoder gets its share, so the CPU work
    around one partition's encoder pass (splitting, parsing, tables) overlaps another's. On Dask, None: the
    worker's own thread count applies."""
    from prefect.context import FlowRunContext

    if getattr(FlowRunContext.get().task_runner, "client", None) is not None:
        return None
    return share_of_cores(partitions_in_flight)


def share_of_cores(partitions_in_flight: int) -> int | None:
    """Encoder threads for each of the partitions in flight in this process (None: one partition, all cores)."""
    return max(1, (os.cpu_count() or 1) // partitions_in_flight) if partitions_in_flight > 1 else None


def preload(models: ModelSettings, count: int) -> threading.Thread:
    """Load ``count`` analyzers in a background thread into the pool ``checked_out`` draws from, so that loading
    overlaps what the caller does meanwhile (the pipeline: ingest, which keeps one core busy). Join it before
    analysing, or analysis loads its own copies."""

    def load() -> None:
        try:
            with contextlib.ExitStack() as loaded:
                for _ in range(count):
                    loaded.enter_context(checked_out(models))
        except Exception as exc:  # the analyze flow loads them again and reports the error where it belongs
            log.warning("preloading models failed (%s): they load when analysis starts", exc)

    thread = threading.Thread(target=load, name="unmet-preload-models", daemon=True)
    thread.start()
    return thread


def submit_partition(models: ModelSettings, chunk: dict, gpu_resource: str | None):
    """One task on whichever worker is free; or, routed, three: only the encoder stage needs ``gpu_resource``,
    the CPU stages need ``CPU_RESOURCE``, so the GPU is never busy splitting or parsing."""
    arguments = (chunk["feedback_id"], chunk["text"], chunk["language"])
    if not gpu_resource:
        return analyze_partition.submit(models, *arguments)
    with dask_resources(CPU_RESOURCE):
        segmented = segment_partition.submit(models.params.spacy_model, *arguments)
    with dask_resources(gpu_resource):
        decisions = decide_partition.submit(models, segmented)
    with dask_resources(CPU_RESOURCE):
        return assemble_partition.submit(models.params.spacy_model, segmented, decisions)


def analyze_with(dask_address: str | None = None, dask_workers: int = 2):
    """The analyze flow, on the task runner that ``dask_address`` names (see runners.py)."""
    return on_runner(analyze_feedback, dask_address, dask_workers)


def partition_size(pending: int, batch_documents: int, partitions_in_flight: int) -> int:
    """At most ``batch_documents`` per partition, and a partition count that is a multiple of the partitions in
    flight, so the last round keeps every slot busy instead of leaving one partition on a share of the cores
    while the rest idle. Measured on 2 cores, 3,000 documents, two in flight: 3 × 1,000 ran at 0.81–0.84× the
    encoder alone, 4 × 750 at 1.04–1.08×."""
    slots = max(partitions_in_flight, 1)
    rounds = max(1, math.ceil(pending / (batch_documents * slots)))
    return max(1, math.ceil(pending / (rounds * slots)))


@flow(name="analyze_feedback", log_prints=True)
def analyze_feedback(db_path: str = str(DEFAULT_DB_PATH), models: ModelParams = ModelParams(),
                     cluster: ClusterParams = ClusterParams(), wait_s: float = 60.0) -> AnalyzeResult:
    """Segment, encode once, run every head; each partition is written in one transaction.

    ``cluster.in_flight()`` partitions are submitted before the oldest is awaited and written: about twice
    the number of workers on a Dask task runner; in one process, that many threads share the cores (each
    with its own models, see ``encoder_threads``). Partitions are written in the order they were read, so
    the warehouse is the same however many workers or threads ran them.

    ``models.sentiment_head`` may be a head directory or ``hf:<model id or path>`` (see models/hf_head.py).
    ``models.encoder_backend`` and ``models.precision`` choose how the encoder runs (see models/encoder.py).
    ``models.aspect_term_head``: an aspect-term tagger directory, or ``"parser"`` for the parse rules.
    ``cluster.gpu_resource`` (e.g. ``"GPU"``, with a Dask runner) routes each partition's encoder stage to workers that
    declare that resource and its splitting and parsing to workers that declare ``CPU``.
    """
    partitions_in_flight, gpu_resource, batch_documents = (cluster.in_flight(), cluster.gpu_resource,
                                                           cluster.batch_documents)
    parameters = {"models": models.model_dump(), "cluster": cluster.model_dump()}
    with recorded_run(db_path, "analyze_feedback", parameters, wait_s) as run:
        con = run.con
        if gpu_resource:
            require_resources([gpu_resource, CPU_RESOURCE])
        settings = ModelSettings(models, threads=encoder_threads(partitions_in_flight))
        started = time.perf_counter()
        with dask_resources(gpu_resource):  # loaded where partitions (or their encoder stage) run
            version, versions = model_versions.submit(settings).result()
        load_s = time.perf_counter() - started
        total, characters = pending_count(con, version)
        documents, sentences, needs, partitions = 0, 0, 0, 0
        size = partition_size(total, batch_documents, partitions_in_flight)
        planned = math.ceil(total / size)
        log.info("%d documents to analyse with models %s, in %d partitions of about %d documents (equal shares of "
                 "the text)", total, version, planned, size)
        pending = deque()

        def write_oldest() -> None:
            nonlocal documents, sentences, needs
            batch = take_result(pending.popleft())
            write_analysis(con, run.run_id, batch)
            documents += batch.documents.num_rows
            sentences += batch.sentences.num_rows
            needs += sum(kind != "none" for kind in batch.sentences.column("need_kind").to_pylist())
            log.info("analysed %d/%d documents (%d%%), %d sentences", documents, total,
                     100 * documents // max(total, 1), sentences)

        for chunk in pending_chunks(con, version, batch_documents, planned, total, characters):
            pending.append(submit_partition(settings, chunk, gpu_resource))
            partitions += 1
            if len(pending) >= max(partitions_in_flight, 1):
                write_oldest()
        while pending:
            write_oldest()
        elapsed = time.perf_counter() - started
        counts = {"documents": documents, "sentences": sentences, "need_mentions": needs}
        run.complete(counts=counts, model_versions=versions,
                     timings={"load_models_s": round(load_s, 3), "analyze_s": round(elapsed - load_s, 3),
                              "partitions": partitions, "partition_documents": size,
                              "sentences_per_s": round(sentences / max(elapsed - load_s, 1e-9), 1)})
    return AnalyzeResult(run_id=run.run_id, analysis_version=version, **counts)
